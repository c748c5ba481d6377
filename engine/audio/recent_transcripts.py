"""The Transcribe page's recent files kept across restarts: ``<data>/transcripts/index.json``
lists the audio files transcribed (newest last, at most ``LIMIT``) and each one's transcript is
``<data>/transcripts/<id>.json`` (``TranscriptionResult.to_dict``), all written atomically.

The index is read as data from anyone: an entry that is not well formed is passed over, a
transcript name must be one of ours (``<12 hex>.json`` in this folder, never a path elsewhere),
and an audio file that has gone since is listed as missing, not an error. Each transcript is
written before the index that names it, so a crash leaves at worst an unlisted file behind.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import WriteError, write_text
from engine.transcript import TranscriptionResult

FOLDER = "transcripts"  # under the data folder
INDEX = "index.json"
LIMIT = 50  # recent files kept; the oldest go first
MAX_INDEX_BYTES = 1 << 20  # an index is a few kilobytes; anything huge is not ours
MAX_TRANSCRIPT_BYTES = 64 << 20
_ID = re.compile(r"[0-9a-f]{12}")


class RecentError(Exception):
    """A recent transcript that cannot be stored or read back; ``str()`` is the line to show."""


@dataclass
class RecentTranscript:
    id: str
    path: str  # the audio file, absolute
    added: float  # when it was transcribed (seconds since the epoch)
    model: str = ""
    name: str = ""  # how the page named it (a take by its name): kept for when the file has gone

    @property
    def missing(self) -> bool:
        """True when the audio file has gone (moved or deleted) since."""
        try:
            return not Path(self.path).is_file()
        except (OSError, ValueError):
            return True


def _entry(data: object) -> RecentTranscript | None:
    """One index entry, or None when it is not one of ours."""
    if not isinstance(data, dict):
        return None
    entry_id, path, added = data.get("id"), data.get("path"), data.get("added", 0.0)
    model, name = data.get("model", ""), data.get("name", "")
    if not isinstance(entry_id, str) or not _ID.fullmatch(entry_id):
        return None
    if not isinstance(path, str) or not path or "\0" in path or len(path) > 4096 or not Path(path).is_absolute():
        return None
    if not isinstance(added, (int, float)) or isinstance(added, bool) or added != added:
        return None
    return RecentTranscript(entry_id, path, float(added), model if isinstance(model, str) else "",
                            name[:500] if isinstance(name, str) else "")


class RecentTranscripts:
    """The recent files and their transcripts; ``list()`` oldest first (the order they were added)."""

    def __init__(self, root: Path | str | None = None, limit: int = LIMIT) -> None:
        if root is None:
            from engine.audio.takes import data_dir

            root = data_dir() / FOLDER
        self.root = Path(root)
        self.limit = limit

    # -- reading -------------------------------------------------------------------------------
    def list(self) -> list[RecentTranscript]:
        """The entries, oldest first; one path once (the newest); bad entries passed over."""
        try:
            with open(self.root / INDEX, "rb") as f:
                raw = f.read(MAX_INDEX_BYTES + 1)
            if len(raw) > MAX_INDEX_BYTES:
                return []
            data = json.loads(raw.decode("utf-8", "replace"))
        except (OSError, ValueError, RecursionError):
            return []
        items = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return []
        by_path: dict[str, RecentTranscript] = {}
        for item in items:
            entry = _entry(item)
            if entry is not None:
                by_path.pop(entry.path, None)  # a later entry for the same file wins
                by_path[entry.path] = entry
        return list(by_path.values())[-self.limit:]

    def get(self, path: str) -> RecentTranscript | None:
        return next((e for e in self.list() if e.path == str(path)), None)

    def result(self, entry: RecentTranscript) -> TranscriptionResult:
        """The stored transcript of ``entry``; RecentError when it is gone or damaged."""
        if not _ID.fullmatch(entry.id):
            raise RecentError("not a stored transcript")
        file = self.root / f"{entry.id}.json"
        try:
            if file.is_symlink():
                raise RecentError(f"the stored transcript of {Path(entry.path).name} is a link; Motet does not "
                                  f"follow links")
            with open(file, "rb") as f:
                raw = f.read(MAX_TRANSCRIPT_BYTES + 1)
            if len(raw) > MAX_TRANSCRIPT_BYTES:
                raise ValueError("it is too large")
            return TranscriptionResult.from_dict(json.loads(raw.decode("utf-8")))
        except (OSError, ValueError, AttributeError, RecursionError) as exc:
            reason = "it has gone" if isinstance(exc, FileNotFoundError) else str(exc)
            raise RecentError(f"the stored transcript of {Path(entry.path).name} cannot be read: {reason}") from exc

    # -- writing -------------------------------------------------------------------------------
    def add(self, path: str | Path, result: TranscriptionResult, name: str = "") -> RecentTranscript:
        """Keep ``result`` as the transcript of ``path`` (replacing an earlier one of that file);
        the oldest entries past the limit are dropped. RecentError (nothing listed) on failure."""
        path = str(Path(path).absolute())
        entry = RecentTranscript(uuid.uuid4().hex[:12], path, time.time(), str(result.model_name or ""), name)
        entries = self.list()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_text(self.root / f"{entry.id}.json", json.dumps(result.to_dict(), ensure_ascii=False),
                       replace=False)
        except (OSError, TypeError, ValueError) as exc:
            raise RecentError(f"could not keep the transcript of {Path(path).name}: {exc}") from exc
        kept = [e for e in entries if e.path != path] + [entry]
        dropped = [e for e in entries if e not in kept[-self.limit:]]
        try:
            self._write(kept[-self.limit:])
        except RecentError:
            self._unlink(entry.id)
            raise
        for old in dropped:
            self._unlink(old.id)
        return entry

    def remove(self, path: str | Path) -> None:
        """Forget ``path`` and its stored transcript (the audio file is not touched)."""
        entries = self.list()
        gone = [e for e in entries if e.path == str(path)]
        if gone:
            self._write([e for e in entries if e.path != str(path)])
            for e in gone:
                self._unlink(e.id)

    def _write(self, entries: list[RecentTranscript]) -> None:
        data = {"version": 1, "entries": [{"id": e.id, "path": e.path, "added": e.added, "model": e.model,
                                           "name": e.name}
                                          for e in entries]}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_text(self.root / INDEX, json.dumps(data, indent=1, ensure_ascii=False))
        except (OSError, WriteError) as exc:
            raise RecentError(f"could not save the list of recent transcripts: {exc}") from exc

    def _unlink(self, entry_id: str) -> None:
        if _ID.fullmatch(entry_id):
            with contextlib.suppress(OSError):
                (self.root / f"{entry_id}.json").unlink(missing_ok=True)
