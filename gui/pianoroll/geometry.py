"""What the piano roll's drawing surfaces share: one ``RollGeometry`` (pixels per tick, row
height), note names and colours, and a base widget that repaints when the document changes."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from gui.pianoroll.document import RollDocument

BLACK_KEYS = {1, 3, 6, 8, 10}
NOTE_NAMES = "C C# D D# E F F# G G# A A# B".split()


def note_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"  # 60 = C4


class RollGeometry:
    def __init__(self) -> None:
        self.px_per_tick = 0.1  # 48 px per beat at 480 ticks per beat
        self.row = 12  # pixels per pitch
        self.snap = 120  # ticks; 0 = off

    def x(self, tick: float) -> float:
        return tick * self.px_per_tick

    def tick(self, x: float) -> float:
        return x / self.px_per_tick

    def y(self, pitch: int) -> int:
        return (127 - pitch) * self.row

    def pitch(self, y: float) -> int:
        return min(127, max(0, 127 - int(y // self.row)))

    def snapped(self, tick: float, mode: str = "round") -> int:
        if self.snap <= 0:
            return max(0, round(tick))
        steps = tick / self.snap
        return max(0, int(steps // 1 if mode == "floor" else round(steps)) * self.snap)


def velocity_colour(velocity: int, selected: bool) -> QColor:
    if selected:
        return QColor(255, 170, 60)
    v = velocity / 127
    return QColor(int(60 + 40 * v), int(120 + 60 * v), int(190 + 50 * v))


class RollSurface(QWidget):
    """Base: knows the document and geometry, repaints when the document changes."""

    def __init__(self, doc: RollDocument, geo: RollGeometry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.geo = doc, geo
        doc.changed.connect(self.update)

    def content_ticks(self) -> int:
        tpb = self.doc.score.ticks_per_beat
        bar = self.doc.score.ticks_per_bar
        return max(self.doc.score.end_tick, 32 * bar) + 8 * bar + tpb
