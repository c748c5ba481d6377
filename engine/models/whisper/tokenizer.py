"""Whisper's tokenizer on top of the `tokenizers` library (reads the checkpoint's tokenizer.json).

Special-token ids are looked up by name in the vocabulary, never assumed; timestamp tokens
follow ``<|notimestamps|>`` (they are not in tokenizer.json): ``timestamp_begin + i`` stands for
``i * 0.02`` seconds.
"""

from __future__ import annotations

import copy
import string
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from engine.models.common.errors import CheckpointError

# openai/whisper's language table, in vocabulary order (the first 99; yue is the 100th in v3).
LANGUAGES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian",
    "kn": "kannada", "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque",
    "is": "icelandic", "hy": "armenian", "ne": "nepali", "mn": "mongolian", "bs": "bosnian",
    "kk": "kazakh", "sq": "albanian", "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi",
    "si": "sinhala", "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek", "fo": "faroese",
    "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
TO_LANGUAGE_CODE = {name: code for code, name in LANGUAGES.items()}

TIME_PRECISION = 0.02  # seconds per timestamp token


class WhisperTokenizer:
    def __init__(self, tokenizer: Tokenizer, multilingual: bool, num_languages: int = 99,
                 language: str | None = None, task: str = "transcribe") -> None:
        self.tokenizer = tokenizer
        self.multilingual = multilingual
        self.num_languages = num_languages
        self.language = (language or "en") if multilingual else "en"
        self.task = task
        self.sot = self._special("<|startoftranscript|>")
        self.eot = self._special("<|endoftext|>")
        self.no_timestamps = self._special("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1
        self.sot_prev = self._special("<|startofprev|>")
        self.sot_lm = self._special("<|startoflm|>")
        self.transcribe = self._special("<|transcribe|>")
        self.translate = self._special("<|translate|>")
        nospeech = tokenizer.token_to_id("<|nospeech|>")
        self.no_speech = nospeech if nospeech is not None else self._special("<|nocaptions|>")

    @classmethod
    def from_file(cls, path: Path | str, multilingual: bool, num_languages: int = 99,
                  language: str | None = None, task: str = "transcribe") -> "WhisperTokenizer":
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the Rust side raises a plain Exception
            raise CheckpointError(f"cannot read the tokenizer {path}: {exc}") from exc
        return cls(tok, multilingual, num_languages, language, task)

    def for_task(self, language: str | None, task: str = "transcribe") -> "WhisperTokenizer":
        """A view of this tokenizer fixed to one language and task, for one transcription.

        Shares the vocabulary and the computed token tables (cheap); the tokenizer a pipeline
        keeps between jobs is never changed, so concurrent or successive jobs with different
        languages and tasks cannot see each other's."""
        if task not in ("transcribe", "translate"):
            raise ValueError(f"unknown task {task!r}: expected transcribe or translate")
        if language is not None and self.multilingual:
            self.language_token(language)  # unknown languages fail here, with the code in the message
        _ = self.non_speech_tokens, self.all_language_tokens  # computed once, on the shared tokenizer
        view = copy.copy(self)
        code = TO_LANGUAGE_CODE.get(language.lower(), language.lower()) if language else "en"
        view.language = code if self.multilingual else "en"
        view.task = task
        return view

    def _special(self, text: str) -> int:
        token = self.tokenizer.token_to_id(text)
        if token is None:
            raise CheckpointError(f"the tokenizer has no {text} token: it is not a Whisper tokenizer")
        return token

    # -- languages ---------------------------------------------------------------------------
    @cached_property
    def all_language_codes(self) -> list[str]:
        if not self.multilingual:
            return []
        return list(LANGUAGES)[: self.num_languages]

    @cached_property
    def all_language_tokens(self) -> list[int]:
        return [self._special(f"<|{code}|>") for code in self.all_language_codes]

    def language_token(self, code: str) -> int:
        code = TO_LANGUAGE_CODE.get(code.lower(), code.lower())
        token = self.tokenizer.token_to_id(f"<|{code}|>")
        if token is None or code not in LANGUAGES:
            raise ValueError(f"unknown language {code!r}")
        return token

    def sot_sequence(self, language: str | None = None, task: str | None = None) -> list[int]:
        """<|startoftranscript|> [language] [task] — English-only models take just the first."""
        if not self.multilingual:
            return [self.sot]
        seq = [self.sot, self.language_token(language or self.language)]
        seq.append(self.translate if (task or self.task) == "translate" else self.transcribe)
        return seq

    # -- text --------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, tokens: list[int]) -> str:
        """Text of the ordinary tokens (timestamps and special tokens dropped)."""
        return self.tokenizer.decode([t for t in tokens if t < self.eot])

    def decode_with_timestamps(self, tokens: list[int]) -> str:
        """Text with timestamps written as <|1.08|>."""
        out: list[str] = []
        run: list[int] = []
        for t in tokens:
            if t >= self.timestamp_begin:
                if run:
                    out.append(self.tokenizer.decode(run))
                    run = []
                out.append(f"<|{(t - self.timestamp_begin) * TIME_PRECISION:.2f}|>")
            elif t < self.eot:
                run.append(t)
        if run:
            out.append(self.tokenizer.decode(run))
        return "".join(out)

    @cached_property
    def non_speech_tokens(self) -> list[int]:
        """Tokens of symbols that are not speech (♪, brackets, ...) — suppressed by default."""
        symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
        symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split()
        miscellaneous = set("♩♪♫♬♭♮♯")
        result = {self.encode(" -")[0], self.encode(" '")[0]}
        for symbol in symbols + list(miscellaneous):
            for tokens in (self.encode(symbol), self.encode(" " + symbol)):
                if len(tokens) == 1 or symbol in miscellaneous:
                    result.add(tokens[0])
        return sorted(result)

    def split_to_word_tokens(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Words and their tokens: at unicode boundaries for languages without spaces."""
        if self.language in {"zh", "ja", "th", "lo", "my", "yue"}:
            return self._split_unicode(tokens)
        return self._split_spaces(tokens)

    def _split_unicode(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        words: list[str] = []
        word_tokens: list[list[int]] = []
        current: list[int] = []
        full = self.decode_with_timestamps(tokens)
        offset = 0
        for token in tokens:
            current.append(token)
            decoded = self.decode_with_timestamps(current)
            if "\ufffd" not in decoded or full[offset + decoded.index("\ufffd")] == "\ufffd":
                words.append(decoded)
                word_tokens.append(current)
                current = []
                offset += len(decoded)
        return words, word_tokens

    def _split_spaces(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        subwords, subword_tokens = self._split_unicode(tokens)
        words: list[str] = []
        word_tokens: list[list[int]] = []
        for subword, toks in zip(subwords, subword_tokens):
            special = toks[0] >= self.eot
            with_space = subword.startswith(" ")
            punctuation = subword.strip() in string.punctuation
            if special or with_space or punctuation or not words:
                words.append(subword)
                word_tokens.append(list(toks))
            else:
                words[-1] += subword
                word_tokens[-1].extend(toks)
        return words, word_tokens
