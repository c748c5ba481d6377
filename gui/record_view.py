"""The Record view: pick an input, record with a live spectrogram, level meter and live
transcript, manage takes (each with its stored transcript)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
    QMessageBox, QPushButton, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from engine.audio import devices as audio_devices
from engine.audio.devices import AudioDevice, AudioUnavailable
from engine.audio.dsp import level_dbfs
from engine.audio.playback import Player
from engine.audio.session import RecordingSession
from engine.audio.takes import Take, TakeError, TakeLibrary, safe_filename, transcript_path
from engine.jobs import JobQueue, JobState, Priority
from engine.tasks import takes as take_jobs
from gui.jobs import JobsBridge
from gui.level_meter import LevelMeter
from gui.live_transcript import LiveTranscriptPanel
from gui.settings import Keys, get_float, get_str
from gui.widgets import Banner, ask_transcript_path, format_duration, write_transcript_or_say_why
from gui.spectrogram import SpectrogramView


class RecordView(QWidget):
    inputChanged = Signal(str)
    statusMessage = Signal(str)
    recordingChanged = Signal(bool)
    takeAdded = Signal(object)
    transcribeRequested = Signal(str)  # the path of a take to transcribe
    _recordingError = Signal(str)  # from the recorder/capture threads
    _liveUpdate = Signal(object)  # from the live transcription job's thread

    UPDATE_MS = 16  # ~60 display updates per second

    def __init__(self, library: TakeLibrary, queue: JobQueue, bridge: JobsBridge, settings: QSettings,
                 parent: QWidget | None = None, compute: Callable[[], tuple] | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.queue = queue
        self.bridge = bridge
        self.settings = settings
        self.session: RecordingSession | None = None
        self._reader = None
        self.player = Player()
        self._playing_take: str | None = None
        self._compute = compute
        self._live_jobs: dict[int, Take] = {}  # live transcription job id -> its take
        self._live_job_id: int | None = None  # the one of the recording in progress
        self._live_reader = None

        # Input row
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(160)
        self.device_combo.setToolTip("Audio input device")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for audio devices again")
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Start or stop recording (Space)")
        self.record_button.setMinimumWidth(110)
        self.elapsed_label = QLabel(format_duration(0))
        self.elapsed_label.setStyleSheet("font-family: monospace; font-size: 15px;")
        self.overflow_label = QLabel("")
        self.overflow_label.setToolTip("Audio blocks the computer could not keep up with")
        self.meter = LevelMeter()
        self.reason_label = QLabel("")
        self.reason_label.setStyleSheet("color: #a33;")
        self.reason_label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Input:"))
        top.addWidget(self.device_combo, 1)
        top.addWidget(self.refresh_button)
        top.addSpacing(12)
        top.addWidget(self.record_button)
        top.addWidget(self.elapsed_label)
        top.addWidget(self.meter, 1)
        top.addWidget(self.overflow_label)

        self.banner = Banner()
        self.spectrogram = SpectrogramView()

        # Takes
        self.takes = QTreeWidget()
        self.takes.setObjectName("takes")
        self.takes.setHeaderLabels(["Name", "Date", "Duration"])
        self.takes.setRootIsDecorated(False)
        self.takes.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.takes.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.DoubleClicked)
        header = self.takes.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.play_button = QPushButton("▶ Play")
        self.stop_play_button = QPushButton("■ Stop")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export…")
        self.transcribe_button = QPushButton("Transcribe")
        self.transcribe_button.setToolTip("Transcribe the selected take with Whisper")
        take_buttons = QHBoxLayout()
        for b in (self.play_button, self.stop_play_button, self.rename_button, self.delete_button,
                  self.export_button, self.transcribe_button):
            take_buttons.addWidget(b)
        take_buttons.addStretch(1)
        takes_box = QWidget()
        takes_layout = QVBoxLayout(takes_box)
        takes_layout.setContentsMargins(0, 0, 0, 0)
        takes_layout.addWidget(QLabel("<b>Takes</b>"))
        takes_layout.addWidget(self.takes, 1)
        takes_layout.addLayout(take_buttons)

        self.transcript = LiveTranscriptPanel()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.spectrogram)
        splitter.addWidget(self.transcript)
        splitter.addWidget(takes_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

        # Behaviour
        self.timer = QTimer(self)
        self.timer.setInterval(self.UPDATE_MS)
        self.timer.timeout.connect(self._tick)
        self.record_button.clicked.connect(self._record_clicked)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.device_combo.currentIndexChanged.connect(self._device_changed)
        self.play_button.clicked.connect(lambda: self.play_selected())
        self.stop_play_button.clicked.connect(self.stop_playback)
        self.rename_button.clicked.connect(self._rename_selected)
        self.delete_button.clicked.connect(lambda: self.delete_selected(confirm=True))
        self.export_button.clicked.connect(self._export_selected)
        self.transcribe_button.clicked.connect(self._transcribe_selected)
        self.takes.itemChanged.connect(self._item_renamed)
        self.takes.itemSelectionChanged.connect(self._update_take_buttons)
        self.takes.itemActivated.connect(lambda *_: self.play_selected())
        self._recordingError.connect(self._on_recording_error)
        self._liveUpdate.connect(self.transcript.show_update)
        self.transcript.segmentClicked.connect(self.play_span)
        self.transcript.exportRequested.connect(self._export_transcript)
        self.transcript.enabled_check.toggled.connect(
            lambda on: self.settings.setValue(Keys.RECORD_LIVE_TRANSCRIPTION, on))
        self.takes.itemSelectionChanged.connect(self._show_selected_transcript)
        self.bridge.event.connect(self._on_job_event)
        self.spectrogram.settingsChanged.connect(self.save_settings)

        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        space.activated.connect(self.toggle_recording)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.takes,
                  activated=lambda: self.delete_selected(confirm=True))
        QShortcut(QKeySequence(Qt.Key.Key_F2), self.takes, activated=self._rename_selected)

        self._load_settings()
        self.refresh_devices()
        self.refresh_takes()
        self._offer_recovery()

    # -- devices -----------------------------------------------------------------------------
    def refresh_devices(self, rescan: bool = False) -> None:
        if self.session is not None:
            return  # never swap devices under a running recording
        reason = ""
        if rescan:
            self.stop_playback()  # re-initialising PortAudio ends every open stream
            try:
                audio_devices.rescan()
            except AudioUnavailable as exc:
                reason = str(exc)
        try:
            devices = [d for d in audio_devices.list_devices() if d.max_input_channels > 0]
        except AudioUnavailable as exc:
            devices, reason = [], str(exc)
        wanted = get_str(self.settings, Keys.AUDIO_INPUT_DEVICE) or None
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for d in devices:
            self.device_combo.addItem(f"{d.name}  ·  {d.default_samplerate / 1000:g} kHz", d)
        chosen = next((i for i, d in enumerate(devices) if d.name == wanted), None)
        if chosen is None:
            chosen = next((i for i, d in enumerate(devices) if d.is_default_input), 0)
        if devices:
            self.device_combo.setCurrentIndex(chosen)
        self.device_combo.blockSignals(False)
        has_input = bool(devices)
        self.record_button.setEnabled(has_input)
        self.device_combo.setEnabled(has_input)
        if has_input:
            self.reason_label.hide()
        else:
            why = f" ({reason})" if reason else ""
            self.reason_label.setText(
                f"Recording is unavailable: no audio input device was found{why}. "
                "Connect a microphone, then press Refresh.")
            self.reason_label.show()
        self.inputChanged.emit(self.input_description())

    def current_device(self) -> AudioDevice | None:
        return self.device_combo.currentData()

    def input_description(self) -> str:
        d = self.current_device()
        return d.name if d else "No audio input"

    def _device_changed(self, _index: int) -> None:
        d = self.current_device()
        if d is not None:
            self.settings.setValue(Keys.AUDIO_INPUT_DEVICE, d.name)
        self.inputChanged.emit(self.input_description())

    # -- recording ---------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.session is not None

    def toggle_recording(self) -> None:
        if self.recording:
            self.stop_recording()
        elif self.record_button.isEnabled():
            self.start_recording()

    def _record_clicked(self) -> None:
        self.toggle_recording()
        self.record_button.setChecked(self.recording)

    def start_recording(self, name: str | None = None) -> bool:
        if self.session is not None:
            return True
        device = self.current_device()
        if device is None:
            self.banner.show_message("There is no audio input device to record from.", "error")
            return False
        self.stop_playback()
        try:
            session = RecordingSession(self.library, device, channels=1, name=name,
                                       on_error=self._recordingError.emit)
            live_reader = session.reader()  # taken before capture starts: not a sample is missed
            session.start()
        except Exception as exc:  # noqa: BLE001 - AudioUnavailable, permission errors, full disk
            self.banner.show_message(f"Could not start recording: {exc}", "error")
            self.record_button.setChecked(False)
            return False
        self.session = session
        self._reader = session.reader()
        self.transcript.clear()
        if self.transcript.enabled_check.isChecked():
            self._start_live_transcription(session, live_reader)
        self.spectrogram.start_live(session.sample_rate)
        self.meter.reset()
        self.banner.hide()
        self.timer.start()
        self.record_button.setText("■ Stop")
        self.record_button.setChecked(True)
        self.device_combo.setEnabled(False)
        self.refresh_button.setEnabled(False)
        self.statusMessage.emit(f"Recording from {device.name} at {session.sample_rate} Hz")
        self.recordingChanged.emit(True)
        return True

    def stop_recording(self) -> Take | None:
        session, self.session = self.session, None
        if session is None:
            return None
        self.timer.stop()
        self._tick_once(session)  # draw what arrived since the last tick
        try:
            take = session.stop()  # the live job then transcribes the rest and ends
        except (TakeError, OSError) as exc:  # not filed (a full disk): the audio waits in recovery/
            self._reader = None
            self._live_reader = None
            self._live_job_id = None
            self.record_button.setText("● Record")
            self.record_button.setChecked(False)
            self.device_combo.setEnabled(True)
            self.refresh_button.setEnabled(True)
            self.recordingChanged.emit(False)
            if self.transcript.enabled_check.isChecked():  # the live job ends by itself; its file stays by the audio
                self.transcript.status_label.setText("not saved: the transcript so far waits in recovery/ with the audio")
            self.banner.show_message(f"The take was not saved: {exc}", "error",
                                     [("Recover", self.recover_all)])
            return None
        self._reader = None
        self._live_reader = None
        if self._live_job_id is not None:
            self._live_jobs[self._live_job_id] = take
            self._live_job_id = None
            self.transcript.status_label.setText("finishing the transcript…")
        self.record_button.setText("● Record")
        self.record_button.setChecked(False)
        self.device_combo.setEnabled(True)
        self.refresh_button.setEnabled(True)
        self.refresh_takes(select=take.id)
        self.statusMessage.emit(f"Saved '{take.name}' ({format_duration(take.duration)})")
        self.recordingChanged.emit(False)
        self.takeAdded.emit(take)
        return take

    def _on_recording_error(self, message: str) -> None:
        if self.session is None:
            return
        take = self.stop_recording()
        if take is None:  # not filed either: stop_recording's banner says where the audio is
            self.banner.show_message(f"Recording stopped: {message}. {self.banner.label.text()}", "error",
                                     [("Recover", self.recover_all)])
            return
        saved = f" The take '{take.name}' ({format_duration(take.duration)}) was saved."
        self.banner.show_message(f"Recording stopped: {message}.{saved}", "error")

    def _tick(self) -> None:
        if self.session is not None:
            self._tick_once(self.session)

    def _tick_once(self, session: RecordingSession) -> None:
        reader = self._reader
        if reader is None:
            return
        block = reader.read()
        if len(block):
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            self.spectrogram.push_audio(mono)
            self.meter.set_level(*level_dbfs(mono))
        self.elapsed_label.setText(format_duration(session.duration))
        lost = session.overflows + (1 if reader.lost_frames else 0)  # + the display falling behind
        if self._live_reader is not None and self._live_reader.lost_frames:
            lost += 1  # the live transcription fell more than the ring buffer behind
        self.overflow_label.setText(f"⚠ {lost} overflow{'s' if lost != 1 else ''}" if lost else "")

    # -- takes -------------------------------------------------------------------------------
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
        self._update_take_buttons()

    def selected_take_id(self) -> str | None:
        items = self.takes.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update_take_buttons(self) -> None:
        has = self.selected_take_id() is not None
        for b in (self.play_button, self.rename_button, self.delete_button, self.export_button,
                  self.transcribe_button):
            b.setEnabled(has)

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
            self._playing_take = take_id
            self.statusMessage.emit("Playing")
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")

    def play_span(self, start: float, end: float) -> None:
        """A transcript line was clicked: play that part of the selected take."""
        if self.recording:
            self.statusMessage.emit("Playback is available once the recording has stopped")
            return
        self.play_selected(start, end)

    def stop_playback(self) -> None:
        self.player.stop()
        self._playing_take = None

    def _on_job_event(self, event) -> None:
        if event.job_id in self._live_jobs or event.job_id == self._live_job_id:
            self._on_live_event(event)

    # -- live transcription --------------------------------------------------------------------
    def live_model(self) -> str | None:
        """The Whisper model chosen in the Transcribe view, else the first one installed."""
        from engine.models.catalog import installed_models

        wanted = get_str(self.settings, Keys.TRANSCRIBE_MODEL)
        if wanted and Path(wanted).is_dir():
            return wanted
        models = installed_models()
        return str(models[0].path) if models else None

    def live_compute_type(self, device) -> str | None:
        """The Transcribe view's compute type on the CPU (int8 makes live passes cheaper, and one
        loaded model then serves both); None on a GPU (Settings' precision)."""
        from engine.models.whisper.quantize import COMPUTE_TYPES

        if device is None or device.kind != "cpu":
            return None
        chosen = get_str(self.settings, Keys.TRANSCRIBE_COMPUTE_TYPE, "float32")
        return chosen if chosen in COMPUTE_TYPES else None

    def _start_live_transcription(self, session: RecordingSession, reader) -> None:
        from engine.live.transcriber import LiveOptions
        from engine.tasks.live import live_transcribe

        model = self.live_model()
        if model is None:
            self.transcript.status_label.setText("no Whisper model installed: recording without a transcript")
            return
        device, dtype = self._compute() if self._compute else (None, None)
        kwargs = {}
        if device is not None:
            kwargs = dict(device=str(device.torch_device), dtype=dtype, compute_type=self.live_compute_type(device))
        job = self.queue.submit(
            live_transcribe, self.queue, reader, session.sample_rate, model, LiveOptions(),
            on_update=self._liveUpdate.emit, save_to=transcript_path(session.take.path), **kwargs,
            kind="live", title=f"Live transcript · {session.take.name}", priority=Priority.LIVE, lane="live")
        self._live_job_id = job.id
        self._live_reader = reader
        compute = kwargs.get("compute_type") or ("" if dtype is None else str(dtype).removeprefix("torch."))
        self.transcript.status_label.setText(f"live · {Path(model).name}" + (f" · {compute}" if compute else ""))

    def _on_live_event(self, event) -> None:
        if event.kind == "progress" and event.message:
            if event.job_id == self._live_job_id:
                self.transcript.status_label.setText(event.message)
            return
        if not event.state.done:
            return
        take = self._live_jobs.pop(event.job_id, None)
        if event.job_id == self._live_job_id:  # ended while still recording (failed, cancelled)
            self._live_job_id = None
        if event.kind == "finished" and take is not None:
            try:
                self.library.save_transcript(take.id, event.result)
            except OSError as exc:
                self.banner.show_message(f"Could not store the transcript of '{take.name}': {exc}", "error")
            self.transcript.status_label.setText(
                f"{len(event.result.segments)} segments · stored with the take")
            if self.selected_take_id() == take.id:
                self.transcript.show_result(event.result)
        elif event.kind == "failed":
            message = event.error_message or "unknown error"
            self.transcript.status_label.setText("live transcription stopped")
            self.banner.show_message(f"Live transcription stopped: {message}. The recording goes on; "
                                     "the transcript so far is kept with the take.", "error")
        elif event.kind == "cancelled":
            self.transcript.status_label.setText("live transcription cancelled")

    def _show_selected_transcript(self) -> None:
        if self.recording:
            return  # the live transcript stays on screen
        take_id = self.selected_take_id()
        self.transcript.clear()
        if take_id is None:
            return
        if take_id in (t.id for t in self._live_jobs.values()):
            self.transcript.status_label.setText("finishing the transcript…")
            return
        try:
            result = self.library.load_transcript(take_id)
        except ValueError as exc:
            self.transcript.status_label.setText(str(exc))
            return
        if result is None:
            self.transcript.status_label.setText("no transcript for this take")
        else:
            self.transcript.show_result(result)
            self.transcript.status_label.setText(f"{len(result.segments)} segments")

    def _export_transcript(self) -> None:
        take_id = self.selected_take_id()
        if take_id is None:
            return
        path = ask_transcript_path(self, self.settings, safe_filename(self.library.get(take_id).name), str(Path.home()))
        if path:
            self.export_transcript(take_id, path)

    def export_transcript(self, take_id: str, path: str, fmt: str | None = None) -> bool:
        try:
            result = self.library.load_transcript(take_id)
        except ValueError as exc:
            result, why = None, str(exc)
        else:
            why = "this take has no transcript"
        if result is None:
            self.banner.show_message(f"Could not export the transcript: {why}", "error")
            return False
        if not write_transcript_or_say_why(self.banner, result, path, fmt):
            return False
        self.statusMessage.emit(f"Exported {Path(path).name}")
        return True

    # -- crash recovery ----------------------------------------------------------------------
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

    # -- settings and shutdown ---------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        self.spectrogram.scale = get_str(s, Keys.SPECTROGRAM_SCALE, "mel")
        self.spectrogram.db_range = (get_float(s, Keys.SPECTROGRAM_DB_FLOOR, -100.0),
                                     get_float(s, Keys.SPECTROGRAM_DB_CEILING, 0.0))
        self.spectrogram.visible_seconds = get_float(s, Keys.SPECTROGRAM_VISIBLE_SECONDS, 10.0)
        self.transcript.enabled_check.setChecked(str(s.value(Keys.RECORD_LIVE_TRANSCRIPTION, "true")).lower() == "true")

    def save_settings(self) -> None:
        s = self.settings
        s.setValue(Keys.SPECTROGRAM_SCALE, self.spectrogram.scale)
        floor, ceiling = self.spectrogram.db_range
        s.setValue(Keys.SPECTROGRAM_DB_FLOOR, floor)
        s.setValue(Keys.SPECTROGRAM_DB_CEILING, ceiling)
        s.setValue(Keys.SPECTROGRAM_VISIBLE_SECONDS, self.spectrogram.visible_seconds)

    def shutdown(self) -> None:
        self.stop_recording()
        self.stop_playback()
        # closing while a live transcript is being finished: let it finish (bounded), keep it
        for job_id, take in list(self._live_jobs.items()):
            job = self.queue.get(job_id)
            if job is not None and job.wait(15.0) and job.state is JobState.FINISHED:
                try:
                    self.library.save_transcript(take.id, job.result)
                except OSError:
                    pass  # the transcript saved while recording stays with the take
            self._live_jobs.pop(job_id, None)

