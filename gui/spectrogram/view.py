"""The spectrogram view: a scrolling image of live audio, or a static one of a whole file.

The engine (``engine.audio.dsp.DisplaySpectrogram``) turns audio into dB columns; this widget
colours them (``colour``) and draws them with pyqtgraph (``image``, ``axes``). Cheap per update
by construction: see ``live`` for the scrolling ring and ``static`` for a whole file.

Time is on x in seconds (elapsed since ``start_live``, or the file's time); frequency on y,
where image row ``i`` spans ``[i, i + 1)`` and is labelled in Hz/kHz through the bins' centre
frequencies, for mel and linear alike.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.audio.dsp import DisplaySpectrogram
from gui.spectrogram.axes import AXIS_WIDTH_PX, FrequencyAxis, TimeAxis
from gui.spectrogram.colour import ColouringMixin
from gui.spectrogram.image import WindowImageItem
from gui.spectrogram.live import LiveSpectrogramMixin
from gui.spectrogram.static import StaticSpectrogramMixin

SCALES = ("mel", "linear")
VISIBLE_CHOICES = (5.0, 10.0, 20.0, 30.0)
DEFAULT_DB_RANGE = (-100.0, 0.0)  # what DisplaySpectrogram shows silence as, up to full scale
MIN_DB_SPAN = 10.0
DB_LIMITS = (-200.0, 40.0)


class SpectrogramView(LiveSpectrogramMixin, StaticSpectrogramMixin, ColouringMixin, QWidget):
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

        bar = self._build_toolbar()
        self._build_plot()
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

    # -- construction ----------------------------------------------------------------------
    def _build_toolbar(self) -> QHBoxLayout:
        """Frequency scale, colour floor and ceiling (dB), seconds shown while recording."""
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
        return bar

    def _build_plot(self) -> None:
        """The plot: frequency and time axes around the image item; the mouse only zooms files."""
        self.freq_axis = FrequencyAxis("left")
        self.freq_axis.setWidth(AXIS_WIDTH_PX)
        self.time_axis = TimeAxis("bottom")
        self.plot = pg.PlotWidget(axisItems={"left": self.freq_axis, "bottom": self.time_axis})
        self.plot.setBackground("#101014")
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("left", "Frequency")
        item.layout.setContentsMargins(1, 7, 1, 1)  # room for the top frequency's label, else cut in half
        for hidden in ("top", "right"):  # hidden, but pyqtgraph relabels them on every range change
            item.getAxis(hidden).enableAutoSIPrefix(False)
        self.viewbox = item.getViewBox()
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.viewbox.disableAutoRange()
        self.image_item = WindowImageItem()
        self.plot.addItem(self.image_item)
        self.plot.setMinimumHeight(120)

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
