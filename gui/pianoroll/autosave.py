"""The piano roll's autosave: every ``AUTOSAVE_SECONDS`` with changes (and on each save) the score
is also written to the autosave folder; after a crash the next start offers it back."""

from __future__ import annotations

import json
import time

from engine.atomic import write_text
from engine.midi.midifile import MidiFileError, read_midi, write_midi

AUTOSAVE_SECONDS = 30


class AutosaveMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: write, offer back, restore or discard."""

    def autosave(self) -> None:
        """Write unsaved changes where a crash cannot take them (at most a minute is ever lost)."""
        if not self.modified:
            return
        try:
            self.autosave_dir.mkdir(parents=True, exist_ok=True)
            write_midi(self.doc.score, self.autosave_dir / "piano-roll.mid")
            meta = {"path": self.doc.path, "saved_at": time.time()}
            write_text(self.autosave_dir / "piano-roll.json", json.dumps(meta))
        except (OSError, ValueError) as exc:
            self.statusMessage.emit(f"Autosave failed: {exc}")

    def _clear_autosave(self) -> None:
        for name in ("piano-roll.mid", "piano-roll.json"):
            (self.autosave_dir / name).unlink(missing_ok=True)

    def _offer_autosave(self) -> None:
        mid = self.autosave_dir / "piano-roll.mid"
        if not mid.exists():
            return
        self.banner.show_message("The piano roll has unsaved work from a session that ended unexpectedly.", "warn",
                                 [("Restore", self.restore_autosave), ("Discard", self._discard_autosave)])

    def restore_autosave(self) -> bool:
        mid = self.autosave_dir / "piano-roll.mid"
        try:
            score = read_midi(mid)
            meta = json.loads((self.autosave_dir / "piano-roll.json").read_text())
        except (MidiFileError, OSError, ValueError) as exc:
            self.banner.show_message(f"The autosaved work could not be read: {exc}", "error")
            return False
        self.doc.load(score, meta.get("path"))
        self.doc.undo_stack.resetClean()  # unsaved until the user saves it
        self._update_title()
        self.banner.show_message("Restored the autosaved work: save it to keep it.", "info")
        return True

    def _discard_autosave(self) -> None:
        self._clear_autosave()
        self.banner.hide()
