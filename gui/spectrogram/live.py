"""The live spectrogram: audio pushed while recording scrolls through a ring of columns.

The ring is written twice (at ``i`` and ``i + N``), so the last N columns are always the
contiguous window ``[pos, pos + N)`` of a 2N-wide buffer: the image item paints that source
rectangle. Scrolling therefore moves no pixels and pyqtgraph never re-renders the image; one
push costs the new columns plus one repaint. A new frequency scale restarts the live history
(the bins change). Time on x is the seconds since ``start_live``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QTransform

from engine.audio.dsp import DisplaySpectrogram
from gui.spectrogram.colour import LUT


class LiveSpectrogramMixin:
    """Part of :class:`gui.spectrogram.view.SpectrogramView`: its "live" mode."""

    def start_live(self, sample_rate: int) -> None:
        """Forget what is shown and scroll the audio pushed from now on."""
        self._mode = "live"
        self._audio = None
        self._static_db = None
        self._sample_rate = int(sample_rate)
        self._spec = DisplaySpectrogram(self._sample_rate, self._scale)
        self._set_frequencies(self._spec.bin_frequencies)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.viewbox.setLimits(xMin=None, xMax=None, yMin=None, yMax=None)
        self._resize_ring(keep_history=False)
        self.image_item.show()

    def push_audio(self, block: np.ndarray) -> int:
        """Add live audio, (n,) or (n, channels); return the number of new columns drawn."""
        if self._mode != "live" or self._spec is None:
            return 0
        x = np.asarray(block)
        if x.ndim == 2:
            x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        cols = self._spec.push(x)
        k = cols.shape[0]
        if k == 0:
            return 0
        self._write_columns(cols)
        self._count += k
        self._place_live()
        self.update_count += 1
        return k

    def _resize_ring(self, keep_history: bool = True) -> None:
        spec = self._spec
        n = max(2, round(self._visible_seconds * spec.columns_per_second))
        bins = spec.n_bins
        history = self.displayed_db() if keep_history and self._db is not None else None
        self._n = n
        self._db = np.full((n, bins), -np.inf, dtype=np.float32)
        self._pixels = np.empty((bins, 2 * n), dtype=np.uint32)
        self._pixels[:] = LUT[0]
        if history is None or history.shape[1] != bins:
            self._count = 0
        else:  # column j lives in slot j % n: rewrite the most recent ones where they belong
            total = self._count
            recent = history[history.shape[0] - min(total, history.shape[0], n):]
            self._count = total - recent.shape[0]
            self._write_columns(recent)
            self._count = total
        self.image_item.set_buffer(self._pixels, n)
        self._place_live()

    def _write_columns(self, cols: np.ndarray) -> None:
        n = self._n
        if cols.shape[0] > n:
            self._count += cols.shape[0] - n
            cols = cols[-n:]
        pos = self._count % n
        first = min(cols.shape[0], n - pos)
        segments = [(pos, cols[:first])]
        if first < cols.shape[0]:
            segments.append((0, cols[first:]))
        for start, part in segments:
            m = part.shape[0]
            self._db[start:start + m] = part
            pix = self._colour(part).T
            self._pixels[:, start:start + m] = pix
            self._pixels[:, start + n:start + n + m] = pix

    def _place_live(self) -> None:
        n, cps = self._n, self._spec.columns_per_second
        self.image_item.set_window_start(self._count % n)
        t_end = self._count / cps
        t0 = (self._count - n) / cps  # time of the window's first column
        tr = QTransform()
        tr.translate(t0, 0.0)
        tr.scale(1.0 / cps, 1.0)
        self.image_item.setTransform(tr)
        span = n / cps
        self._set_x_range(max(0.0, t_end - span), max(span, t_end))
