"""Reads a prompt such as "a lively jig in D major, 16 bars, fiddle" into complete Controls.

Rules, not a model, so the same words always mean the same piece; and it never guesses
silently: what the words leave open is the style's default (a chip not in ``said``), every other
decision is a notice, and every word it did not use is listed in ``ignored``. When a control is
named twice the first wins, and the loser's words count as ignored.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from engine.midi.instruments import find_program, program_name
from engine.models.composer.controls import MAX_BPM, MAX_VOICES, MIN_BPM, STYLES, TONICS, Controls, Key

STOP_WORDS = frozenset("a an the in with for and of on at to by piece pieces tune tunes play played please "
                       "me some write compose make instrument".split())
CUES = frozenset({"for", "on", "instrument"})  # an unknown word after one of these was meant as an instrument
ARTICLES = frozenset({"a", "an", "the"})

# phrase -> (style, the meter the phrase implies or None, plural for the notice when the style is a stand-in)
STYLE_WORDS: dict[str, tuple[str, tuple[int, int] | None, str | None]] = {
    **{w: ("reel", None, None) for w in ("reel", "reels")},
    **{w: ("jig", None, None) for w in ("jig", "jigs", "double jig", "double jigs", "slide", "slides")},
    **{w: ("slip jig", None, None) for w in ("slip jig", "slip jigs", "slipjig", "slipjigs")},
    **{w: ("hornpipe", None, None) for w in ("hornpipe", "hornpipes", "clog", "clogs")},
    **{w: ("strathspey", None, None) for w in ("strathspey", "strathspeys", "fling", "highland fling")},
    **{w: ("air", None, None) for w in ("air", "airs", "slow air", "slow airs", "lament", "laments")},
    **{w: ("folk song", None, None) for w in ("folk song", "folk songs", "folksong", "folksongs", "folk", "lied",
                                              "lieder", "german", "german folk song")},
    **{w: ("chinese folk song", None, None) for w in ("chinese", "chinese folk song", "chinese folk songs")},
    **{w: ("chorale", None, None) for w in ("chorale", "chorales", "hymn", "hymns", "bach", "chorale harmonisation",
                                            "chorale harmonization")},
    **{w: ("renaissance", None, None) for w in ("renaissance", "polyphony", "palestrina", "motet", "motets", "mass",
                                                "madrigal", "madrigals")},
    # no training pieces: the nearest style, in the dance's meter
    **{w: ("air", (3, 4), "waltzes") for w in ("waltz", "waltzes")},
    **{w: ("folk song", (2, 4), "marches") for w in ("march", "marches")},
    **{w: ("reel", (2, 4), "polkas") for w in ("polka", "polkas")},
    **{w: ("air", (3, 4), "minuets") for w in ("minuet", "minuets")},
}
METER_WORDS = {"common time": (4, 4), "cut time": (2, 2), "alla breve": (2, 2), "waltz time": (3, 4)}
TEMPO_WORDS = {  # a factor on the style's tempo
    "very slow": 0.6, "very gentle": 0.6, "adagio": 0.6, "slow": 0.8, "slower": 0.8, "gentle": 0.8,
    "andante": 0.8, "moderate": 1.0, "moderato": 1.0, "lively": 1.25, "quick": 1.25, "fast": 1.25,
    "brisk": 1.25, "allegro": 1.25, "very fast": 1.5, "very quick": 1.5, "very lively": 1.5, "presto": 1.5,
}
VOICE_WORDS = {"solo": 1, "monophonic": 1, "melody": 1, "unaccompanied": 1, "duet": 2, "duo": 2, "trio": 3,
               "quartet": 4, "satb": 4, "quintet": 5, "sextet": 6}
VOICE_UNITS = frozenset({"voice", "voices", "part", "parts"})
BAR_UNITS = frozenset({"bar", "bars", "measure", "measures"})
TEMPO_CUES = frozenset({"bpm", "tempo", "♩"})
# Modal names the model has no token for are read as the nearer of major and minor, with a notice
MODE_WORDS = {"major": "major", "maj": "major", "minor": "minor", "min": "minor", "ionian": "major",
              "lydian": "major", "mixolydian": "major", "dorian": "minor", "phrygian": "minor", "aeolian": "minor"}
LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
DEFAULT_TONIC = {"reel": 2, "jig": 2, "slip jig": 2, "hornpipe": 2, "strathspey": 2, "air": 7, "folk song": 7}
UNITS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                                    "fourteen fifteen sixteen seventeen eighteen nineteen".split(), 1)}
TENS = {w: 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
LABELS = {"style": "styles", "tonic": "keys", "mode": "modes", "meter": "meters", "tempo": "tempos",
          "pace": "tempo words", "bars": "bar counts", "instrument": "instruments", "voices": "voice counts"}
SAID = {"style": ("style",), "key": ("tonic", "mode"), "meter": ("meter",), "tempo": ("tempo", "pace"),
        "bars": ("bars",), "instrument": ("instrument",), "voices": ("voices",)}  # chip -> the readings behind it
MAX_PHRASE = 5  # words, the longest GM name ("FX 8 (sci-fi)")

# a number keeps its minus sign ("-5 bars" is not 5 bars), unless it follows a word or number ("4-5")
_TOKEN = re.compile(r"\d+/\d+|(?:(?<![\w.])[-−])?\d+(?:\.\d+)?|[a-z]+(?:#[a-z]*)?|♩", re.IGNORECASE)
MINUS = ("-", "−")
COUNTS = frozenset({"bars", "tempo", "voices"})  # controls read from a number
_TONIC = re.compile(r"([a-g])(#|b)?(m)?")
_NOT_A_TONIC = re.compile(r"[h-z]#?")


@dataclass
class Reading:
    controls: Controls  # complete: every field resolved
    said: set[str]  # the controls the text (or the bars argument) gave; the rest are the style's defaults
    ignored: list[str]  # the words it did not use, as written, in order (stop words left out)
    notices: list[str]  # one sentence each: a decision the user might not expect

    def chips(self) -> dict[str, str]:
        c = self.controls
        return {"style": c.style, "key": str(c.key), "meter": f"{c.meter[0]}/{c.meter[1]}",
                "tempo": f"{c.bpm:g} BPM", "bars": str(c.bars), "instrument": program_name(c.program),
                "voices": str(c.voices)}


def read_prompt(text: str, seed: int | None = None, bars: int | None = None) -> Reading:
    """The controls a prompt asks for; ``seed`` draws the style when none is named, ``bars``
    (a GUI setting) overrides the text's. Raises ValueError for a value the model cannot take."""
    return _Reader(text).read(seed, bars)


