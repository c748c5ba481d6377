"""A horizontal input level meter: RMS bar, decaying peak-hold line, latched clip light."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_DB = -60.0
MAX_DB = 0.0
YELLOW_DB = -18.0  # green below, yellow up to RED_DB, red above
RED_DB = -6.0
CLIP_DB = -0.1
PEAK_HOLD_S = 1.5
PEAK_FALL_DB_PER_S = 20.0

_ZONES = (  # (from dB, to dB, lit colour, unlit colour)
    (MIN_DB, YELLOW_DB, QColor("#2fbf4a"), QColor("#173d20")),
    (YELLOW_DB, RED_DB, QColor("#e6c619"), QColor("#4a4113")),
    (RED_DB, MAX_DB, QColor("#e5382f"), QColor("#4a1a17")),
)


class LevelMeter(QWidget):
    """Call ``set_level(rms_db, peak_db)`` per audio block (dBFS); ``reset()`` between takes.

    The peak-hold line stays at the highest recent peak for ``PEAK_HOLD_S`` seconds, then falls.
    The clip light (right end) turns on when a peak reaches ``CLIP_DB`` and stays on until
    ``reset()`` or a click, so a clip that happened while you looked away is still seen.
    """

    CLIP_BOX_PX = 12

    def __init__(self, parent: QWidget | None = None, clock=time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(60, 10)
        self.setAccessibleName("Input level")
        self.setToolTip("Input level (dBFS): bar = RMS, line = recent peak; red light = clipped (click to clear)")
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        self._rms_db = float("-inf")
        self._peak_db = float("-inf")
        self._hold_db = float("-inf")
        self._hold_since = self._clock()
        self._clipped = False
        self.update()

    def set_level(self, rms_db: float, peak_db: float) -> None:
        now = self._clock()
        self._rms_db = float(rms_db)
        self._peak_db = float(peak_db)
        if self._peak_db >= self.peak_hold_db(now):  # a new high: hold it (else it keeps falling)
            self._hold_db, self._hold_since = self._peak_db, now
        if self._peak_db >= CLIP_DB:
            self._clipped = True
        self.update()

    @property
    def rms_db(self) -> float:
        return self._rms_db

    @property
    def peak_db(self) -> float:
        return self._peak_db

    @property
    def clipped(self) -> bool:
        return self._clipped

    def peak_hold_db(self, now: float | None = None) -> float:
        """Where the peak-hold line is: held for PEAK_HOLD_S, then falling."""
        now = self._clock() if now is None else now
        falling_for = now - self._hold_since - PEAK_HOLD_S
        if falling_for <= 0:
            return self._hold_db
        return self._hold_db - PEAK_FALL_DB_PER_S * falling_for

    def clear_clip(self) -> None:
        self._clipped = False
        self.update()

    # -- Qt ----------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(200, 16)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 10)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clear_clip()
        super().mousePressEvent(event)

    def _x(self, db: float, left: float, width: float) -> float:
        frac = (min(max(db, MIN_DB), MAX_DB) - MIN_DB) / (MAX_DB - MIN_DB)
        return left + frac * width

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        r = self.rect()
        h = r.height()
        clip_w = min(self.CLIP_BOX_PX, max(4, r.width() // 10))
        bar_w = r.width() - clip_w - 2
        p.fillRect(r, QColor("#15161a"))

        # zones, dim where unlit and bright up to the RMS level
        lit_to = self._x(self._rms_db, 0, bar_w) if self._rms_db > MIN_DB else 0.0
        for lo, hi, lit, unlit in _ZONES:
            x0, x1 = self._x(lo, 0, bar_w), self._x(hi, 0, bar_w)
            p.fillRect(QRectF(x0, 1, x1 - x0, h - 2), unlit)
            if lit_to > x0:
                p.fillRect(QRectF(x0, 1, min(x1, lit_to) - x0, h - 2), lit)

        # scale marks every 6 dB
        p.setPen(QPen(QColor(0, 0, 0, 110), 1))
        db = MIN_DB + 6
        while db < MAX_DB:
            x = round(self._x(db, 0, bar_w))
            p.drawLine(x, 1, x, h - 2)
            db += 6

        # peak-hold line
        hold = self.peak_hold_db()
        if hold > MIN_DB:
            x = self._x(hold, 0, bar_w)
            colour = QColor("#ff6a5f") if hold >= RED_DB else QColor("#ffffff")
            p.fillRect(QRectF(min(x, bar_w - 2), 0, 2, h), colour)

        # clip light
        box = QRectF(bar_w + 2, 1, clip_w, h - 2)
        p.fillRect(box, QColor("#ff2a1f") if self._clipped else QColor("#3a1614"))
        p.end()
