"""The spectrogram view: a scrolling image of live audio, or a static one of a whole file.

The engine (``engine.audio.dsp.DisplaySpectrogram``) turns audio into dB columns; this widget
colours them and draws them with pyqtgraph. Cheap per update by construction:

- The picture is a preallocated pixel buffer in Qt's native ``RGB32`` layout (uint8 BGRA bytes,
  one uint32 per pixel), wrapped once in a QImage that shares its memory. New columns are
  coloured in NumPy through a 256-entry LUT (matplotlib's perceptual 'inferno', from pyqtgraph)
  into small preallocated scratch arrays and written straight into the buffer.
- Live mode keeps the columns in a ring that is written twice (at ``i`` and ``i + N``), so the
  last N columns are always the contiguous window ``[pos, pos + N)`` of a 2N-wide buffer: the
  image item paints that source rectangle. Scrolling therefore moves no pixels and pyqtgraph
  never re-renders the image; one push costs the new columns plus one repaint.
- The dB values of what is shown are kept too, so a new colour range re-colours the history
  instead of losing it. A new frequency scale restarts the live history (the bins change).

Time is on x in seconds (elapsed since ``start_live``, or the file's time); frequency on y,
where image row ``i`` spans ``[i, i + 1)`` and is labelled in Hz/kHz through the bins' centre
frequencies, for mel and linear alike.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QImage, QTransform
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.audio.dsp import DisplaySpectrogram, PooledSpectrogram, pooled_spectrogram

SCALES = ("mel", "linear")
VISIBLE_CHOICES = (5.0, 10.0, 20.0, 30.0)
DEFAULT_DB_RANGE = (-100.0, 0.0)  # what DisplaySpectrogram shows silence as, up to full scale
MIN_DB_SPAN = 10.0
DB_LIMITS = (-200.0, 40.0)
MAX_STATIC_COLUMNS = 4096  # a long file's columns are max-pooled down to this many
_STATIC_CHUNK_SECONDS = 30.0
AXIS_WIDTH_PX = 72  # the frequency axis; the waveform view uses it too, so their x axes line up


def _colormap_lut(name: str = "inferno") -> np.ndarray:
    """256 colours as uint32 0xFFRRGGBB (Qt's RGB32, i.e. B,G,R,255 bytes in memory)."""
    try:
        rgb = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
    except Exception:  # noqa: BLE001 - a pyqtgraph without the map: a plain grey ramp
        ramp = np.arange(256, dtype=np.uint8)
        rgb = np.stack([ramp, ramp, ramp], axis=1)
    rgb = np.asarray(rgb, dtype=np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


_LUT = _colormap_lut()


def format_hz(hz: float) -> str:
    """'50 Hz', '500 Hz', '1 kHz', '2.5 kHz', '12 kHz'."""
    if hz < 1000:
        return f"{hz:.0f} Hz"
    khz = hz / 1000.0
    return f"{khz:.0f} kHz" if abs(khz - round(khz)) < 1e-6 else f"{khz:.1f} kHz"


# Candidate tick frequencies on a mel axis, most preferred first: 1-2-5 steps, then the rest,
# high decades before low ones (so 10 Hz never crowds out 100 Hz).
def _candidate_frequencies(f_max: float) -> list[float]:
    out: list[float] = []
    for mantissas in ((1,), (2, 5), (3, 4, 6, 8), (1.5, 2.5, 7, 9)):
        for exponent in range(5, 0, -1):
            for m in mantissas:
                f = m * 10 ** exponent
                if f <= f_max:
                    out.append(float(f))
    return out


_LINEAR_STEPS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)


class FrequencyAxis(pg.AxisItem):
    """A y axis over bin rows labelled with the frequency of each position, mel or linear."""

    MIN_TICK_SPACING_PX = 24

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._freqs = np.array([0.0, 1.0])
        self._centres = np.array([0.5, 1.5])

    def updateAutoSIPrefix(self):
        pass

    def setRange(self, mn, mx):
        if [mn, mx] != list(getattr(self, "range", ())):
            super().setRange(mn, mx)

    def set_bin_frequencies(self, freqs: np.ndarray) -> None:
        self._freqs = np.asarray(freqs, dtype=np.float64)
        self._centres = np.arange(len(self._freqs), dtype=np.float64) + 0.5
        self.picture = None
        self.update()

    def frequency_at(self, y):
        """Frequency (Hz) at a y position (row units), linear between bin centres."""
        f, c = self._freqs, self._centres
        if len(f) < 2:
            return np.zeros_like(np.asarray(y, dtype=np.float64))
        y = np.asarray(y, dtype=np.float64)
        out = np.interp(y, c, f)
        lo_slope = (f[1] - f[0]) / (c[1] - c[0])
        hi_slope = (f[-1] - f[-2]) / (c[-1] - c[-2])
        out = np.where(y < c[0], f[0] + (y - c[0]) * lo_slope, out)
        return np.where(y > c[-1], f[-1] + (y - c[-1]) * hi_slope, out)

    def position_of(self, hz):
        """y position (row units) of a frequency."""
        return np.interp(np.asarray(hz, dtype=np.float64), self._freqs, self._centres)

    @property
    def is_linear(self) -> bool:
        d = np.diff(self._freqs)
        return len(d) > 0 and bool(np.allclose(d, d[0], rtol=1e-6))

    def tickValues(self, minVal, maxVal, size):
        if len(self._freqs) < 2 or maxVal <= minVal or size <= 0:
            return []
        px_per_unit = size / (maxVal - minVal)
        if self.is_linear:  # evenly spaced: multiples of a 1-2-5 step
            f_lo, f_hi = (float(v) for v in self.frequency_at([minVal, maxVal]))
            px_per_hz = size / max(f_hi - f_lo, 1e-9)
            step = next((s for s in _LINEAR_STEPS if s * px_per_hz >= 1.25 * self.MIN_TICK_SPACING_PX),
                        _LINEAR_STEPS[-1])
            first = max(0, math.ceil(max(f_lo, float(self._freqs[0])) / step))
            last = math.floor(min(f_hi, float(self._freqs[-1])) / step)
            return [(1.0, [float(self.position_of(i * step)) for i in range(first, last + 1)])]
        chosen: list[float] = []
        positions: list[float] = []
        for f in _candidate_frequencies(float(self._freqs[-1])):
            if f < self._freqs[0]:
                continue
            y = float(self.position_of(f))
            if not (minVal <= y <= maxVal):
                continue
            if all(abs(y - p) * px_per_unit >= self.MIN_TICK_SPACING_PX for p in positions):
                chosen.append(f)
                positions.append(y)
        return [(1.0, sorted(positions))]

    def tickStrings(self, values, scale, spacing):
        return [format_hz(round(float(self.frequency_at(v)), -1) if v else 0.0) for v in values]


_TIME_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


class TimeAxis(pg.AxisItem):
    """A lean x axis in seconds: one level of ticks, 'm:ss' labels once times pass a minute.

    Live scrolling moves this axis every frame, so it skips pyqtgraph's SI-prefix relabelling
    and minor ticks, which cost more than drawing the spectrogram itself.
    """

    MIN_TICK_SPACING_PX = 70

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)
        self._minutes = None
        self._set_style(False)

    def _set_style(self, minutes: bool) -> None:
        if minutes != self._minutes:
            self._minutes = minutes
            self.setLabel("Time (m:ss)" if minutes else "Time (s)")

    def updateAutoSIPrefix(self):
        pass

    def tickValues(self, minVal, maxVal, size):
        if maxVal <= minVal or size <= 0:
            return []
        span = maxVal - minVal
        step = next((s for s in _TIME_STEPS if s * size / span >= self.MIN_TICK_SPACING_PX), None)
        if step is None:
            step = 3600 * math.ceil(span * self.MIN_TICK_SPACING_PX / size / 3600)
        first = math.ceil(minVal / step - 1e-9)
        last = math.floor(maxVal / step + 1e-9)
        self._set_style(max(abs(minVal), abs(maxVal)) >= 60 and step >= 1)
        return [(step, [i * step for i in range(first, last + 1)])]

    def tickStrings(self, values, scale, spacing):
        if self._minutes:
            out = []
            for v in values:
                sign = "-" if v < 0 else ""
                m, s = divmod(round(abs(v)), 60)
                out.append(f"{sign}{m}:{s:02d}" if m < 60 else f"{sign}{m // 60}:{m % 60:02d}:{s:02d}")
            return out
        decimals = 0 if spacing >= 1 else (1 if spacing >= 0.1 else 2)
        return [f"{v:.{decimals}f}" for v in values]


