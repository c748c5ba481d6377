"""The piano roll's files: New, Open (.mid), Save, Save As (type 1 .mid), Export WAV (rendered
with the SoundFont). Unsaved changes are asked about before they would be lost."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.atomic import WriteError
from engine.jobs import Priority
from engine.midi.midifile import MidiFileError, read_midi, write_midi
from engine.midi.score import Score
from engine.tasks import music as music_jobs
from gui.common.settings import Keys, get_str

MIDI_FILTER = "MIDI files (*.mid *.midi);;All files (*)"


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

    def open_file(self, path: str) -> bool:
        """Load a .mid; a broken file leaves the current score as it was and says why."""
        try:
            score = read_midi(path)
        except MidiFileError as exc:
            self.banner.show_message(f"Could not open the file: {exc}", "error")
            return False
        self.stop()
        self.doc.load(score, str(path))
        self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self.set_loop(0, 0)
        self.set_playhead(0)
        self._update_title()
        self.banner.hide()
        QTimer.singleShot(0, self.center_on_notes)
        self.statusMessage.emit(f"Opened {Path(path).name}: {score.note_count()} notes, {len(score.tracks)} track(s)")
        return True

    def save(self) -> bool:
        if not self.doc.path:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        path, _ = QFileDialog.getSaveFileName(self, "Save MIDI file", str(Path(folder) / "motif.mid"), MIDI_FILTER)
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
        """Render the whole score and write it as WAV, as a job; returns the job id."""
        job = self.queue.submit(music_jobs.export_wav, self.doc.score.copy(), path, kind="export", title=f"Export {Path(path).name}",
                                priority=Priority.INTERACTIVE, lane="cpu")
        return job.id
