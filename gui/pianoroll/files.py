"""The piano roll's files: New, Open (.mid), Save, Save As (type 1 .mid), Export WAV (rendered
with the SoundFont), and a score made elsewhere (Generate's Compose) opened as one undoable step.
Unsaved changes are asked about before they would be lost."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.atomic import WriteError
from engine.audio.takes import safe_filename
from engine.jobs import Priority
from engine.midi.midifile import MidiFileError, read_midi, write_midi
from engine.midi.score import Score
from engine.tasks import music as music_jobs
from gui.common.settings import Keys, get_str

MIDI_FILTER = "MIDI files (*.mid *.midi);;All files (*)"
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "motifs"


class _OpenScoreCommand(QUndoCommand):
    """The whole score swapped for another (its own ticks per beat too), the file name let go:
    undo puts back the very Score object, path, track and selection that were there."""

    def __init__(self, view, score: Score, title: str) -> None:
        super().__init__(f"Open “{title}”")
        doc = view.doc
        self.view = view
        self.before = (doc.score, doc.path, doc.current, set(doc.selection), getattr(view, "suggested_name", None))
        self.after = (score, None, 0, set(), title)

    def redo(self) -> None:
        self.view._put_score(*self.after)

    def undo(self) -> None:
        self.view._put_score(*self.before)


class FilesMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: the document's file and its saved state."""

    @property
    def modified(self) -> bool:
        return not self.doc.undo_stack.isClean()

    def maybe_save(self) -> bool:
        """Before changes would be lost: Save / Discard / Cancel. True when it is fine to go on."""
        if not self.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {Path(self.doc.path).name if self.doc.path else 'the motif'}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_score(self) -> None:
        if self.maybe_save():
            self.stop()
            self.doc.load(Score())
            self.suggested_name = self.opened_example = None
            self.set_loop(0, 0)
            self.set_playhead(0)
            self._update_title()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open MIDI file", folder, MIDI_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str, example: bool = False) -> bool:
        """Load a .mid; a broken file leaves the current score as it was and says why. An
        ``example`` (a shipped motif) opens untitled: Save asks where, never over the example."""
        try:
            score = read_midi(path)
        except MidiFileError as exc:
            self.banner.show_message(f"Could not open the file: {exc}", "error")
            return False
        self.stop()
        self.doc.load(score, None if example else str(path))
        self.suggested_name = Path(path).stem if example else None
        self.opened_example = Path(path).name if example else None  # the title shows it (it was "Untitled")
        if not example:
            self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self.set_loop(0, 0)
        self.set_playhead(0)
        self._update_title()
        self.banner.hide()
        QTimer.singleShot(0, self.center_on_notes)
        self.statusMessage.emit(f"Opened {Path(path).name}: {score.note_count()} notes, {len(score.tracks)} track(s)")
        return True

    def open_score(self, score: Score, title: str) -> None:
        """Replace the score with ``score`` (a composed piece) as one undoable step; the document is
        then modified (closing asks to save) and has no file yet (Save asks where, named after ``title``)."""
        self.stop()
        if not score.tracks:
            score = Score(ticks_per_beat=score.ticks_per_beat, tempos=score.tempos,
                          time_signatures=score.time_signatures)
        self.doc.undo_stack.push(_OpenScoreCommand(self, score, title))
        self.set_loop(0, 0)
        self.set_playhead(0)
        self.banner.hide()
        QTimer.singleShot(0, self.center_on_notes)
        self.statusMessage.emit(f"Opened “{title}”: {score.note_count()} notes (Ctrl+Z puts back what was here)")

    def _put_score(self, score: Score, path: str | None, current: int, selection: set, name: str | None) -> None:
        doc = self.doc
        doc.score, doc.path, doc.current, doc.selection = score, path, min(current, len(score.tracks) - 1), selection
        self.suggested_name = name
        self.opened_example = None
        self._snap_changed()  # the snap is in ticks, and ticks per beat may differ
        doc.changed.emit()
        doc.selectionChanged.emit()
        self._update_title()

    def save(self) -> bool:
        if not self.doc.path:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        name = safe_filename(getattr(self, "suggested_name", None) or "motif")[:60].strip() or "motif"
        path, _ = QFileDialog.getSaveFileName(self, "Save MIDI file", str(Path(folder) / f"{name}.mid"), MIDI_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".mid"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        try:
            write_midi(self.doc.score, path)
        except WriteError as exc:  # already "could not save 'name': the cause"
            self.banner.show_message(str(exc)[:1].upper() + str(exc)[1:], "error")
            return False
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not save {Path(path).name}: {exc}", "error")
            return False
        self.doc.path = str(path)
        self.doc.undo_stack.setClean()
        self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self._update_title()
        self._clear_autosave()
        self.statusMessage.emit(f"Saved {Path(path).name}")
        return True

    def export_wav_dialog(self) -> None:
        folder = get_str(self.settings, Keys.PATHS_EXPORT_DIR, str(Path.home()))
        stem = Path(self.doc.path).stem if self.doc.path else "motif"
        path, _ = QFileDialog.getSaveFileName(self, "Export audio", str(Path(folder) / f"{stem}.wav"),
                                              "WAV audio (*.wav)")
        if path:
            self.settings.setValue(Keys.PATHS_EXPORT_DIR, str(Path(path).parent))
            self.export_wav(path if path.endswith(".wav") else path + ".wav")

    def export_wav(self, path: str) -> int:
        """Render the whole score and write it as WAV, as a job; returns the job id. Its end is
        said: the file written (status bar), or why not (banner)."""
        name = Path(path).name
        job = self.queue.submit(music_jobs.export_wav, self.doc.score.copy(), path, kind="export", title=f"Export {name}",
                                priority=Priority.INTERACTIVE, lane="cpu")
        self.bridge.watch(job.id, on_finished=lambda _: self.statusMessage.emit(f"Exported {name}"),
                          on_failed=lambda message, _: self.banner.show_message(f"Could not export {name}: {message}",
                                                                                "error"))
        return job.id

    def example_motifs(self) -> list[Path]:
        """The motifs shipped in assets/motifs (CC0), offered by File › Open example motif."""
        return sorted(EXAMPLES.glob("*.mid"))

    def open_example(self, path: str | Path) -> bool:
        """Open a shipped motif (unsaved changes asked about first)."""
        return self.maybe_save() and self.open_file(str(path), example=True)
