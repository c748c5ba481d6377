"""The piano roll's edits beyond the mouse: transpose, quantize, split, clipboard, duplicate, and
the selection edits of ``engine.midi.edit`` (legato, join, velocity)."""

from __future__ import annotations

from engine.midi import edit
from engine.midi.score import Note


class EditingMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: edits of the selection, one undo step each."""

    _clipboard: list[Note]

    def transpose(self, semitones: int) -> None:
        self._guard(self.doc.transpose_selection, semitones)

    def quantize(self) -> None:
        grid = self.geo.snap or self.doc.score.ticks_per_beat // 4
        self.doc.quantize_selection(grid, self.strength_spin.value() / 100)

    def _edit_selection(self, fn, text: str) -> None:
        self._guard(self.doc.apply_to_selection, fn, text)

    def split_at_playhead(self) -> None:
        """Cut the selected notes that the playhead crosses in two there."""
        tick = self.canvas.playhead
        crossed = [n for n in self.doc.selection if n.start < tick < n.end]
        if crossed:
            self.doc.replace_notes(crossed, [part for n in crossed for part in edit.split(n, tick)], "Split")

    def copy(self) -> None:
        self._clipboard = sorted(self.doc.selection)
        if self._clipboard:
            self.statusMessage.emit(f"Copied {len(self._clipboard)} note(s)")

    def cut(self) -> None:
        self.copy()
        self.doc.delete_selection()

    def paste(self, at: int | None = None) -> None:
        """The clipboard's first note lands on the playhead (or ``at``)."""
        if not self._clipboard:
            return
        at = self.canvas.playhead if at is None else at
        offset = at - min(n.start for n in self._clipboard)
        self.doc.replace_notes([], edit.move(self._clipboard, ticks=offset), "Paste")

    def duplicate(self) -> None:
        """A copy of the selection right after it (it becomes the selection)."""
        chosen = sorted(self.doc.selection)
        if not chosen:
            return
        from engine.midi import edit

        span = max(n.end for n in chosen) - min(n.start for n in chosen)
        step = self.geo.snap or 1
        span = -(-span // step) * step  # whole grid steps
        self.doc.replace_notes([], edit.move(chosen, ticks=span), "Duplicate")