class _Reader:
    def __init__(self, text: str) -> None:
        folded = text.replace("♭", "b").replace("♯", "#")  # same length, so spans index ``text``
        matches = list(_TOKEN.finditer(folded))
        self.text = text
        self.spans = [m.span() for m in matches]
        self.written = [text[a:b] for a, b in self.spans]
        self.low = [m.group().lower() for m in matches]
        self.found: dict[str, tuple[object, str, range]] = {}  # field -> (value, shown, word span)
        self.ignored: list[int] = []
        self.notices: list[str] = []
        self.unknown_keys: list[str] = []
        self.unknown_instruments: list[str] = []

    def read(self, seed: int | None, bars: int | None) -> Reading:
        matchers = (self._style, self._meter, self._key, self._tempo, self._bars, self._voices, self._instrument)
        i = 0
        while i < len(self.low):
            n, claims = max((m(i) for m in matchers), key=lambda r: r[0])  # the longest reading; ties: first
            if n:
                span = range(i, i + n)
                if not any([self._claim(name, value, shown, span) for name, value, shown in claims]):
                    self.ignored.extend(span)
                i += n
                continue
            self.ignored.append(i)
            if self.low[i] not in STOP_WORDS and self.low[i].isalpha() and self._after_cue(i):
                self.unknown_instruments.append(self.written[i])
            i += 1
        return self._finish(seed, bars)

    # Matchers: (words taken, [(control, value, shown)]) for a reading that starts at word i
    def _phrase(self, i: int, table: dict) -> tuple[int, object]:
        for n in range(min(MAX_PHRASE, len(self.low) - i), 0, -1):
            value = table.get(" ".join(self.low[i:i + n]))
            if value is not None:
                return n, value
        return 0, None

    def _number(self, i: int) -> tuple[int, float | None]:
        word = self.low[i] if i < len(self.low) else ""
        if re.fullmatch(r"[-−]?\d+(\.\d+)?", word):
            word = word.replace("−", "-")
            return 1, float(word) if "." in word else int(word)
        if word in TENS:
            unit = self.low[i + 1] if i + 1 < len(self.low) else ""
            return (2, TENS[word] + UNITS[unit]) if UNITS.get(unit, 10) < 10 else (1, TENS[word])
        return (1, UNITS[word]) if word in UNITS else (0, None)

    def _style(self, i: int):
        n, value = self._phrase(i, STYLE_WORDS)
        return n, [("style", value, " ".join(self.low[i:i + n]))] if n else []

    def _meter(self, i: int):
        n, meter = self._phrase(i, METER_WORDS)
        if not n and (m := re.fullmatch(r"(\d+)/(\d+)", self.low[i])):
            n, meter = 1, (int(m[1]), int(m[2]))
            n += self._at(i + 1, {"time"})
        return n, [("meter", meter, f"{meter[0]}/{meter[1]}")] if n else []

    def _tempo(self, i: int):
        n, factor = self._phrase(i, TEMPO_WORDS)
        if n:
            return n, [("pace", factor, " ".join(self.low[i:i + n]))]
        if self.low[i] in TEMPO_CUES:
            n, bpm = self._number(i + 1)
            n += bool(n)
        else:
            n, bpm = self._number(i)
            n = n + 1 if n and self._at(i + n, {"bpm"}) else 0
        return n, [("tempo", bpm, f"{bpm:g} BPM")] if n else []

    def _bars(self, i: int):
        if self.low[i] in BAR_UNITS:
            n, count = self._number(i + 1)
            n += bool(n)
        else:
            n, count = self._number(i)
            n = n + 1 if n and self._at(i + n, BAR_UNITS) else 0
        return n, [("bars", count, f"{count} bars")] if n else []

    def _voices(self, i: int):
        n, count = self._phrase(i, VOICE_WORDS)
        if not n:
            n, count = self._number(i)
            n = n + 1 if n and isinstance(count, int) and self._at(i + n, VOICE_UNITS) else 0
        return n, [("voices", count, f"{count} voices")] if n else []

    def _instrument(self, i: int):
        for n in range(min(MAX_PHRASE, len(self.low) - i), 0, -1):
            program = find_program(" ".join(self.low[i:i + n]))
            if program is not None:
                return n, [("instrument", program, program_name(program))]
        return 0, []

    def _key(self, i: int):
        """ "in D", "D major", "Dm", "key of F# minor", "B flat", "E♭", "minor" alone (a mode);
        a bare letter needs "in"/"key" (and "a" a mode or accidental: "in a jig" is not A).
        A key-like phrase that is no key ("in H major") is taken, to be reported."""
        low, j, keyword = self.low, i, False
        for prefix in (["in", "the", "key", "of"], ["key", "of"], ["in"], ["key"]):
            if low[j:j + len(prefix)] == prefix:
                j, keyword = j + len(prefix), "key" in prefix
                break
        word = low[j] if j < len(low) else ""
        if word in MODE_WORDS:
            return j + 1 - i, [("mode", MODE_WORDS[word], word)]
        tonic = _TONIC.fullmatch(word)
        if not tonic:
            if _NOT_A_TONIC.fullmatch(word) and (self._at(j + 1, MODE_WORDS) or "#" in word and j > i):
                end = j + 1 + self._at(j + 1, MODE_WORDS)
                return end - i, [("badkey", None, self._written(j, end))]
            return 0, []
        letter, accidental, minor = tonic.groups()
        end = j + 1
        if not accidental and not minor and self._at(end, {"sharp", "flat"}):
            accidental, end = "#" if low[end] == "sharp" else "b", end + 1
        mode = "minor" if minor else None
        if not minor and self._at(end, MODE_WORDS):
            mode, end = low[end], end + 1
            if self._at(end, {"key"}):
                if letter == "a" and not accidental and j == i:  # "a minor key": "a" is the article
                    return end + 1 - i, [("mode", MODE_WORDS[mode], mode)]
                end += 1
        if not (mode or accidental or j > i and (letter != "a" or keyword)):
            return 0, []
        pitch = (LETTERS[letter] + {"#": 1, "b": -1, None: 0}[accidental]) % 12
        claims = [("tonic", pitch, letter.upper() + (accidental or ""))]
        return end - i, claims + [("mode", MODE_WORDS[mode], mode)] if mode else claims

    def _at(self, j: int, words) -> bool:
        return j < len(self.low) and self.low[j] in words

    def _written(self, start: int, end: int) -> str:
        return self.text[self.spans[start][0]:self.spans[end - 1][1]]

    def _after_cue(self, i: int) -> bool:
        j = i - 1
        while j >= 0 and self.low[j] in ARTICLES:
            j -= 1
        return j >= 0 and self.low[j] in CUES

    def _claim(self, name: str, value, shown: str, span: range) -> bool:
        """Record a reading; the first of two that differ wins. False when it changes nothing."""
        if name == "badkey":
            self.unknown_keys.append(shown)
            return False
        if name in COUNTS and any(self.low[j].startswith(MINUS) for j in span):
            self.notices.append(f"'{self._written(span.start, span.stop)}' is negative: ignored")
            return False
        if name in self.found:
            first, first_shown, _ = self.found[name]
            if first != value:
                self.notices.append(f"two {LABELS[name]} named: the first, {first_shown}, wins over {shown}")
            return first == value
        self.found[name] = (value, shown, span)
        if name == "mode" and shown not in ("major", "minor", "maj", "min"):
            self.notices.append(f"the model knows major and minor only: {shown} read as {value}")
        if name == "tonic" and shown != TONICS[value]:
            self.notices.append(f"{shown} is written {TONICS[value]}")
        if name == "style" and value[2]:
            style, (a, b), plural = value
            article = "an" if style[0] in "aeiou" else "a"
            self.notices.append(f"no {plural} in the training data: {article} {style} in {a}/{b}")
        return True

    def _finish(self, seed: int | None, bars: int | None) -> Reading:
        found, notices = self.found, self.notices
        said = {chip for chip, names in SAID.items() if any(name in found for name in names)}
        if "style" in found:
            (style, implied, _), phrase, _ = found["style"]
        else:
            style, implied, phrase = random.Random(seed).choice(list(STYLES)), None, ""
            notices.append(f"no style named: a random one ({style})")
        meter, bpm, program, voices, _ = STYLES[style]
        if implied:
            meter = implied
            said.add("meter")
        if "meter" in found:
            explicit = found["meter"][0]
            if "style" in found and explicit != meter:
                notices.append(f"the explicit meter {found['meter'][1]} wins over {phrase}'s {meter[0]}/{meter[1]}")
            meter = explicit
        if "tempo" in found:
            bpm = found["tempo"][0]
            if "pace" in found:
                notices.append(f"the explicit tempo {bpm:g} BPM wins over '{found['pace'][1]}'")
                self.ignored.extend(found["pace"][2])
        elif "pace" in found:
            factor, word, _ = found["pace"]
            asked = round(bpm * factor)
            bpm = min(max(asked, MIN_BPM), MAX_BPM)
            if bpm != asked:
                notices.append(f"'{word}' makes {asked} BPM: clamped to {bpm}")
        if bars is not None and "bars" in found and found["bars"][0] != bars:
            notices.append(f"the bars setting ({bars}) overrides the prompt's {found['bars'][1]}")
            self.ignored.extend(found["bars"][2])
        if bars is None:
            bars = found["bars"][0] if "bars" in found else 16
        else:
            said.add("bars")
        if "voices" in found:
            voices = found["voices"][0]
            if voices > MAX_VOICES:
                notices.append(f"the model writes at most {MAX_VOICES} voices: {voices} read as {MAX_VOICES}")
                voices = MAX_VOICES
        program = found["instrument"][0] if "instrument" in found else program
        tonic = found["tonic"][0] if "tonic" in found else DEFAULT_TONIC.get(style, 0)
        key = Key(tonic, found["mode"][0] if "mode" in found else "major")
        controls = Controls(style, key, meter, float(bpm), bars, program, voices)
        notices += [f"unknown key '{k}': kept {key}" for k in self.unknown_keys]
        notices += [f"'{w}' is not a General MIDI instrument: kept {program_name(program)}"
                    for w in self.unknown_instruments]
        ignored = [self.written[i] for i in sorted(set(self.ignored)) if self.low[i] not in STOP_WORDS]
        return Reading(controls, said, ignored, notices)
