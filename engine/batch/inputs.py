"""What a batch works on: the audio files named or found in folders, the name each output gets,
and each file's content hash (the manifest's key: a renamed file is not done twice, an edited one
is done again)."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.audio.files import AUDIO_SUFFIXES


class BatchInputError(ValueError):
    """An input or output folder that the batch cannot use; ``str()`` names it."""


@dataclass(frozen=True)
class Source:
    path: Path
    stem: Path  # the output's path under the output folder, without its suffix (talks/day-1)


def find_sources(inputs: list[str | Path]) -> list[Source]:
    """Files as given (output named by their stem), folders searched for audio files (outputs
    keep the folder's layout); hidden files and folders are skipped."""
    sources: list[Source] = []
    for name in inputs:
        path = Path(name).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise BatchInputError(f"no audio files in {path} (looked for {', '.join(AUDIO_SUFFIXES)})")
            sources += [Source(p, p.relative_to(path).with_suffix("")) for p in found]
        elif path.is_file():
            sources.append(Source(path, Path(path.stem)))
        else:
            raise BatchInputError(f"{path} does not exist")
    return sources


def output_collision(out_dir: Path, targets: list[tuple[Path, Path]], option: str = "--output-dir",
                     verb: str = "transcribe") -> str | None:
    """Why the outputs cannot go where asked, or None: ``out_dir`` (given as ``option``) is a file,
    or two inputs (a/talk.wav, b/talk.wav) would write one output (``targets``: (input, output)
    pairs); ``verb`` says what to do with them in separate calls."""
    if out_dir.exists() and not out_dir.is_dir():
        return f"{option} {out_dir} is a file, not a folder"
    seen: dict[str, Path] = {}
    for source, target in targets:
        key = str(target).casefold() if sys.platform in ("darwin", "win32") else str(target)  # case-blind there
        if key in seen and seen[key] != source:
            return (f"{seen[key]} and {source} would both be written to {target}; {verb} them in separate "
                    f"calls with different {option}")
        seen[key] = source
    return None


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (read in blocks: hours of audio never sit in memory)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def settings_hash(settings: dict) -> str:
    """A short digest of what changes an output (model, format, options): part of the key."""
    import json

    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


SLUG_CHARS = 60  # a name's stem at most (a prompt may be one word of thousands of letters)


def prompt_slug(prompt: str) -> str:
    """A file name from a prompt's first six words ("lofi-piano-with-soft-drums"), at most
    SLUG_CHARS long; "motet" if none."""
    import re

    return "-".join(re.findall(r"[a-z0-9]+", prompt.lower())[:6])[:SLUG_CHARS].rstrip("-") or "motet"


def unwritable(out_dir: Path, exc: OSError) -> str:
    """The one line for an output folder that cannot be made or written in."""
    import errno

    from engine.atomic import write_error_reason

    if exc.errno == errno.EROFS:
        why = "it is on a read-only file system"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "no permission to write there"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST) and not Path(out_dir).is_dir():
        why = "a file is in the way (it or a folder above it is not a folder)"
    else:
        why = write_error_reason(Path(out_dir) / "x", exc)
    return f"cannot write in --output-dir {out_dir}: {why}"
