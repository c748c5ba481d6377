"""A single-writer, many-reader ring buffer of audio frames.

The audio callback writes; the recorder, the spectrogram and the live transcriber each read at
their own pace through their own ``Reader``. The writer never blocks on a slow reader: a reader
that falls more than ``capacity`` frames behind loses the oldest frames, and the loss is counted
(``Reader.lost_frames``) so the GUI can show it.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity_frames: int, channels: int = 1, dtype=np.float32) -> None:
        if capacity_frames <= 0 or channels <= 0:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity_frames)
        self.channels = int(channels)
        self._data = np.zeros((self.capacity, self.channels), dtype=dtype)
        self._written = 0  # frames written since creation (absolute position)
        self._closed = False
        self._cond = threading.Condition()

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, frames: np.ndarray) -> None:
        """Append frames shaped (n, channels) or (n,) for mono. Never blocks for long."""
        frames = np.asarray(frames)
        if frames.ndim == 1:
            frames = frames[:, None]
        n = len(frames)
        if n == 0:
            return
        with self._cond:
            if n > self.capacity:  # keep only what fits; readers will count the rest as lost
                self._written += n - self.capacity
                frames = frames[-self.capacity:]
                n = self.capacity
            start = self._written % self.capacity
            first = min(n, self.capacity - start)
            self._data[start:start + first] = frames[:first]
            if first < n:
                self._data[: n - first] = frames[first:]
            self._written += n
            self._cond.notify_all()

    def close(self) -> None:
        """No more writes: readers drain what is left, then get empty reads without waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reader(self, from_start: bool = False) -> "Reader":
        """A new reader positioned at the current end (or at the oldest frame still held)."""
        with self._cond:
            pos = max(0, self._written - self.capacity) if from_start else self._written
        return Reader(self, pos)


class Reader:
    def __init__(self, ring: RingBuffer, position: int) -> None:
        self._ring = ring
        self.position = position
        self.lost_frames = 0

    @property
    def closed(self) -> bool:
        """The writer has finished (what is left can still be read)."""
        return self._ring.closed

    def available(self) -> int:
        return min(self._ring._written - self.position, self._ring.capacity)

    def read(self, max_frames: int | None = None, timeout: float | None = 0.0) -> np.ndarray:
        """Frames written since the last read, as a new (n, channels) array.

        Waits up to ``timeout`` seconds (None: until data or close) when nothing is new.
        """
        ring = self._ring
        with ring._cond:
            if ring._written == self.position and not ring._closed and timeout != 0.0:
                ring._cond.wait_for(lambda: ring._written > self.position or ring._closed, timeout)
            behind = ring._written - self.position
            if behind > ring.capacity:
                self.lost_frames += behind - ring.capacity
                self.position = ring._written - ring.capacity
                behind = ring.capacity
            n = behind if max_frames is None else min(behind, max_frames)
            start = self.position % ring.capacity
            first = min(n, ring.capacity - start)
            out = np.empty((n, ring.channels), dtype=ring._data.dtype)
            out[:first] = ring._data[start:start + first]
            if first < n:
                out[first:] = ring._data[: n - first]
            self.position += n
            return out

    @property
    def exhausted(self) -> bool:
        """Closed and fully read."""
        return self._ring._closed and self.position >= self._ring._written
