"""A transcript (timed segments and words) and its files: TXT, SRT, VTT or JSON, written
atomically. Whisper (file and live), the take library and the GUI all use these types; they live
here, below every model, so that nothing imports a model package for a result's shape."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import write_text

FORMATS = ("txt", "srt", "vtt", "json")


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float
    words: list[Word] | None = None


@dataclass
class TranscriptionResult:
    language: str
    language_probability: float
    duration: float
    segments: list[Segment] = field(default_factory=list)
    compute_seconds: float = 0.0
    model_name: str = ""
    options: Any = None  # the options it was made with (a dataclass, e.g. TranscribeOptions)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    def to_dict(self) -> dict:
        segments = []
        for s in self.segments:
            item = {"id": s.id, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip()}
            if s.words is not None:
                item["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
                                  "probability": round(w.probability, 4)} for w in s.words]
            segments.append(item)
        return {"language": self.language, "language_probability": round(self.language_probability, 4),
                "duration": round(self.duration, 3), "compute_seconds": round(self.compute_seconds, 3),
                "model": self.model_name, "text": self.text, "segments": segments,
                "options": asdict(self.options) if self.options else None}

    @classmethod
    def from_dict(cls, data: dict) -> TranscriptionResult:
        """Read back what ``to_dict`` wrote (a saved transcript); raises ValueError if malformed."""
        try:
            segments = []
            for i, item in enumerate(data["segments"]):
                words = [Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 1.0)))
                         for w in item["words"]] if item.get("words") is not None else None
                segments.append(Segment(id=i, seek=0, start=float(item["start"]), end=float(item["end"]),
                                        text=" " + str(item["text"]).strip(), tokens=[], avg_logprob=0.0,
                                        compression_ratio=0.0, no_speech_prob=0.0, temperature=0.0, words=words))
            return cls(language=str(data.get("language", "")),
                       language_probability=float(data.get("language_probability", 1.0)),
                       duration=float(data.get("duration", 0.0)), segments=segments,
                       compute_seconds=float(data.get("compute_seconds", 0.0)), model_name=str(data.get("model", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Motet transcript: {exc}") from exc


def _timestamp(seconds: float, decimal: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{ms:03d}"


def to_txt(result) -> str:
    return "".join(s.text.strip() + "\n" for s in result.segments)


def to_srt(result) -> str:
    blocks = []
    for i, s in enumerate(result.segments, start=1):
        blocks.append(f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n")
    return "\n".join(blocks)


def to_vtt(result) -> str:
    blocks = ["WEBVTT\n"]
    for s in result.segments:
        blocks.append(f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n")
    return "\n".join(blocks)


def to_json(result) -> str:
    return json.dumps(result.to_dict(), indent=1, ensure_ascii=False) + "\n"


WRITERS = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json}


def render(result, fmt: str) -> str:
    fmt = fmt.lower().lstrip(".")
    if fmt not in WRITERS:
        raise ValueError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](result)


def write_transcript(result, path: Path | str, fmt: str | None = None, replace: bool = True) -> Path:
    """Write ``result`` as ``fmt`` (default: from the suffix), atomically (``WriteError`` names a
    failure); with ``replace=False`` a file already there is kept (``FileExistsWriteError``)."""
    path = Path(path)
    text = render(result, fmt or path.suffix or "txt")
    write_text(path, text, replace)
    return path


MAX_LINE_CHARS = 10_000  # an edited line: a sentence or a paragraph, not a document


def _word_key(word: str) -> str:
    """A word as compared for an edit: case and punctuation ignored."""
    import re

    return re.sub(r"[\W_]+", "", word).casefold()


def edit_segment(result: TranscriptionResult, index: int, text: str) -> TranscriptionResult:
    """A copy of ``result`` with line ``index`` reading ``text`` (stripped; not blank, at most
    ``MAX_LINE_CHARS``). Its start and end stay. Its word timings stay when the words are the same
    ignoring case and punctuation (each word then takes its new spelling); otherwise they are
    dropped, since the old timings would belong to other words. Raises ValueError (one line)."""
    import copy

    if not isinstance(text, str):
        raise ValueError("a line's text must be text")
    text = " ".join(text.split())  # one line: no line breaks inside a segment
    if not text:
        raise ValueError("a line cannot be empty")
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"a line can have at most {MAX_LINE_CHARS} characters, not {len(text)}")
    if not 0 <= index < len(result.segments):
        raise ValueError(f"there is no line {index + 1} (the transcript has {len(result.segments)})")
    edited = copy.deepcopy(result)
    segment = edited.segments[index]
    if segment.text.strip() == text:
        return edited
    segment.text = " " + text
    segment.tokens = []  # the decoder's tokens no longer spell the text
    if segment.words is not None:
        spelled = text.split()
        if [_word_key(w.word) for w in segment.words] == [_word_key(w) for w in spelled]:
            for word, spelling in zip(segment.words, spelled):
                word.word = (" " if word.word.startswith(" ") else "") + spelling
        else:
            segment.words = None
    return edited
