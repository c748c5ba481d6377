"""Transcripts written as TXT, SRT, VTT or JSON — atomically, so a failed write leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path

from engine.atomic import write_text

FORMATS = ("txt", "srt", "vtt", "json")


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


def write_transcript(result, path: Path | str, fmt: str | None = None) -> Path:
    """Write ``result`` as ``fmt`` (default: from the suffix), atomically (``WriteError`` names a failure)."""
    path = Path(path)
    text = render(result, fmt or path.suffix or "txt")
    write_text(path, text)
    return path
