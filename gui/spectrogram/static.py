"""The static spectrogram: a whole file, its columns max-pooled to at most ``MAX_STATIC_COLUMNS``
(computed off the GUI thread when the caller already has them), zoomable in time."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QTransform

from engine.audio.dsp import PooledSpectrogram, pooled_spectrogram

MAX_STATIC_COLUMNS = 4096  # a long file's columns are max-pooled down to this many
_STATIC_CHUNK_SECONDS = 30.0


class StaticSpectrogramMixin:
    """Part of :class:`gui.spectrogram.view.SpectrogramView`: its "static" mode."""

    def show_audio(self, audio: np.ndarray, sample_rate: int, pooled: PooledSpectrogram | None = None) -> None:
        """Show a whole file: (n,) or (n, channels) samples; x runs over its duration. ``pooled``:
        its spectrogram already computed off the GUI thread (``pooled_spectrogram``), used if it
        has this view's scale."""
        x = np.asarray(audio)
        if x.ndim == 2:
            x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
        self._mode = "static"
        self._audio = np.ascontiguousarray(x, dtype=np.float32)
        self._sample_rate = int(sample_rate)
        self._db = None
        self._compute_static(pooled)

    def _compute_static(self, pooled: PooledSpectrogram | None = None) -> None:
        if pooled is None or pooled.spec.scale != self._scale or pooled.spec.sample_rate != self._sample_rate:
            pooled = pooled_spectrogram(self._audio, self._sample_rate, self._scale, MAX_STATIC_COLUMNS,
                                        _STATIC_CHUNK_SECONDS)
        spec, db = pooled.spec, pooled.db
        self._spec = spec
        self._set_frequencies(spec.bin_frequencies)
        self._duration = pooled.duration
        self._static_db = db
        self._static_seconds_per_column = pooled.seconds_per_column
        self._pixels = np.ascontiguousarray(self._colour_all(db).T)
        self.image_item.set_buffer(self._pixels, db.shape[0])
        tr = QTransform()
        tr.scale(self._static_seconds_per_column, 1.0)
        self.image_item.setTransform(tr)
        self.image_item.show()
        duration = max(self._duration, 1e-3)
        self.viewbox.setLimits(xMin=0.0, xMax=duration, yMin=0.0, yMax=float(spec.n_bins),
                               minXRange=min(duration, 0.05))
        self.viewbox.setMouseEnabled(x=True, y=False)
        self._set_x_range(0.0, duration)
        self.visible_combo.setEnabled(False)
        self.update_count += 1
