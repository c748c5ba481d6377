"""Stream captured audio to disk as it arrives, so a crash loses (almost) nothing.

A ``Recorder`` drains its own ring-buffer reader on a thread and appends every block to a WAV
file (32-bit float, the capture format, so nothing is lost to conversion). Each block reaches
the operating system at once (libsndfile writes straight through), and the file is flushed at
least every ``flush_interval`` seconds; after a SIGKILL the samples are on disk and only the
header needs fixing (``takes.repair_wav_header``).

A full disk or any write error, and an input that stops delivering audio, end the recording
with a message; what was written stays on disk.
"""

from __future__ import annotations

import errno
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

import soundfile as sf

from engine.atomic import WriteError
from engine.atomic import describe_write_error as describe_save_error
from engine.audio.ringbuffer import Reader

_FULL = 1 << 20  # less free room than this after a failed write: the disk is full


def _open_wav(path: Path, sample_rate: int, channels: int) -> sf.SoundFile:
    return sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=channels, format="WAV", subtype="FLOAT")


def _disk_full(exc: BaseException, path: Path) -> bool:
    """libsndfile reports a full disk as a vague "System error": the free room tells."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if "space" in str(exc).lower():
        return True
    try:
        return shutil.disk_usage(path.parent).free < _FULL
    except OSError:
        return False


def describe_write_error(exc: BaseException, path: Path) -> str:
    if _disk_full(exc, path):
        return f"the disk is full: recording stopped; everything up to now is saved in {path.name}"
    return f"could not write the recording ({exc}); recording stopped; what was captured is kept"


class Recorder:
    def __init__(
        self,
        reader: Reader,
        path: Path,
        sample_rate: int,
        channels: int,
        flush_interval: float = 0.25,
        stall_timeout: float = 3.0,
        on_error: Callable[[str], None] | None = None,
        open_file: Callable[[Path, int, int], sf.SoundFile] = _open_wav,
    ) -> None:
        self.reader = reader
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.flush_interval = flush_interval
        self.stall_timeout = stall_timeout
        self.on_error = on_error
        self.frames_written = 0
        self.error: str | None = None
        self._open_file = open_file
        self._stop = threading.Event()
        self._file: sf.SoundFile | None = None
        self._thread = threading.Thread(target=self._run, name="motet-recorder", daemon=True)

    @property
    def duration(self) -> float:
        return self.frames_written / self.sample_rate

    def start(self) -> None:
        """Open the file (raising WriteError, naming it and the cause, if that fails) and start
        draining the ring."""
        try:
            self._file = self._open_file(self.path, self.sample_rate, self.channels)
        except OSError as exc:
            raise WriteError(exc.errno, describe_save_error(self.path, exc)) from exc
        except Exception as exc:  # noqa: BLE001 - libsndfile's own error type
            raise WriteError(None, describe_save_error(self.path, exc)) from exc
        self._thread.start()

    def finish(self, timeout: float | None = 10.0) -> None:
        """Wait until everything captured before the ring was closed is on disk."""
        self._thread.join(timeout)

    def abort(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started (a file that failed to open never was)
            self._thread.join(5)

    def _fail(self, message: str) -> None:
        self.error = message
        if self.on_error is not None:
            self.on_error(message)

    def _run(self) -> None:
        f = self._file
        assert f is not None
        last_flush = last_data = time.monotonic()
        try:
            while not self._stop.is_set():
                block = self.reader.read(timeout=0.05)
                now = time.monotonic()
                if len(block):
                    try:
                        f.write(block)
                        self.frames_written += len(block)
                        if now - last_flush >= self.flush_interval:
                            f.flush()
                            last_flush = now
                    except Exception as exc:  # noqa: BLE001 - full disk, I/O error
                        self._fail(describe_write_error(exc, self.path))
                        return
                    last_data = now
                elif self.reader.exhausted:
                    return
                elif now - last_data > self.stall_timeout:
                    self._fail("the input device stopped delivering audio; recording stopped, "
                               "everything captured so far is kept")
                    return
        finally:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - closing after a full disk can fail too
                pass
