"""The Record view's takes: the list, and what can be done with one (play, rename, delete, export,
transcribe). Loading and exporting run on the job queue, so a long take never freezes the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.audio.devices import AudioUnavailable
from engine.audio.takes import safe_filename
from engine.jobs import Priority
from engine.tasks import takes as take_jobs
from gui.common.settings import Keys, get_str
from gui.common.widgets import format_duration


class TakesMixin:
    """Part of :class:`gui.record.view.RecordView`: the takes list, its buttons and their actions."""

    def _build_takes_box(self) -> QWidget:
        """The takes list (rename in place) under its title and buttons."""
        self.takes = QTreeWidget()
        self.takes.setObjectName("takes")
        self.takes.setHeaderLabels(["Name", "Date", "Duration"])
        self.takes.setRootIsDecorated(False)
        self.takes.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.takes.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.DoubleClicked)
        header = self.takes.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.play_button = QPushButton("▶ Play")  # "■ Stop" while a take plays
        self.play_button.setToolTip("Play the selected take (Enter); again to stop")
        self.playback_timer = QTimer(self)  # follows playback: the playhead, and the button at its end
        self.playback_timer.setInterval(40)
        self.playback_timer.timeout.connect(self._follow_playback)
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export audio…")
        self.export_button.setToolTip("Save the selected take as WAV or FLAC")
        self.transcribe_button = QPushButton("Transcribe")
        self.transcribe_button.setToolTip("Transcribe the selected take on the Transcribe page (its transcript "
                                          "stays; \"Transcribe again\" above the transcript replaces it)")
        self._add_take_menu()
        self.takes.setMinimumHeight(56)  # the header and a row: the window must fit 1024x700 with a take shown
        header_row = QHBoxLayout()  # title and actions above the list, as the transcript has them
        header_row.addWidget(QLabel("<b>Takes</b>"))
        for b in (self.play_button, self.rename_button, self.delete_button, self.export_button,
                  self.transcribe_button):
            header_row.addWidget(b)
        header_row.addStretch(1)
        takes_box = QWidget()
        takes_layout = QVBoxLayout(takes_box)
        takes_layout.setContentsMargins(0, 0, 0, 0)
        takes_layout.addLayout(header_row)
        takes_layout.addWidget(self.takes, 1)
        return takes_box

    def _add_take_menu(self) -> None:
        """A take's actions, also in its context menu (right-click)."""
        self.takes.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.take_actions = {}
        for title, slot in (("Play", lambda: self.play_selected()), ("Rename", lambda: self._rename_selected()),
                            ("Export audio…", lambda: self._export_selected()),
                            ("Transcribe on the Transcribe page", lambda: self._transcribe_selected()),
                            ("Transcribe again", lambda: self.retranscribe_selected()),
                            ("Delete", lambda: self.delete_selected(confirm=True))):
            action = QAction(title, self.takes)
            action.triggered.connect(slot)
            self.takes.addAction(action)
            self.take_actions[title] = action

    def refresh_takes(self, select: str | None = None) -> None:
        self.takes.blockSignals(True)
        self.takes.clear()
        for take in self.library.list():
            created = take.created_dt.strftime("%Y-%m-%d %H:%M")
            item = QTreeWidgetItem([take.name, created, format_duration(take.duration)])
            item.setData(0, Qt.ItemDataRole.UserRole, take.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.takes.addTopLevelItem(item)
            if take.id == select:
                item.setSelected(True)
                self.takes.setCurrentItem(item)
        self.takes.blockSignals(False)
        self._take_selection_changed()

    def _take_selection_changed(self) -> None:
        """A take was selected (or none): its buttons, transcript, spectrogram and waveform."""
        self._update_take_buttons()
        self._show_selected_transcript()
        self._show_selected_audio()

    def _show_selected_audio(self) -> None:
        """The selected take's whole spectrogram and waveform, loaded in a job (cpu lane); while
        recording, the live spectrogram stays."""
        take_id = self.selected_take_id()
        if self.recording or take_id == self._shown_take:
            return
        self._shown_take = take_id
        try:
            take = self.library.get(take_id) if take_id is not None else None
        except KeyError:  # deleted meanwhile (by the CLI)
            take = None
        if take is None:
            self.display.clear()
            self.waveform.hide()
            return
        self.display.open_file(take.path, title=f"Show '{take.name}'")

    def _take_audio_failed(self, message: str) -> None:
        self.display.clear()
        self.waveform.hide()
        self.banner.show_message(f"Could not show the take: {message}", "error")

    def selected_take_id(self) -> str | None:
        items = self.takes.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update_take_buttons(self) -> None:
        has = self.selected_take_id() is not None
        for b in (self.rename_button, self.delete_button, self.export_button, self.transcribe_button):
            b.setEnabled(has)
        for action in self.take_actions.values():
            action.setEnabled(has)
        self.play_button.setEnabled(has or self.player.playing)

    def _transcribe_selected(self) -> None:
        take_id = self.selected_take_id()
        if take_id is not None:
            self.transcribeRequested.emit(self.library.get(take_id).path)

    def _item_renamed(self, item: QTreeWidgetItem, column: int) -> None:
        if column != 0:
            return
        take_id = item.data(0, Qt.ItemDataRole.UserRole)
        try:
            self.library.rename(take_id, item.text(0))
        except (ValueError, KeyError, OSError) as exc:
            self.banner.show_message(f"Could not rename the take: {exc}", "error")
            self.refresh_takes(select=take_id)

    def rename_take(self, take_id: str, name: str) -> None:
        self.library.rename(take_id, name)
        self.refresh_takes(select=take_id)

    def _rename_selected(self) -> None:
        items = self.takes.selectedItems()
        if items:
            self.takes.editItem(items[0], 0)

    def delete_selected(self, confirm: bool = True) -> None:
        take_id = self.selected_take_id()
        if take_id is None:
            return
        take = self.library.get(take_id)
        if confirm and QMessageBox.question(
            self, "Delete take", f"Delete '{take.name}' ({format_duration(take.duration)})? This cannot be undone.",
        ) != QMessageBox.StandardButton.Yes:
            return
        if self._playing_take == take_id:
            self.stop_playback()
        self.library.delete(take_id)
        self.refresh_takes()
        self.statusMessage.emit(f"Deleted '{take.name}'")

    def _export_selected(self) -> None:
        take_id = self.selected_take_id()
        if take_id is None:
            return
        take = self.library.get(take_id)
        folder = get_str(self.settings, Keys.PATHS_EXPORT_DIR, str(Path.home()))
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export take", str(Path(folder) / f"{safe_filename(take.name)}.wav"),
            "WAV audio (*.wav);;FLAC audio (*.flac)")
        if not path:
            return
        if not Path(path).suffix:
            path += ".flac" if "FLAC" in chosen else ".wav"
        self.settings.setValue(Keys.PATHS_EXPORT_DIR, str(Path(path).parent))
        self.export_take(take_id, path)

    def export_take(self, take_id: str, path: str) -> int:
        """Export on the job queue (a long take must not freeze the window); returns the job id."""
        take = self.library.get(take_id)
        job = self.queue.submit(take_jobs.export_take, self.library, take_id, path, kind="export",
                                title=f"Export '{take.name}'", priority=Priority.INTERACTIVE, lane="cpu")
        self.bridge.watch(job.id, on_finished=lambda out: self.statusMessage.emit(f"Exported to {out}"),
                          on_failed=lambda message, _: self.banner.show_message(
                              f"Export '{take.name}' failed: {message}", "error"))
        return job.id

    # -- playback ----------------------------------------------------------------------------
    def _play_clicked(self) -> None:
        if self.player.playing:
            self.stop_playback()
        else:
            self.play_selected()

    def play_selected(self, start: float = 0.0, end: float | None = None) -> None:
        take_id = self.selected_take_id()
        if take_id is None:
            return
        take = self.library.get(take_id)

        job = self.queue.submit(take_jobs.load_take, self.library, take_id, kind="load", title=f"Load '{take.name}'",
                                priority=Priority.INTERACTIVE, lane="cpu")
        self.bridge.watch(job.id, on_finished=lambda loaded: self._play_loaded(take_id, loaded, start, end),
                          on_failed=lambda message, _: self.banner.show_message(
                              f"Load '{take.name}' failed: {message}", "error"))

    def _play_loaded(self, take_id: str, loaded, start: float, end: float | None) -> None:
        audio, sr = loaded
        try:
            self.player.play(audio, sr, start=start, end=end)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")
            return
        self._playing_take = take_id
        self.statusMessage.emit("Playing")
        self.play_button.setText("■ Stop")
        self.play_button.setEnabled(True)
        self.playback_timer.start()

    def _follow_playback(self) -> None:
        """The playhead on the shown take's waveform; at the end, Play again."""
        if not self.player.playing:
            self._playback_ended()
        elif self._playing_take is not None and self._playing_take == self._shown_take:
            self.waveform.set_playhead(self.player.position)

    def _playback_ended(self) -> None:
        self.playback_timer.stop()
        self.waveform.set_playhead(None)
        self.play_button.setText("▶ Play")
        self._update_take_buttons()

    def play_span(self, start: float, end: float) -> None:
        """A transcript line was clicked: play that part of the selected take."""
        if self.recording:
            self.statusMessage.emit("Playback is available once the recording has stopped")
            return
        self.play_selected(start, end)

    def stop_playback(self) -> None:
        self.player.stop()
        self._playing_take = None
        self._playback_ended()
