"""A recording session: capture → ring buffer → recorder (and any other readers), as one thing.

The GUI and the CLI both record through this, so the crash-safe path is the same everywhere.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from engine.audio.capture import CaptureStream
from engine.audio.devices import AudioDevice
from engine.audio.recorder import Recorder
from engine.audio.ringbuffer import Reader
from engine.audio.takes import Take, TakeLibrary, repair_wav_header

MAX_TAKE_SECONDS = 24 * 3600.0  # the longest timed take (`motet record --seconds`): a day


class RecordingSession:
    """Start with ``start()``; ``stop()`` drains everything captured and returns the Take.

    ``on_error(message)`` is called (from a background thread) when the recording ends by
    itself: disk full, write error, input stream gone. The audio so far is kept either way;
    call ``stop()`` afterwards to file it in the library.
    """

    def __init__(
        self,
        library: TakeLibrary,
        device: AudioDevice | None,
        channels: int = 1,
        sample_rate: int | None = None,
        name: str | None = None,
        on_error: Callable[[str], None] | None = None,
        **recorder_options,
    ) -> None:
        self.library = library
        self._on_error = on_error
        self._error_lock = threading.Lock()
        self.error: str | None = None
        self.capture = CaptureStream(device, channels=channels, sample_rate=sample_rate,
                                     on_stream_end=self._report_error)
        self.take: Take = library.begin(self.capture.sample_rate, self.capture.channels,
                                        device=device.name if device else "", name=name)
        self.recorder = Recorder(self.capture.ring.reader(), Path(self.take.path),
                                 self.capture.sample_rate, self.capture.channels,
                                 on_error=self._report_error, **recorder_options)
        self._stopped = False

    @property
    def sample_rate(self) -> int:
        return self.capture.sample_rate

    @property
    def channels(self) -> int:
        return self.capture.channels

    @property
    def duration(self) -> float:
        return self.recorder.duration

    @property
    def overflows(self) -> int:
        """Audio lost anywhere on the capture path: device overflows plus recorder lag."""
        return self.capture.input_overflows + (1 if self.recorder.reader.lost_frames else 0)

    def reader(self) -> Reader:
        """A new reader of the live audio (spectrogram, level meter, live transcriber)."""
        return self.capture.ring.reader()

    def start(self) -> None:
        try:
            self.recorder.start()
            self.capture.start()
        except Exception:
            self.capture.stop()
            self.recorder.abort()
            self.library.discard_recovery(self.take)
            raise

    def _report_error(self, message: str) -> None:
        with self._error_lock:
            if self.error is not None:
                return
            self.error = message
        if self._on_error is not None:
            self._on_error(message)

    def stop(self) -> Take:
        """Stop capture, wait for the recorder to write the rest, and file the take.

        Raises TakeError when it cannot be filed (a full disk): the audio then stays whole in the
        recovery folder, and the message says so."""
        if self._stopped:
            return self.take
        self._stopped = True
        self.capture.stop()
        self.recorder.finish(timeout=None)  # drain all of it: at most the ring (a minute of audio)
        path = Path(self.take.path)
        frames = repair_wav_header(path) if path.exists() else 0  # a no-op after a clean close
        return self.library.commit(self.take, frames / self.sample_rate)
