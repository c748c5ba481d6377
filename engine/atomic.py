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


class FileExistsWriteError(WriteError):
    """``atomic_path(..., replace=False)`` found a file (or a link) under the name already."""


@contextlib.contextmanager
def atomic_path(path: str | Path, nbytes: int = 0, replace: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer to fill; on a clean exit it is synced and
    renamed over ``path``. Any failure removes it and raises ``WriteError`` (``nbytes``: the
    size expected, to recognise a full disk behind a writer's vague error).

    A symlink at ``path`` is replaced, never followed. With ``replace=False`` nothing that exists
    under the name is touched: the file is linked into place only if the name is free at that
    moment (no race with another process), else ``FileExistsWriteError``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        if not replace and os.path.lexists(path):
            raise FileExistsWriteError(errno.EEXIST, f"{path} exists already; Motet leaves it as it is")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666))  # the umask applies
        yield tmp
        fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, WriteError) or not isinstance(exc, Exception):
            raise  # already named; or KeyboardInterrupt and the like
        code = exc.errno if isinstance(exc, OSError) else None
        raise WriteError(code, describe_write_error(path, exc, nbytes)) from exc


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _link_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist (a hard link fails with EEXIST
    where a rename would replace); where hard links are not supported, a checked rename."""
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsWriteError(errno.EEXIST, f"{path} exists already; Motet leaves it as it is") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise FileExistsWriteError(errno.EEXIST, f"{path} exists already; Motet leaves it as it is") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def free_path(path: str | Path, taken: set[str] | frozenset[str] = frozenset()) -> Path:
    """``path`` if nothing is there (no file, folder or link) and its name is not in ``taken``;
    else the first free ``name-2.ext``, ``name-3.ext``, ... beside it. Write to it with
    ``atomic_path(..., replace=False)``: a name taken in between is then refused, not replaced."""
    path = Path(path)
    candidate, n = path, 1
    while os.path.lexists(candidate) or candidate.name in taken:
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def write_free(wanted: str | Path, write, taken: set[str] | None = None,
               exists: tuple[type[BaseException], ...] = (FileExistsWriteError,)) -> Path:
    """``write(path)`` (which must not replace: ``replace=False``) at ``wanted`` or, where
    something is there, at the next free name; a name taken meanwhile (``exists`` raised) moves it
    on. Returns the path written, also added to ``taken``. The caller says when it differs."""
    taken = set() if taken is None else taken
    for _ in range(100):  # each try loses to a file made meanwhile: so many races are no race
        target = free_path(wanted, taken)
        try:
            write(target)
        except exists:
            taken.add(target.name)
            continue
        taken.add(target.name)
        return target
    raise FileExistsWriteError(errno.EEXIST, f"could not find a free name beside {Path(wanted).name}")


def append_synced(path: str | Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and sync it; a symlink or anything but a
    regular file at ``path`` is refused (``WriteError``), never followed."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o666)  # a FIFO: no wait
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise WriteError(exc.errno, f"could not save '{path.name}': it is a symbolic link; "
                                        f"Motet does not write through links") from exc
        raise WriteError(exc.errno, describe_write_error(path, exc, len(data))) from exc
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WriteError(errno.EINVAL, f"could not save '{path.name}': it is not a regular file")
        os.write(fd, data)
        os.fsync(fd)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(exc.errno, describe_write_error(path, exc, len(data))) from exc
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes, replace: bool = True) -> Path:
    with atomic_path(path, len(data), replace) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, replace: bool = True) -> Path:
    """UTF-8; a lone surrogate (from undecodable bytes in a file name or an argument) is written
    as its escape, ``\\udcff``, never a crash."""
    return write_bytes(path, text.encode("utf-8", "backslashreplace"), replace)
