"""The Record view's crash recovery: takes interrupted by a crash are offered back at start."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from engine.audio.takes import Take, TakeError
from gui.common.widgets import format_duration


class RecoveryMixin:
    """Part of :class:`gui.record.view.RecordView`: offer, recover or discard interrupted takes."""

    def is_recovered(self, take: Take) -> bool:
        """Whether ``take`` was recovered after a crash: this session, or by its name (the
        library names recovered takes "… (recovered)", or "Recovered …" when it lost the name)."""
        return (take.id in self._recovered_ids or take.name.endswith("(recovered)")
                or take.name.startswith("Recovered "))

    def _offer_recovery(self) -> None:
        try:  # takes another Motet is recording now are not offered
            pending = self.library.pending_recoveries()
        except TakeError as exc:  # the library is held too long by another Motet
            self.banner.show_message(f"Could not look for interrupted takes: {exc}", "warn")
            return
        if not pending:
            return
        names = ", ".join(f"'{t.name}'" for t in pending[:3]) + ("…" if len(pending) > 3 else "")
        self.banner.show_message(
            f"Motet closed while recording. {len(pending)} interrupted take(s) can be recovered: {names}",
            "warn", [("Recover", self.recover_all), ("Discard", self.discard_recoveries)])

    def recover_all(self) -> list[Take]:
        recovered, errors = [], []
        try:
            pending = self.library.pending_recoveries()
        except TakeError as exc:
            pending, errors = [], [str(exc)]
        for take in pending:
            try:
                recovered.append(self.library.recover(take))
                self._recovered_ids.add(recovered[-1].id)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                errors.append(f"{take.name}: {exc}")
        self.refresh_takes(select=recovered[0].id if recovered else None)
        if errors:
            self.banner.show_message("Some takes could not be recovered: " + "; ".join(errors), "error")
        else:
            self.banner.show_message(
                "Recovered " + ", ".join(f"'{t.name}' ({format_duration(t.duration)})" for t in recovered), "info")
        return recovered

    def discard_recoveries(self) -> None:
        if QMessageBox.question(self, "Discard interrupted takes",
                                "Delete the interrupted recordings for good?") != QMessageBox.StandardButton.Yes:
            return
        try:
            for take in self.library.pending_recoveries():
                self.library.discard_recovery(take)
        except (TakeError, OSError) as exc:  # recording again meanwhile (another Motet), or busy
            self.banner.show_message(f"Some takes were not discarded: {exc}", "error")
            return
        self.banner.hide()
