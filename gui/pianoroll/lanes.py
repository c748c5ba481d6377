"""The surfaces around the piano roll's grid: the keyboard beside it, the ruler above it and the
velocity lane under it. They scroll with the grid and share its geometry."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

from engine.midi.score import Note
from gui.pianoroll.canvas import RollCanvas
from gui.pianoroll.document import RollDocument
from gui.pianoroll.geometry import BLACK_KEYS, RollGeometry, RollSurface, note_name, velocity_colour


class KeyboardWidget(RollSurface):
    """Piano keys beside the rows; a click plays the key."""

    keyPressed = Signal(int)

    def __init__(self, doc: RollDocument, geo: RollGeometry, parent: QWidget | None = None) -> None:
        super().__init__(doc, geo, parent)
        self.setFixedSize(56, 128 * geo.row)
        self.setToolTip("Click a key to hear it")

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        g = self.geo
        font = QFont(p.font())
        font.setPixelSize(max(7, min(11, g.row - 2)))
        p.setFont(font)
        for pitch in range(g.pitch(event.rect().bottom()), g.pitch(event.rect().top()) + 1):
            y = g.y(pitch)
            black = pitch % 12 in BLACK_KEYS
            p.fillRect(0, y, self.width(), g.row, QColor(40, 40, 45) if black else QColor(252, 252, 252))
            p.setPen(QColor(180, 180, 185))
            p.drawLine(0, y + g.row - 1, self.width(), y + g.row - 1)
            if pitch % 12 == 0 and g.row >= 8:
                p.setPen(QColor(60, 60, 60))
                p.drawText(QRect(2, y, self.width() - 4, g.row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                           note_name(pitch))
        p.end()

    def mousePressEvent(self, event) -> None:
        self.keyPressed.emit(self.geo.pitch(event.position().y()))


class RulerWidget(RollSurface):
    """Bar numbers; click to place the playhead, drag to mark the loop region."""

    playheadRequested = Signal(int)
    loopRequested = Signal(int, int)

    def __init__(self, doc: RollDocument, geo: RollGeometry, parent: QWidget | None = None) -> None:
        super().__init__(doc, geo, parent)
        self.setFixedHeight(22)
        self.loop: tuple[int, int] | None = None
        self._press: int | None = None
        self.setToolTip("Click: move the playhead · drag: set the loop region")

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        g, score = self.geo, self.doc.score
        p.fillRect(event.rect(), QColor(235, 236, 240))
        if self.loop:
            p.fillRect(QRectF(g.x(self.loop[0]), 0, g.x(self.loop[1] - self.loop[0]), self.height()),
                       QColor(110, 190, 110, 120))
        bar = score.ticks_per_bar
        tick = int(g.tick(event.rect().left()) // bar) * bar
        every = max(1, int(40 / max(g.x(bar), 1e-6)) + 1)  # label spacing at small zoom
        while g.x(tick) <= event.rect().right():
            x = int(g.x(tick))
            p.setPen(QColor(120, 120, 130))
            p.drawLine(x, 10, x, self.height())
            number = tick // bar + 1
            if (number - 1) % every == 0:
                p.drawText(x + 3, 12, str(number))
            tick += bar
        p.end()

    def mousePressEvent(self, event) -> None:
        self._press = int(event.position().x())

    def mouseReleaseEvent(self, event) -> None:
        if self._press is None:
            return
        x0, x1 = sorted((self._press, int(event.position().x())))
        self._press = None
        if x1 - x0 < 4:
            self.playheadRequested.emit(self.geo.snapped(self.geo.tick(x0), "floor"))
        else:
            self.loopRequested.emit(self.geo.snapped(self.geo.tick(x0)), self.geo.snapped(self.geo.tick(x1)))

    def resize_to_content(self, width: int) -> None:
        self.setFixedWidth(width)


class VelocityLane(RollSurface):
    """One bar per note of the current track; drag a bar (or the selection's) up and down."""

    def __init__(self, doc: RollDocument, geo: RollGeometry, canvas: RollCanvas, parent: QWidget | None = None) -> None:
        super().__init__(doc, geo, parent)
        self.canvas = canvas
        self.setFixedHeight(80)
        self._drag: tuple[list[Note], int] | None = None
        self.setToolTip("Drag a bar to set the velocity (of all selected notes if it is selected)")

    def velocity_at(self, y: float) -> int:
        return min(127, max(1, round(127 * (self.height() - 2 - y) / (self.height() - 4))))

    def bar_height(self, velocity: int) -> float:
        return (self.height() - 4) * velocity / 127

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), QColor(246, 247, 249))
        g = self.geo
        left, right = g.tick(event.rect().left() - 4), g.tick(event.rect().right() + 4)
        dragged = {}
        if self._drag is not None:
            dragged = {n: self._drag[1] for n in self._drag[0]}
        selection = self.doc.selection
        for n in self.canvas.visible_notes(left, right):
            if n.start < left:
                continue
            v = dragged.get(n, n.velocity)
            h = self.bar_height(v)
            x = g.x(n.start)
            p.fillRect(QRectF(x, self.height() - 2 - h, 4, h), velocity_colour(v, n in selection))
        p.end()

    def notes_at(self, x: float) -> list[Note]:
        tick = self.geo.tick(x)
        slack = 4 / self.geo.px_per_tick
        return [n for n in self.canvas.visible_notes(tick - slack, tick + slack) if abs(n.start - tick) <= slack]

    def mousePressEvent(self, event) -> None:
        hits = self.notes_at(event.position().x())
        if not hits:
            return
        chosen = sorted(self.doc.selection) if any(n in self.doc.selection for n in hits) else hits
        self._drag = (chosen, self.velocity_at(event.position().y()))
        self.update()

    def mouseMoveEvent(self, event) -> None:
        if self._drag is not None:
            self._drag = (self._drag[0], self.velocity_at(event.position().y()))
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is not None:
            notes, velocity = self._drag
            self._drag = None
            self.doc.set_velocities(notes, velocity)
