"""Play audio through a sounddevice output stream, with a position the GUI can follow.

The output buffer is PortAudio's "high" latency and at least PLAYBACK_LATENCY_S, so a machine busy
with a model does not underrun (ALSA then printed "underrun occurred" thousands of times; what
libasound still says goes to the log: engine.audio.devices)."""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from engine.audio.devices import AudioDevice, AudioUnavailable, _sd


PLAYBACK_LATENCY_S = 0.15  # the output buffer: a busy machine that stalls this long does not underrun


class Player:
    """Plays one array at a time; ``play`` replaces what is playing. Never blocks the caller."""

    def __init__(self, device: AudioDevice | None = None) -> None:
        self.device = device
        self._stream = None
        self._audio = np.zeros((0, 1), np.float32)
        self._pos = 0
        self._end = 0
        self.sample_rate = 0
        self._lock = threading.Lock()
        self._silence = 0  # frames of silence written after the audio ended
        self._drain = 0  # that many frames of silence follow the audio: the buffer plays out first
        self._on_finished: Callable[[], None] | None = None

    @property
    def position(self) -> float:
        """Seconds into the audio being played."""
        return self._pos / self.sample_rate if self.sample_rate else 0.0

    @property
    def playing(self) -> bool:
        """Until the end has been heard: the output buffer (``_drain`` frames) plays out after
        the last frame is handed over, and stopping the stream sooner would cut it off."""
        return self._stream is not None and (self._pos < self._end or self._silence < self._drain)

    def play(self, audio: np.ndarray, sample_rate: int, start: float = 0.0, end: float | None = None,
             on_finished: Callable[[], None] | None = None) -> None:
        """Play ``audio`` (frames, channels) from ``start`` to ``end`` seconds."""
        self.stop()
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 1:
            audio = audio[:, None]
        sd = _sd()
        self._audio = audio
        self.sample_rate = int(sample_rate)
        self._pos = max(0, int(start * sample_rate))
        self._end = len(audio) if end is None else min(len(audio), int(end * sample_rate))
        self._on_finished = on_finished
        channels = audio.shape[1]
        if self.device is not None:
            channels = min(channels, self.device.max_output_channels) or 1
        latency = self._latency(sd)
        self._silence, self._drain = 0, int(latency * self.sample_rate)
        try:
            self._stream = sd.OutputStream(
                device=self.device.index if self.device else None, samplerate=self.sample_rate,
                channels=channels, dtype="float32", callback=self._callback,
                finished_callback=self._finished, latency=latency,
            )
            self._stream.start()
        except Exception as exc:  # noqa: BLE001
            self._stream = None
            raise AudioUnavailable(f"could not start playback: {exc}") from exc

    def _latency(self, sd) -> float:
        """PortAudio's "high" latency for the device, and never less than PLAYBACK_LATENCY_S."""
        try:
            info = sd.query_devices(self.device.index if self.device else None, "output")
            high = float(info["default_high_output_latency"])
        except Exception:  # noqa: BLE001 - no such device: opening the stream says why
            high = 0.0
        return max(high, PLAYBACK_LATENCY_S)

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio thread
        sd = _sd()
        with self._lock:
            n = max(0, min(frames, self._end - self._pos))
            chunk = self._audio[self._pos:self._pos + n]
            self._pos += n
            if n < frames:
                self._silence += frames - n
            done = n < frames and self._silence >= self._drain
        ch = outdata.shape[1]
        outdata[:n] = chunk[:, :ch] if chunk.shape[1] >= ch else np.repeat(chunk[:, :1], ch, axis=1)
        outdata[n:] = 0
        if done:  # the buffer's worth of silence is queued behind the audio: all of it is heard
            raise sd.CallbackStop()

    def _finished(self) -> None:
        if self._on_finished is not None:
            self._on_finished()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._on_finished = None
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001
                pass
