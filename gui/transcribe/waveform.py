"""A file's waveform: a min/max envelope per bucket, so an hour of audio draws as fast as a second.

``show_audio`` computes, once, the min and max of every ``BASE_BUCKET`` samples. Each time the
visible range changes the view draws about two buckets per pixel: from that base envelope
(reduced further) when zoomed out, from the raw samples of the visible stretch when zoomed in.
The curve is one path that zig-zags between each bucket's min and max.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.spectrogram.axes import AXIS_WIDTH_PX, TimeAxis

BASE_BUCKET = 256  # samples per bucket of the precomputed envelope
_CHUNK = 1 << 22  # samples reduced at a time (bounded temporary memory)
MIN_PLOT_HEIGHT_PX = 90  # room for -1, 0 and 1 on the amplitude axis, and the time axis
MIN_SHARED_HEIGHT_PX = 56  # the same without the time axis (``share_time_axis``)
LABEL_MARGIN_PX = 7  # above 1 and below -1: their labels reach half a line past the ticks


def minmax_envelope(x: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of every ``bucket`` samples of 1-D ``x`` (the last bucket may be short)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    bucket = max(1, int(bucket))
    n_buckets = math.ceil(n / bucket)
    lo = np.empty(n_buckets, dtype=x.dtype)
    hi = np.empty(n_buckets, dtype=x.dtype)
    step = max(bucket, _CHUNK // bucket * bucket)
    for start in range(0, n, step):
        part = x[start:start + step]
        whole = len(part) // bucket * bucket
        b0 = start // bucket
        if whole:
            blocks = part[:whole].reshape(-1, bucket)
            lo[b0:b0 + len(blocks)] = blocks.min(axis=1)
            hi[b0:b0 + len(blocks)] = blocks.max(axis=1)
        if whole < len(part):
            tail = part[whole:]
            lo[-1], hi[-1] = tail.min(), tail.max()
    return lo, hi


class AmplitudeAxis(pg.AxisItem):
    """The waveform's y axis: as many of -1, -0.5, 0, 0.5, 1 as fit without their labels touching
    (pyqtgraph's own ticks stack into an unreadable column on a short strip); the "Amplitude"
    title only when the axis is tall enough to hold it."""

    MIN_TICK_SPACING_PX = 20  # a label's height and some air

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def updateAutoSIPrefix(self):
        pass

    def tickValues(self, minVal, maxVal, size):
        if maxVal <= minVal or size <= 0:
            return []
        px_per_unit = size / (maxVal - minVal)
        step = next((s for s in (0.5, 1.0) if s * px_per_unit >= self.MIN_TICK_SPACING_PX), None)
        if step is None:
            return [(1.0, [0.0])] if minVal <= 0.0 <= maxVal else []
        first, last = math.ceil(max(minVal, -1.0) / step - 1e-9), math.floor(min(maxVal, 1.0) / step + 1e-9)
        return [(step, [i * step for i in range(first, last + 1)])]

    def tickStrings(self, values, scale, spacing):
        return [f"{v:g}".replace("-", "\u2212") for v in values]

    def resizeEvent(self, ev=None):
        if self.label is not None and self.labelText:
            self.label.setVisible(self.size().height() >= self.label.boundingRect().width())
        super().resizeEvent(ev)


class WaveformView(QWidget):
    """Waveform of a mono file, x in seconds, y from -1 to 1, with an optional playhead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._audio: np.ndarray | None = None
        self._sample_rate = 0
        self._base_lo = self._base_hi = None
        self._envelope: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._copying = False  # a range being copied to or from a shared time axis

        self.time_axis = TimeAxis("bottom")
        self.amplitude_axis = AmplitudeAxis("left")
        self.plot = pg.PlotWidget(axisItems={"bottom": self.time_axis, "left": self.amplitude_axis})
        self.plot.setBackground("#101014")
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getAxis("left").setWidth(AXIS_WIDTH_PX)  # lines up with the spectrogram's frequency axis
        for hidden in ("top", "right"):
            item.getAxis(hidden).enableAutoSIPrefix(False)
        item.setLabel("left", "Amplitude")
        item.layout.setContentsMargins(1, LABEL_MARGIN_PX, 1, 1)
        self.viewbox = item.getViewBox()
        self.viewbox.disableAutoRange()
        self.viewbox.setMouseEnabled(x=True, y=False)
        self.viewbox.setYRange(-1.0, 1.0, padding=0.02)
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#5fb4ff", width=1))
        self.plot.addItem(self.curve)
        zero = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen((255, 255, 255, 40)))
        self.plot.addItem(zero)
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffd24a", width=2))
        self.playhead.setZValue(10)
        self.playhead.hide()
        self.plot.addItem(self.playhead)
        self.plot.setMinimumHeight(MIN_PLOT_HEIGHT_PX)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

        self.viewbox.sigXRangeChanged.connect(self._redraw)
        self.clear()

    # -- API ---------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return len(self._audio) / self._sample_rate if self._audio is not None and self._sample_rate else 0.0

    def clear(self) -> None:
        self._audio = None
        self._sample_rate = 0
        self._base_lo = self._base_hi = None
        self._envelope = None
        self.curve.setData([], [])
        self.playhead.hide()
        self.viewbox.setLimits(xMin=None, xMax=None)
        self.viewbox.setXRange(0.0, 1.0, padding=0.0)

    def show_audio(self, audio: np.ndarray, sample_rate: int) -> None:
        x = np.asarray(audio)
        if x.ndim == 2:
            x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
        self._audio = np.ascontiguousarray(x, dtype=np.float32)
        self._sample_rate = int(sample_rate)
        self._base_lo, self._base_hi = minmax_envelope(self._audio, BASE_BUCKET)
        duration = max(self.duration, 1e-3)
        self.viewbox.setLimits(xMin=0.0, xMax=duration, minXRange=min(duration, 20.0 / self._sample_rate))
        self.viewbox.setXRange(0.0, duration, padding=0.0)
        self._redraw()

    def share_time_axis(self, viewbox: pg.ViewBox) -> None:
        """Zoom and pan with ``viewbox`` (a spectrogram's) and leave the time axis to it: a strip
        right under the spectrogram needs no second one, and is shorter without.

        The ranges are copied, not lined up on screen as pyqtgraph's ``setXLink`` does: that needs
        both views laid out, and this strip is hidden on the Record page until a take is shown.
        Nothing is copied while this view has no audio (a live spectrogram moves every frame)."""
        viewbox.sigXRangeChanged.connect(lambda _vb, r: self._copy_range(r, self.viewbox))
        self.viewbox.sigXRangeChanged.connect(lambda _vb, r: self._copy_range(r, viewbox))
        item = self.plot.getPlotItem()
        item.hideAxis("bottom")
        item.layout.setContentsMargins(1, LABEL_MARGIN_PX, 1, LABEL_MARGIN_PX)
        self.plot.setMinimumHeight(MIN_SHARED_HEIGHT_PX)

    def _copy_range(self, x_range, to: pg.ViewBox) -> None:
        if self._copying or self._audio is None:
            return
        self._copying = True
        try:
            to.setXRange(*x_range, padding=0.0)
        finally:
            self._copying = False

    def set_playhead(self, seconds: float | None) -> None:
        if seconds is None:
            self.playhead.hide()
            return
        self.playhead.setValue(float(seconds))
        self.playhead.show()

    def playhead_position(self) -> float | None:
        return float(self.playhead.value()) if self.playhead.isVisible() else None

    def envelope(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """What is drawn: (bucket start times in s, minima, maxima)."""
        return self._envelope

    # -- drawing -----------------------------------------------------------------------------
    def _redraw(self, *args) -> None:
        audio, sr = self._audio, self._sample_rate
        if audio is None or len(audio) == 0:
            return
        (x0, x1), _ = self.viewbox.viewRange()
        i0 = max(0, math.floor(x0 * sr))
        i1 = min(len(audio), math.ceil(x1 * sr) + 1)
        if i1 <= i0:
            return
        px = max(100, self.viewbox.width() if self.viewbox.width() > 0 else self.width())
        bucket = max(1, int((i1 - i0) / (2 * px)))
        if bucket >= BASE_BUCKET:  # reduce the precomputed envelope
            factor = bucket // BASE_BUCKET
            b0, b1 = i0 // BASE_BUCKET // factor * factor, math.ceil(i1 / BASE_BUCKET)
            lo = self._base_lo[b0:b1]
            hi = self._base_hi[b0:b1]
            whole = len(lo) // factor * factor
            if whole and factor > 1:
                lo_w = lo[:whole].reshape(-1, factor).min(axis=1)
                hi_w = hi[:whole].reshape(-1, factor).max(axis=1)
                if whole < len(lo):
                    lo_w = np.append(lo_w, lo[whole:].min())
                    hi_w = np.append(hi_w, hi[whole:].max())
                lo, hi = lo_w, hi_w
            start, size = b0 * BASE_BUCKET, BASE_BUCKET * factor
        else:
            start = i0 // bucket * bucket
            lo, hi = minmax_envelope(audio[start:i1], bucket)
            size = bucket
        t = (start + np.arange(len(lo)) * size) / sr
        self._envelope = (t, lo, hi)
        if size == 1:  # single samples: the plain waveform
            xs, ys = t, lo
        else:  # zig-zag min -> max within each bucket: one path covering the envelope
            xs = np.repeat(t + 0.5 * size / sr, 2)
            ys = np.empty(2 * len(lo), dtype=np.float32)
            ys[0::2], ys[1::2] = lo, hi
        self.curve.setData(xs, ys, connect="all", skipFiniteCheck=True)
