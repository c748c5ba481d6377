"""The piano roll's note grid: draw, select, move, resize, marquee.

Each paint covers only the exposed rectangle: notes are kept sorted by start, so the visible
ones are found by bisection, which keeps a 10,000-note score as fast as a small one.
Drags are previewed without touching the document; the release makes one undo step.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from engine.midi.score import Note
from gui.pianoroll.document import RollDocument
from gui.pianoroll.geometry import BLACK_KEYS, RollGeometry, RollSurface, velocity_colour


class RollCanvas(RollSurface):
    """The note grid: draw, select, move, resize, marquee."""

    playheadMoved = Signal(int)
    EDGE = 5  # pixels at a note's ends that resize instead of move

    def __init__(self, doc: RollDocument, geo: RollGeometry, parent: QWidget | None = None) -> None:
        super().__init__(doc, geo, parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.tool = "draw"  # or "select"
        self.playhead = 0
        self.loop: tuple[int, int] | None = None
        self.new_length = 480  # length of a drawn note; follows the last one drawn or resized
        self.preview_notes: list[Note] = []  # a continuation to audition (not in the score yet)
        self._index: list[tuple[list[int], int]] = []  # per track: sorted starts, longest note
        self._drag: dict | None = None
        doc.changed.connect(self._reindex)
        self._reindex()

    # -- index -----------------------------------------------------------------------------------
    def _reindex(self) -> None:
        """Once per change, not per paint: every track's starts (its notes are kept sorted)."""
        self._index = [([n.start for n in t.notes], max((n.duration for n in t.notes), default=0))
                       for t in self.doc.score.tracks]
        self.resize_to_content()

    def resize_to_content(self) -> None:
        size = QSize(int(self.geo.x(self.content_ticks())), 128 * self.geo.row)
        if size != self.size():
            self.setFixedSize(size)

    def visible_notes(self, left_tick: float, right_tick: float, track: int | None = None) -> list[Note]:
        """Notes of a track (default: the current one) sounding between the two ticks."""
        track = self.doc.current if track is None else track
        notes = self.doc.score.tracks[track].notes
        starts, longest = self._index[track]
        i0 = bisect.bisect_left(starts, left_tick - longest)
        i1 = bisect.bisect_right(starts, right_tick)
        return [n for n in notes[i0:i1] if n.end >= left_tick]

    def note_rect(self, n: Note) -> QRectF:
        g = self.geo
        return QRectF(g.x(n.start), g.y(n.pitch), max(2.0, g.x(n.duration)), g.row)

    def note_at(self, pos: QPoint) -> Note | None:
        tick = self.geo.tick(pos.x())
        pitch = self.geo.pitch(pos.y())
        slack = self.EDGE / self.geo.px_per_tick
        for n in reversed(self.visible_notes(tick - slack, tick + slack)):
            if n.pitch == pitch and n.start - slack <= tick <= n.end + slack:
                return n
        return None

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        g, score = self.geo, self.doc.score
        rect = event.rect()
        p = QPainter(self)
        left, right = g.tick(rect.left()), g.tick(rect.right() + 1)
        top_pitch, bottom_pitch = g.pitch(rect.top()), g.pitch(rect.bottom())
        # rows: black keys darker, a line under every C
        for pitch in range(bottom_pitch, top_pitch + 1):
            y = g.y(pitch)
            p.fillRect(rect.left(), y, rect.width(), g.row,
                       QColor(232, 234, 238) if pitch % 12 in BLACK_KEYS else QColor(246, 247, 249))
            if pitch % 12 == 0:
                p.setPen(QColor(190, 194, 202))
                p.drawLine(rect.left(), y + g.row - 1, rect.right(), y + g.row - 1)
        if self.loop:
            x0, x1 = g.x(self.loop[0]), g.x(self.loop[1])
            p.fillRect(QRectF(x0, rect.top(), x1 - x0, rect.height()), QColor(120, 200, 120, 40))
        # columns: snap steps, beats, bars
        tpb, bar = score.ticks_per_beat, score.ticks_per_bar
        step = g.snap if g.snap and g.x(g.snap) >= 6 else tpb
        first = int(left // step) * step
        tick = first
        while tick <= right:
            if tick % bar == 0:
                p.setPen(QColor(150, 155, 165))
            elif tick % tpb == 0:
                p.setPen(QColor(200, 204, 212))
            else:
                p.setPen(QColor(222, 225, 230))
            x = int(g.x(tick))
            p.drawLine(x, rect.top(), x, rect.bottom())
            tick += step
        # other tracks as ghosts
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(150, 150, 160, 70))
        for i in range(len(score.tracks)):
            if i == self.doc.current:
                continue
            for n in self.visible_notes(left, right, track=i):
                if bottom_pitch <= n.pitch <= top_pitch:
                    p.drawRect(self.note_rect(n))
        # this track's notes (dragged ones where the drag puts them)
        hidden, preview = set(), []
        if self._drag and self._drag.get("preview") is not None:
            hidden, preview = self._drag["originals"], self._drag["preview"]
        selection = self.doc.selection
        border = QPen(QColor(40, 60, 100))
        p.setPen(border)
        for n in self.visible_notes(left, right):
            if n in hidden or not bottom_pitch <= n.pitch <= top_pitch:
                continue
            p.setBrush(velocity_colour(n.velocity, n in selection))
            p.drawRect(self.note_rect(n))
        for n in preview:
            p.setBrush(velocity_colour(n.velocity, True))
            p.drawRect(self.note_rect(n))
        # a continuation being auditioned: green, see-through
        if self.preview_notes:
            p.setPen(QPen(QColor(30, 120, 60)))
            p.setBrush(QColor(80, 200, 120, 170))
            for n in self.preview_notes:
                if n.end >= left and n.start <= right and bottom_pitch <= n.pitch <= top_pitch:
                    p.drawRect(self.note_rect(n))
        # marquee, playhead
        if self._drag and self._drag["mode"] == "marquee":
            p.setPen(QPen(QColor(60, 90, 160), 1, Qt.PenStyle.DashLine))
            p.setBrush(QColor(60, 90, 160, 30))
            p.drawRect(QRect(self._drag["origin"], self._drag["pos"]).normalized())
        x = int(g.x(self.playhead))
        if rect.left() <= x <= rect.right():
            p.setPen(QPen(QColor(220, 40, 40), 2))
            p.drawLine(x, rect.top(), x, rect.bottom())
        p.end()

    def set_playhead(self, tick: int) -> None:
        old = int(self.geo.x(self.playhead))
        self.playhead = max(0, int(tick))
        new = int(self.geo.x(self.playhead))
        self.update(QRect(old - 2, 0, 5, self.height()))
        self.update(QRect(new - 2, 0, 5, self.height()))

    # -- mouse -------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        self.setFocus()
        pos = event.position().toPoint()
        mods = event.modifiers()
        note = self.note_at(pos)
        if event.button() == Qt.MouseButton.RightButton:
            if note is not None:
                self.doc.replace_notes([note], [], "Delete", select=False)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if note is None:
            if self.tool == "draw":
                start = self.geo.snapped(self.geo.tick(pos.x()), "floor")
                note = Note(start, self.geo.pitch(pos.y()), self.new_length, 100)
                self.doc.add_note(note)
                self._begin_drag("right", pos, [note], created=True)
            else:
                if not mods & Qt.KeyboardModifier.ShiftModifier:
                    self.doc.select([])
                self._drag = {"mode": "marquee", "origin": pos, "pos": pos,
                              "base": set(self.doc.selection)}
            return
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.doc.select(self.doc.selection ^ {note})
            return
        if note not in self.doc.selection:
            self.doc.select([note], add=bool(mods & Qt.KeyboardModifier.ShiftModifier))
        x0, x1 = self.geo.x(note.start), self.geo.x(note.end)
        mode = "left" if pos.x() - x0 <= self.EDGE and x1 - x0 > 3 * self.EDGE else \
            "right" if x1 - pos.x() <= self.EDGE else "move"
        self._begin_drag(mode, pos, sorted(self.doc.selection), anchor=note)

    def _begin_drag(self, mode: str, pos: QPoint, notes: list[Note], anchor: Note | None = None,
                    created: bool = False) -> None:
        self._drag = {"mode": mode, "origin": pos, "pos": pos, "originals": set(notes), "notes": notes,
                      "anchor": anchor or notes[0], "preview": None, "created": created}

    def drag_preview(self, pos: QPoint) -> list[Note] | None:
        """Where the dragged notes would go for the mouse at ``pos`` (None: nowhere valid)."""
        d, g = self._drag, self.geo
        anchor = d["anchor"]
        dt = g.tick(pos.x()) - g.tick(d["origin"].x())
        out = []
        if d["mode"] == "move":
            ticks = g.snapped(anchor.start + dt) - anchor.start if g.snap else round(dt)
            ticks = max(ticks, -min(n.start for n in d["notes"]))
            semis = g.pitch(pos.y()) - g.pitch(d["origin"].y())
            semis = max(-min(n.pitch for n in d["notes"]), min(127 - max(n.pitch for n in d["notes"]), semis))
            out = [replace(n, start=n.start + ticks, pitch=n.pitch + semis) for n in d["notes"]]
        elif d["mode"] == "right":
            new_end = g.snapped(anchor.end + dt) if g.snap else round(anchor.end + dt)
            delta = new_end - anchor.end
            out = [replace(n, duration=max(1, n.duration + delta)) for n in d["notes"]]
        elif d["mode"] == "left":
            new_start = g.snapped(anchor.start + dt) if g.snap else round(anchor.start + dt)
            delta = new_start - anchor.start
            out = [replace(n, start=max(0, min(n.end - 1, n.start + delta)),
                           duration=n.end - max(0, min(n.end - 1, n.start + delta))) for n in d["notes"]]
        return out

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self._drag is None:
            note = self.note_at(pos)
            cursor = Qt.CursorShape.ArrowCursor
            if note is not None:
                x0, x1 = self.geo.x(note.start), self.geo.x(note.end)
                near_edge = pos.x() - x0 <= self.EDGE or x1 - pos.x() <= self.EDGE
                cursor = Qt.CursorShape.SizeHorCursor if near_edge else Qt.CursorShape.SizeAllCursor
            self.setCursor(cursor)
            return
        d = self._drag
        old_area = self._drag_area()
        d["pos"] = pos
        if d["mode"] == "marquee":
            area = QRect(d["origin"], pos).normalized()
            t0, t1 = self.geo.tick(area.left()), self.geo.tick(area.right())
            p_hi, p_lo = self.geo.pitch(area.top()), self.geo.pitch(area.bottom())
            inside = {n for n in self.visible_notes(t0, t1)
                      if p_lo <= n.pitch <= p_hi and n.end >= t0 and n.start <= t1}
            self.doc.selection = d["base"] | inside
            self.doc.selectionChanged.emit()
        else:
            d["preview"] = self.drag_preview(pos)
        self.update(old_area.united(self._drag_area()))

    def _drag_area(self) -> QRect:
        """What a drag step may have changed on screen (repainting only that keeps drags fast)."""
        d = self._drag
        if d is None:
            return QRect()
        if d["mode"] == "marquee":
            return self.rect()  # selection colours anywhere may change
        notes = (d["preview"] or []) + d["notes"]
        if not notes:
            return QRect()
        t0, t1 = min(n.start for n in notes), max(n.end for n in notes)
        p0, p1 = min(n.pitch for n in notes), max(n.pitch for n in notes)
        return QRect(int(self.geo.x(t0)) - 2, self.geo.y(p1) - 2,
                     int(self.geo.x(t1 - t0)) + 5, self.geo.y(p0) - self.geo.y(p1) + self.geo.row + 4)

    def mouseReleaseEvent(self, event) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        if d["mode"] != "marquee" and d["preview"] is not None and d["preview"] != d["notes"]:
            if d["created"]:  # drawing and stretching a new note is one step: merge with its drawing
                self.doc.undo_stack.undo()
                self.doc.replace_notes([], d["preview"], "Draw note")
            else:
                self.doc.replace_notes(d["notes"], d["preview"], "Move" if d["mode"] == "move" else "Resize")
            if d["mode"] != "move":
                self.new_length = d["preview"][0].duration
        self.doc.changed.emit()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            event.ignore()  # the view zooms
            return
        super().wheelEvent(event)
