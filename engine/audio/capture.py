"""Microphone capture: a sounddevice input stream feeding a RingBuffer.

The PortAudio callback does as little as possible (one copy into the ring) and counts the
overflows PortAudio reports, so nothing in it can stall the audio thread.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from engine.audio.devices import AudioDevice, AudioUnavailable, _sd, open_on_source
from engine.audio.ringbuffer import RingBuffer

MAX_CHANNELS = 64  # input channels one capture may ask for (a large interface); each is a ring


class CaptureStream:
    """Capture from ``device`` at its native rate into ``self.ring`` (a sound server's source:
    that source, at the rate the server gives it).

    ``ring_seconds`` is how far a reader may fall behind before it loses audio.
    """

    def __init__(
        self,
        device: AudioDevice | None,
        channels: int = 1,
        sample_rate: int | None = None,
        block_frames: int | None = None,
        ring_seconds: float = 60.0,
        on_stream_end: Callable[[str], None] | None = None,
    ) -> None:
        if not 1 <= channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be between 1 and {MAX_CHANNELS}, not {channels}")
        self.device = device
        self.sample_rate = int(sample_rate or (device.default_samplerate if device else 48000))
        if device is not None:
            channels = max(1, min(channels, device.max_input_channels))
        self.channels = channels
        # ~1/100 s blocks: small enough for a 60 fps display, large enough for Python.
        self.block_frames = block_frames or max(64, self.sample_rate // 100)
        self.ring = RingBuffer(int(self.sample_rate * ring_seconds), channels)
        self.input_overflows = 0  # PortAudio said the device delivered faster than we read
        self.callbacks = 0
        self.last_callback_at: float | None = None
        self._on_stream_end = on_stream_end
        self._stream = None
        self._stopping = False
        self._lock = threading.Lock()

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread
        if status.input_overflow:
            self.input_overflows += 1
        self.ring.write(indata)
        self.callbacks += 1
        self.last_callback_at = time.monotonic()

    def _finished(self) -> None:  # PortAudio thread, when the stream ends for any reason
        if not self._stopping and self._on_stream_end is not None:
            self._on_stream_end("the audio input stream stopped unexpectedly (device removed?)")

    def start(self) -> None:
        sd = _sd()
        try:
            self._stream = open_on_source(self.device, lambda: sd.InputStream(
                device=self.device.index if self.device else None,
                samplerate=self.sample_rate, channels=self.channels, dtype="float32",
                blocksize=self.block_frames, callback=self._callback,
                finished_callback=self._finished,
            ))
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
            self._stream = None
            name = self.device.name if self.device else "the default input"
            raise AudioUnavailable(f"could not open {name} for recording: {exc}") from exc

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    def stop(self) -> None:
        """Stop capturing and close the ring so readers drain and finish."""
        with self._lock:
            self._stopping = True
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a vanished device may fail to close; data is safe
                pass
        self.ring.close()