class _WindowImageItem(pg.ImageItem):
    """An ImageItem that paints a window ``[start, start + width)`` of a shared RGB32 buffer.

    The QImage wraps the buffer's memory once (no copy); moving the window or writing pixels
    needs only ``update()``: pyqtgraph's per-frame render (levels, LUT, conversion) is skipped.
    """

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.paint_count = 0
        self._pixels: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._start = 0
        self._width = 0

    def set_buffer(self, pixels: np.ndarray, width: int) -> None:
        """``pixels``: C-contiguous uint32 (rows, columns); the window shows ``width`` columns."""
        assert pixels.dtype == np.uint32 and pixels.flags.c_contiguous
        self.prepareGeometryChange()
        self._pixels = pixels
        self.image = pixels  # for pyqtgraph's bookkeeping and for tests; never rendered by it
        h, w = pixels.shape
        self._qimage = QImage(pixels, w, h, pixels.strides[0], QImage.Format.Format_RGB32)
        self._start = 0
        self._width = int(width)
        self._renderRequired = False
        self._unrenderable = False
        self.informViewBoundsChanged()
        self.update()

    def set_window_start(self, start: int) -> None:
        self._start = int(start)
        self.update()

    def visible_pixels(self) -> np.ndarray | None:
        if self._pixels is None:
            return None
        return self._pixels[:, self._start:self._start + self._width]

    # pyqtgraph's ImageItem API, narrowed to the window
    def width(self):
        return None if self._pixels is None else self._width

    def height(self):
        return None if self._pixels is None else self._pixels.shape[0]

    def render(self):
        self._renderRequired = False
        self._unrenderable = self._pixels is None

    def paint(self, painter, *args):
        if self._qimage is None or self._width <= 0:
            return
        h = self._pixels.shape[0]
        painter.drawImage(QRectF(0, 0, self._width, h), self._qimage, QRectF(self._start, 0, self._width, h))
        self.paint_count += 1


