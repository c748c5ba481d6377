"""Atomic file writes, the one way Motet saves a file.

The new file appears whole under its name or not at all: it is written beside the target,
synced, and renamed over it, so a full disk, a crash or a failing writer leaves any existing
file untouched and no half-made file behind. The file gets the permissions the user's umask
gives (a temporary file from ``mkstemp`` would be private). A failure is one ``WriteError``
whose message names the file and the cause in words ("the disk is full", "no permission to
write in ...").
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


class WriteError(OSError):
    """A file could not be saved; ``str()`` is the one line to show."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _low_on_space(folder: Path, nbytes: int) -> bool:
    try:
        return shutil.disk_usage(folder).free < max(nbytes, 1 << 20)
    except OSError:
        return False


def describe_write_error(path: Path, exc: BaseException, nbytes: int = 0) -> str:
    """``could not save 'name': reason``, the reason in words."""
    return f"could not save '{Path(path).name}': {write_error_reason(path, exc, nbytes)}"


def write_error_reason(path: Path, exc: BaseException, nbytes: int = 0) -> str:
    """Why writing ``path`` failed, in words ("the disk is full", "no permission to write in ...")."""
    path = Path(path)
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
            reason = "the disk is full"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = f"no permission to write in {path.parent}"
        elif exc.errno == errno.ENOENT and not path.parent.is_dir():
            reason = f"the folder {path.parent} does not exist"
        elif exc.errno in (errno.ENOTDIR,) or (path.parent.exists() and not path.parent.is_dir()):
            reason = f"{path.parent} is not a folder"
        elif exc.errno == errno.EISDIR or path.is_dir():
            reason = f"{path} is a folder"
        else:
            reason = exc.strerror or str(exc)
    elif _low_on_space(path.parent, nbytes):
        reason = "the disk is full"  # some writers (libsndfile) report a short write without saying why
    else:
        reason = str(exc) or type(exc).__name__
    return reason


@contextlib.contextmanager
def atomic_path(path: str | Path, nbytes: int = 0) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer to fill; on a clean exit it is synced and
    renamed over ``path``. Any failure removes it and raises ``WriteError`` (``nbytes``: the
    size expected, to recognise a full disk behind a writer's vague error)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, WriteError) or not isinstance(exc, Exception):
            raise  # already named; or KeyboardInterrupt and the like
        code = exc.errno if isinstance(exc, OSError) else None
        raise WriteError(code, describe_write_error(path, exc, nbytes)) from exc


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
