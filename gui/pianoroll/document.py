"""The piano roll's document: the Score being edited, the current track, the selection, and an
undo stack on which every edit is a snapshot pair (so undo returns exactly the previous state).

Snapshots are cheap: notes are immutable, so a snapshot holds tuples of the same Note objects.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.midi import edit
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track


@dataclass(frozen=True)
class Snapshot:
    tracks: tuple[tuple[str, int, int, tuple[Note, ...]], ...]
    tempos: tuple[TempoChange, ...]
    time_signatures: tuple[TimeSignature, ...]
    current: int
    selection: frozenset[Note]


class _SnapshotCommand(QUndoCommand):
    def __init__(self, doc: RollDocument, before: Snapshot, after: Snapshot, text: str) -> None:
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after

    def redo(self) -> None:
        self.doc.restore(self.after)

    def undo(self) -> None:
        self.doc.restore(self.before)


class RollDocument(QObject):
    changed = Signal()  # notes, tracks, tempo or selection changed: repaint
    selectionChanged = Signal()

    def __init__(self, score: Score | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.score = score or Score()
        self.current = 0
        self.selection: set[Note] = set()
        self.path: str | None = None

    # -- state ---------------------------------------------------------------------------------
    def load(self, score: Score, path: str | None = None) -> None:
        if not score.tracks:
            score.tracks.append(Track(name="Piano"))
        self.score, self.path, self.current = score, path, 0
        self.selection = set()
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.changed.emit()
        self.selectionChanged.emit()

    def snapshot(self) -> Snapshot:
        s = self.score
        return Snapshot(tuple((t.name, t.channel, t.program, tuple(t.notes)) for t in s.tracks),
                        tuple(s.tempos), tuple(s.time_signatures), self.current, frozenset(self.selection))

    def restore(self, snap: Snapshot) -> None:
        self.score.tracks = [Track(name, ch, prog, list(notes)) for name, ch, prog, notes in snap.tracks]
        self.score.tempos, self.score.time_signatures = list(snap.tempos), list(snap.time_signatures)
        self.current = snap.current
        self.selection = set(snap.selection)
        self.changed.emit()
        self.selectionChanged.emit()

    @property
    def track(self) -> Track:
        return self.score.tracks[self.current]

    @property
    def notes(self) -> list[Note]:
        return self.track.notes

    # -- editing ---------------------------------------------------------------------------------
    def commit(self, before: Snapshot, text: str) -> None:
        """Record the change from ``before`` to now as one undoable step."""
        after = self.snapshot()
        if after != before:
            self.undo_stack.push(_SnapshotCommand(self, before, after, text))
        self.changed.emit()

    def replace_notes(self, old: list[Note] | set[Note], new: list[Note], text: str,
                      select: bool | None = True) -> None:
        """Take ``old`` out of the current track, put ``new`` in, as one undo step; then select
        ``new`` (``select`` True), keep the rest of the selection (False) or select nothing (None)."""
        before = self.snapshot()
        gone = set(old)
        kept = [n for n in self.notes if n not in gone]
        self.track.notes = sorted(kept + list(new))
        self.selection = set(new) if select else (self.selection - gone if select is False else set())
        self.commit(before, text)
        self.selectionChanged.emit()

    def add_note(self, note: Note) -> None:
        self.replace_notes([], [note], "Draw note")

    def delete_selection(self) -> None:
        if self.selection:
            self.replace_notes(self.selection, [], "Delete", select=False)

    def apply_to_selection(self, fn, text: str) -> None:
        """``fn(list of selected notes) -> new notes``; a ValueError (out of range) changes nothing."""
        if not self.selection:
            return
        chosen = sorted(self.selection)
        new = fn(chosen)
        self.replace_notes(chosen, new, text)

    def transpose_selection(self, semitones: int) -> None:
        self.apply_to_selection(lambda ns: edit.transpose(ns, semitones), "Transpose")

    def quantize_selection(self, grid: int, strength: float = 1.0) -> None:
        self.apply_to_selection(lambda ns: edit.quantize(ns, grid, strength), "Quantize")

    def set_velocities(self, notes: list[Note], velocity: int, text: str = "Velocity") -> None:
        velocity = min(127, max(1, int(velocity)))
        self.replace_notes(notes, [replace(n, velocity=velocity) for n in notes], text)

    def select(self, notes, add: bool = False) -> None:
        self.selection = (self.selection | set(notes)) if add else set(notes)
        self.selectionChanged.emit()
        self.changed.emit()

    def select_all(self) -> None:
        self.select(self.notes)

    def set_tempo(self, bpm: float) -> None:
        from engine.midi.score import bpm_to_tempo

        before = self.snapshot()
        rest = [t for t in self.score.tempos if t.tick != 0]
        self.score.tempos = [TempoChange(0, bpm_to_tempo(bpm))] + rest
        self.commit(before, "Tempo")

    def set_time_signature(self, numerator: int, denominator: int) -> None:
        before = self.snapshot()
        rest = [t for t in self.score.time_signatures if t.tick != 0]
        self.score.time_signatures = [TimeSignature(0, numerator, denominator)] + rest
        self.commit(before, "Time signature")

    def set_current_track(self, index: int) -> None:
        if 0 <= index < len(self.score.tracks) and index != self.current:
            self.current = index
            self.selection = set()
            self.changed.emit()
            self.selectionChanged.emit()

    def set_program(self, program: int) -> None:
        before = self.snapshot()
        self.track.program = program
        self.commit(before, "Instrument")