class SpectrogramView(QWidget):
    """Scrolling (live) or static (file) spectrogram with its own small toolbar.

    The toolbar's changes emit ``settingsChanged``; setting the properties from code updates the
    toolbar without emitting (so an owner can load saved settings without saving half of them).
    """

    settingsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scale = "mel"
        self._floor, self._ceiling = DEFAULT_DB_RANGE
        self._visible_seconds = 10.0
        self._mode = "idle"  # "idle" | "live" | "static"
        self._sample_rate = 0
        self._spec: DisplaySpectrogram | None = None
        self._bin_frequencies = np.array([0.0, 1.0])
        self.update_count = 0  # image updates done (one per push that produced columns)

        # live state
        self._n = 0  # visible columns
        self._count = 0  # columns since start_live
        self._db: np.ndarray | None = None  # (n, bins) ring of the dB shown
        self._pixels: np.ndarray | None = None  # (bins, 2n) uint32, written twice
        self._scratch_f = np.empty((0, 0), dtype=np.float32)
        self._scratch_i = np.empty((0, 0), dtype=np.uint8)
        self._scratch_p = np.empty((0, 0), dtype=np.uint32)
        # static state
        self._audio: np.ndarray | None = None
        self._static_db: np.ndarray | None = None
        self._static_seconds_per_column = 0.0
        self._duration = 0.0

        # -- toolbar
        self.scale_combo = QComboBox()
        self.scale_combo.addItem("Mel", "mel")
        self.scale_combo.addItem("Linear", "linear")
        self.scale_combo.setToolTip("Frequency axis: mel (as heard) or linear (as computed)")
        self.floor_spin = QSpinBox()
        self.ceiling_spin = QSpinBox()
        for spin, tip in ((self.floor_spin, "Level shown as the darkest colour"),
                          (self.ceiling_spin, "Level shown as the brightest colour")):
            spin.setRange(int(DB_LIMITS[0]), int(DB_LIMITS[1]))
            spin.setSingleStep(5)
            spin.setSuffix(" dB")
            spin.setToolTip(tip)
            spin.setKeyboardTracking(False)
        self.visible_combo = QComboBox()
        for s in VISIBLE_CHOICES:
            self.visible_combo.addItem(f"{s:g} s", s)
        self.visible_combo.setToolTip("Seconds shown while recording")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Axis:"))
        bar.addWidget(self.scale_combo)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Floor:"))
        bar.addWidget(self.floor_spin)
        bar.addWidget(QLabel("Ceiling:"))
        bar.addWidget(self.ceiling_spin)
        bar.addSpacing(8)
        self.visible_label = QLabel("Show:")
        bar.addWidget(self.visible_label)
        bar.addWidget(self.visible_combo)
        bar.addStretch(1)

        # -- plot
        self.freq_axis = FrequencyAxis("left")
        self.freq_axis.setWidth(AXIS_WIDTH_PX)
        self.time_axis = TimeAxis("bottom")
        self.plot = pg.PlotWidget(axisItems={"left": self.freq_axis, "bottom": self.time_axis})
        self.plot.setBackground("#101014")
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("left", "Frequency")
        for hidden in ("top", "right"):  # hidden, but pyqtgraph relabels them on every range change
            item.getAxis(hidden).enableAutoSIPrefix(False)
        self.viewbox = item.getViewBox()
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.viewbox.disableAutoRange()
        self.image_item = _WindowImageItem()
        self.plot.addItem(self.image_item)
        self.plot.setMinimumHeight(120)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

        self._sync_toolbar()
        self.scale_combo.currentIndexChanged.connect(self._scale_edited)
        self.floor_spin.valueChanged.connect(self._range_edited)
        self.ceiling_spin.valueChanged.connect(self._range_edited)
        self.visible_combo.currentIndexChanged.connect(self._visible_edited)
        self.clear()

    # -- properties ------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @property
    def scale(self) -> str:
        return self._scale

    @scale.setter
    def scale(self, value: str) -> None:
        value = str(value).lower()
        if value not in SCALES:
            value = "mel"
        if value == self._scale:
            return
        self._scale = value
        self._sync_toolbar()
        self._rebuild_for_scale()

    @property
    def db_range(self) -> tuple[float, float]:
        return (self._floor, self._ceiling)

    @db_range.setter
    def db_range(self, value) -> None:
        floor, ceiling = (float(v) for v in value)
        if not (math.isfinite(floor) and math.isfinite(ceiling)):
            floor, ceiling = DEFAULT_DB_RANGE
        floor = min(max(floor, DB_LIMITS[0]), DB_LIMITS[1] - MIN_DB_SPAN)
        ceiling = min(max(ceiling, floor + MIN_DB_SPAN), DB_LIMITS[1])
        if (floor, ceiling) == (self._floor, self._ceiling):
            return
        self._floor, self._ceiling = floor, ceiling
        self._sync_toolbar()
        self._recolour()

    @property
    def visible_seconds(self) -> float:
        return self._visible_seconds

    @visible_seconds.setter
    def visible_seconds(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            value = 10.0
        value = min(max(value, 1.0), 120.0)
        if value == self._visible_seconds:
            return
        self._visible_seconds = value
        self._sync_toolbar()
        if self._mode == "live":
            self._resize_ring()
        elif self._mode == "idle":
            self._set_x_range(0.0, value)

    @property
    def bin_frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each image row, bottom row first."""
        return self._bin_frequencies

    @property
    def columns_per_second(self) -> float:
        return self._spec.columns_per_second if self._spec is not None else 0.0

    def frequency_of_row(self, row: float) -> float:
        """The frequency the axis shows at the middle of image row ``row`` (0 = bottom)."""
        return float(self.freq_axis.frequency_at(row + 0.5))

    def displayed_pixels(self) -> np.ndarray | None:
        """The shown image, (rows, columns) uint32 0xFFRRGGBB, row 0 = lowest frequency."""
        return self.image_item.visible_pixels()

    def displayed_db(self) -> np.ndarray | None:
        """The dB values shown, (columns, rows), oldest column first (live) or file order."""
        if self._mode == "live" and self._db is not None:
            return np.roll(self._db, -(self._count % self._n), axis=0)
        if self._mode == "static":
            return self._static_db
        return None

    def x_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.viewbox.viewRange()
        return float(x0), float(x1)

    # -- toolbar ---------------------------------------------------------------------------
    def _sync_toolbar(self) -> None:
        widgets = (self.scale_combo, self.floor_spin, self.ceiling_spin, self.visible_combo)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.scale_combo.setCurrentIndex(SCALES.index(self._scale))
            self.floor_spin.setValue(round(self._floor))
            self.ceiling_spin.setValue(round(self._ceiling))
            i = self.visible_combo.findData(self._visible_seconds)
            if i < 0:
                self.visible_combo.addItem(f"{self._visible_seconds:g} s", self._visible_seconds)
                i = self.visible_combo.count() - 1
            self.visible_combo.setCurrentIndex(i)
        finally:
            for w in widgets:
                w.blockSignals(False)

    def _scale_edited(self) -> None:
        self.scale = self.scale_combo.currentData()
        self.settingsChanged.emit()

    def _range_edited(self) -> None:
        floor, ceiling = float(self.floor_spin.value()), float(self.ceiling_spin.value())
        if ceiling - floor < MIN_DB_SPAN:  # keep the edited end, push the other one
            if self.sender() is self.floor_spin:
                ceiling = floor + MIN_DB_SPAN
            else:
                floor = ceiling - MIN_DB_SPAN
        old = self.db_range
        self.db_range = (floor, ceiling)
        self._sync_toolbar()
        if self.db_range != old:
            self.settingsChanged.emit()

    def _visible_edited(self) -> None:
        self.visible_seconds = self.visible_combo.currentData()
        self.settingsChanged.emit()

    # -- modes -----------------------------------------------------------------------------
    def clear(self) -> None:
        """Show nothing: idle, with an empty time axis of the visible length."""
        self._mode = "idle"
        self._audio = None
        self._static_db = None
        self._db = None
        self._pixels = None
        self._count = 0
        self._spec = None
        self.image_item.set_buffer(np.zeros((1, 1), dtype=np.uint32), 0)
        self.image_item.hide()
        self._set_frequencies(DisplaySpectrogram(self._sample_rate or 48000, self._scale).bin_frequencies)
        self._set_x_range(0.0, self._visible_seconds)
        self.visible_combo.setEnabled(True)

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

    # -- live internals --------------------------------------------------------------------
    def _resize_ring(self, keep_history: bool = True) -> None:
        spec = self._spec
        n = max(2, round(self._visible_seconds * spec.columns_per_second))
        bins = spec.n_bins
        history = self.displayed_db() if keep_history and self._db is not None else None
        self._n = n
        self._db = np.full((n, bins), -np.inf, dtype=np.float32)
        self._pixels = np.empty((bins, 2 * n), dtype=np.uint32)
        self._pixels[:] = _LUT[0]
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

    def _ensure_scratch(self, k: int, bins: int) -> None:
        if self._scratch_f.shape[0] < k or self._scratch_f.shape[1] != bins:
            size = max(k, 8)
            self._scratch_f = np.empty((size, bins), dtype=np.float32)
            self._scratch_i = np.empty((size, bins), dtype=np.uint8)
            self._scratch_p = np.empty((size, bins), dtype=np.uint32)

    def _colour(self, db: np.ndarray) -> np.ndarray:
        """dB (k, bins) -> pixels (k, bins) uint32, in preallocated scratch."""
        k, bins = db.shape
        self._ensure_scratch(k, bins)
        f, i, p = self._scratch_f[:k], self._scratch_i[:k], self._scratch_p[:k]
        np.subtract(db, self._floor, out=f)
        np.multiply(f, 255.0 / (self._ceiling - self._floor), out=f)
        np.fmax(f, 0.0, out=f)  # fmax/fmin also turn NaN into the bound
        np.fmin(f, 255.0, out=f)
        np.copyto(i, f, casting="unsafe")
        np.take(_LUT, i, out=p, mode="clip")
        return p

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

    # -- static internals ------------------------------------------------------------------
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

    def _colour_all(self, db: np.ndarray) -> np.ndarray:
        """Colour a whole (columns, bins) array in bounded chunks: (columns, bins) uint32."""
        out = np.empty(db.shape, dtype=np.uint32)
        step = 1024
        for i in range(0, db.shape[0], step):
            out[i:i + step] = self._colour(db[i:i + step])
        return out

    # -- both --------------------------------------------------------------------------------
    def _recolour(self) -> None:
        if self._mode == "live" and self._db is not None:
            n = self._n
            self._pixels[:, :n] = self._colour_all(self._db).T
            self._pixels[:, n:] = self._pixels[:, :n]
            self.image_item.update()
        elif self._mode == "static" and self._static_db is not None:
            self._pixels[:] = self._colour_all(self._static_db).T
            self.image_item.update()

    def _rebuild_for_scale(self) -> None:
        if self._mode == "live":
            self.start_live(self._sample_rate)
        elif self._mode == "static" and self._audio is not None:
            x0, x1 = self.x_range()
            self._compute_static()
            self._set_x_range(x0, x1)
        else:
            self.clear()

    def _set_frequencies(self, freqs: np.ndarray) -> None:
        self._bin_frequencies = np.asarray(freqs, dtype=np.float64)
        self.freq_axis.set_bin_frequencies(self._bin_frequencies)
        self.viewbox.setYRange(0.0, float(len(self._bin_frequencies)), padding=0.0)

    def _set_x_range(self, x0: float, x1: float) -> None:
        (c0, c1), _ = self.viewbox.viewRange()
        if (c0, c1) != (x0, x1):
            self.viewbox.setXRange(x0, x1, padding=0.0)
