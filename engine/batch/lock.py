"""One batch at a time in an output folder: an exclusive ``flock`` on ``OUT/.motet-batch.lock``.

The lock is taken without waiting (a second batch is refused with one line naming the first's
process) and held until the batch ends; the system drops it when its process dies (Ctrl+C, a
crash, a kill), so a stale lock never blocks. The lock file stays in the folder: removing it
while another process may be opening it would let two batches lock two different files.
It is opened without following a link and must be a regular file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from engine.batch.inputs import BatchInputError, unwritable

LOCK_NAME = ".motet-batch.lock"


@contextlib.contextmanager
def folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s batch lock for the block; BatchInputError if another batch holds it, or
    if the folder cannot be written (read-only, no permission) or the lock file is a link."""
    import fcntl

    path = Path(out_dir) / LOCK_NAME
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BatchInputError(f"{path} is a symbolic link; Motet does not follow links when it writes: "
                                  f"remove it or choose another --output-dir") from exc
        raise BatchInputError(unwritable(Path(out_dir), exc)) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BatchInputError(f"{path} is not a regular file; remove it or choose another --output-dir")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            raise BatchInputError(f"another motet batch is writing into {out_dir}{f' (pid {pid})' if pid else ''}; "
                                  f"wait for it or choose another --output-dir") from None
        except OSError as exc:  # a file system without locks (some network ones)
            raise BatchInputError(f"cannot lock --output-dir {out_dir} against another batch: "
                                  f"{exc.strerror or exc}") from exc
        with contextlib.suppress(OSError):  # only a courtesy for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
