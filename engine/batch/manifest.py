"""What a batch has done, kept in its output folder so that a rerun does only what is missing.

One JSON line per finished item (done or failed), appended and synced after the item's outputs
have been written atomically: a batch stopped at any moment leaves every line true. Items are
keyed by content (the file's hash with the settings' digest, or the prompt's), not by name.

The manifest is data from anyone (a shared folder, a hand edit): a line cut short by a crash, or
of the wrong shape, is ignored (that item is simply done again), and an output it names counts
only if it is a regular file inside the output folder, named by a relative path whose every part
is a real folder or file there (no "..", no absolute path, no symbolic link). The manifest itself
is never followed through a link, and must be a regular file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path, PurePosixPath

from engine.atomic import append_synced
from engine.batch.inputs import BatchInputError

MANIFEST_NAME = "motet-batch.jsonl"
MAX_MANIFEST_BYTES = 256 << 20  # ~1M lines: far more than any batch writes
STATUSES = ("done", "failed")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read(path: Path) -> bytes:
    """The manifest's bytes ("" if there is none); BatchInputError if it is a link, not a regular
    file, unreadable or too big."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise BatchInputError(f"cannot read the batch manifest {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise BatchInputError(f"the batch manifest {path} is a symbolic link; Motet does not follow links "
                              f"when it writes: remove it or choose another --output-dir")
    if not stat.S_ISREG(info.st_mode):
        raise BatchInputError(f"the batch manifest {path} is not a regular file (a folder or a device); "
                              f"remove it or choose another --output-dir")
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BatchInputError(f"the batch manifest {path} is a symbolic link; Motet does not follow links "
                                  f"when it writes: remove it or choose another --output-dir") from exc
        raise BatchInputError(f"cannot read the batch manifest {path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped in between
            raise BatchInputError(f"the batch manifest {path} is not a regular file; remove it or choose "
                                  f"another --output-dir")
        if info.st_size > MAX_MANIFEST_BYTES:
            raise BatchInputError(f"the batch manifest {path} is {info.st_size / 2**20:.0f} MB, more than a batch "
                                  f"writes ({MAX_MANIFEST_BYTES >> 20} MB at most); choose another --output-dir")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise BatchInputError(f"cannot read the batch manifest {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _names(value) -> list[str] | None:
    """``value`` if it is a list of strings, else None."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _checked(record) -> dict | None:
    """The record if its shape is a manifest line's: a dict with a string key, a known status, and
    (when present) outputs and targets that are lists of strings; else None."""
    if not isinstance(record, dict) or not isinstance(record.get("key"), str) or not record["key"]:
        return None
    if record.get("status") not in STATUSES:
        return None
    outputs = _names(record.get("outputs", []))
    if outputs is None:
        return None
    record = {**record, "outputs": outputs}
    targets = record.get("targets")
    if "targets" in record and (_names(targets) is None or len(targets) != len(outputs)):
        del record["targets"]  # not trusted, not needed
    return record


def inside(name) -> bool:
    """Whether ``name`` reads as a path inside a folder: relative, without "..", "." or "\\"."""
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def safe_output(out_dir: Path, name: str) -> Path | None:
    """``out_dir / name`` if ``name`` is a relative path inside ``out_dir`` ("talks/day-1.txt")
    whose folders are real folders (no link) and whose last part is a regular file; else None."""
    if not inside(name):
        return None
    parts = PurePosixPath(name).parts
    path = Path(out_dir)
    for index, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except (OSError, ValueError):
            return None
        wanted = stat.S_ISREG if index == len(parts) - 1 else stat.S_ISDIR  # S_ISDIR(lstat): not a link
        if not wanted(mode):
            return None
    return path


class Manifest:
    def __init__(self, out_dir: Path) -> None:
        """Read ``out_dir``'s manifest; BatchInputError if it is a link or not a regular file."""
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / MANIFEST_NAME
        self.records: dict[str, dict] = {}
        for line in _read(self.path).split(b"\n"):
            try:
                record = _checked(json.loads(line.decode("utf-8")))
            except (ValueError, RecursionError):
                continue  # a line cut short when a batch was killed mid-write, or not JSON
            if record is not None:
                self.records[record["key"]] = record

    def done_record(self, key: str) -> dict | None:
        """The record of ``key`` if it is done and every output it names is still there (safely,
        see ``safe_output``); an output deleted since, or named outside the folder: None."""
        record = self.records.get(key)
        if not record or record.get("status") != "done" or not record.get("outputs"):
            return None
        if not all(safe_output(self.out_dir, name) for name in record["outputs"]):
            return None
        return record

    def is_done(self, key: str, out_dir: Path | None = None) -> bool:
        return self.done_record(key) is not None

    def owned(self) -> set[str]:
        """The outputs the manifest records as this folder's batches' own (relative names)."""
        return {name for r in self.records.values() if r.get("status") == "done"
                for name in r.get("outputs", []) if inside(name)}

    def record(self, key: str, status: str, **facts) -> None:
        """Append one line (``status``: "done" or "failed") and sync it to disk; a link or
        anything but a regular file at the manifest's name is refused (WriteError)."""
        record = {"key": key, "status": status, **facts}
        line = (json.dumps(record, default=str) + "\n").encode("utf-8")
        append_synced(self.path, line)
        self.records[key] = record
