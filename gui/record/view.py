"""The Record view: pick an input, record with a live spectrogram, level meter and live
transcript, manage takes (each with its stored transcript, whole spectrogram and waveform).

The view is put together from this folder's parts: input devices (``devices``), the takes list
and its actions (``takes``), the live transcription job (``live_transcription``) and crash
recovery (``recovery``), and a stored transcript made again, undone or edited
(``transcript_edits``); a take's audio is shown by the Transcribe page's ``AudioDisplay``, whose
spectrogram also scrolls live while recording. Recording itself, settings and shutdown are here.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSplitter, QStackedWidget,
                               QVBoxLayout, QWidget)

from engine.audio.capture import CaptureStream
from engine.audio.dsp import level_dbfs
from engine.audio.playback import Player
from engine.audio.session import RecordingSession
from engine.audio.takes import Take, TakeError, TakeLibrary
from engine.jobs import JobQueue, JobState
from gui.common.settings import Keys, get_float, get_str
from gui.common.widgets import Banner, format_duration
from gui.jobs.bridge import JobsBridge
from gui.record.devices import InputDevicesMixin
from gui.record.level_meter import LevelMeter
from gui.record.live_transcript import LiveTranscriptPanel
from gui.record.live_transcription import LiveTranscriptionMixin
from gui.record.recovery import RecoveryMixin
from gui.record.takes import TakesMixin
from gui.record.transcript_edits import TranscriptEditsMixin
from gui.transcribe.audio_display import AudioDisplay


class RecordView(InputDevicesMixin, TakesMixin, LiveTranscriptionMixin, TranscriptEditsMixin, RecoveryMixin, QWidget):
    inputChanged = Signal(str)
    statusMessage = Signal(str)
    recordingChanged = Signal(bool)
    takeAdded = Signal(object)
    transcribeRequested = Signal(str)  # the path of a take to transcribe
    _recordingError = Signal(str)  # from the recorder/capture threads
    _monitorLost = Signal(str)  # from the monitoring stream's thread
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
        self._live_phase = ""  # the live job's last message
        self._live_model_name = ""
        self._shown_take: str | None = None  # the take whose audio is shown (or loading)
        self._panel_take: str | None = None  # the take whose lines the transcript panel holds
        self._recovered_ids: set[str] = set()
        self._again_jobs: dict[int, str] = {}  # "Transcribe again" job id -> its take id
        self._monitor: CaptureStream | None = None  # the input level shown before Record is pressed
        self._monitor_reader = None

        top = self._build_input_row()
        self.banner = Banner()
        self.display = AudioDisplay(queue, bridge)
        self.spectrogram, self.waveform = self.display.spectrogram, self.display.waveform
        self.waveform.hide()  # shown with a take; a recording has the live spectrogram only
        takes_box = self._build_takes_box()
        self.transcript = LiveTranscriptPanel()
        self._build_layout(top, takes_box)
        self._connect_signals()
        self._add_shortcuts()

        self._load_settings()
        self.refresh_devices()
        self.refresh_takes()
        self._offer_recovery()

    # -- construction ------------------------------------------------------------------------
    def _build_input_row(self) -> QHBoxLayout:
        """Input device, Refresh, Record, elapsed time, level meter, overflow count."""
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(160)
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setMinimumContentsLength(16)  # a long device name must not widen the window
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
        self.meter_error = QLabel("")  # in the meter's place when the input cannot be opened
        self.meter_error.setStyleSheet("color: #a33;")
        self.meter_error.setMinimumWidth(60)
        # a long reason is cut, never widens the row (the whole of it is in the tooltip)
        self.meter_error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.meter_box = QStackedWidget()
        self.meter_box.addWidget(self.meter)
        self.meter_box.addWidget(self.meter_error)
        self.meter_box.setSizePolicy(self.meter.sizePolicy())
        self.meter_box.setMaximumHeight(max(self.meter.sizeHint().height(), self.meter_error.sizeHint().height()) + 4)
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
        top.addWidget(self.meter_box, 1)
        top.addWidget(self.overflow_label)
        return top

    def _build_layout(self, top: QHBoxLayout, takes_box: QWidget) -> None:
        """The input row above the audio (live, or the selected take's), the transcript and the
        takes, which share a splitter."""
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.display)
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

    def _connect_signals(self) -> None:
        """The display timer, and each button, list and job signal to its handler."""
        self.timer = QTimer(self)
        self.timer.setInterval(self.UPDATE_MS)
        self.timer.timeout.connect(self._tick)
        self.record_button.clicked.connect(self._record_clicked)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.device_combo.currentIndexChanged.connect(self._device_changed)
        self.play_button.clicked.connect(self._play_clicked)
        self.rename_button.clicked.connect(self._rename_selected)
        self.delete_button.clicked.connect(lambda: self.delete_selected(confirm=True))
        self.export_button.clicked.connect(self._export_selected)
        self.transcribe_button.clicked.connect(self._transcribe_selected)
        self.takes.itemChanged.connect(self._item_renamed)
        self.takes.itemSelectionChanged.connect(self._take_selection_changed)
        self.takes.itemActivated.connect(lambda *_: self.play_selected())
        self._recordingError.connect(self._on_recording_error)
        self._monitorLost.connect(self._on_monitor_lost)
        app = QGuiApplication.instance()
        if app is not None:
            app.applicationStateChanged.connect(self._application_state_changed)
        self._liveUpdate.connect(self.transcript.show_update)
        self.transcript.segmentClicked.connect(self.play_span)
        self.transcript.exportRequested.connect(self._export_transcript)
        self.transcript.transcribeRequested.connect(self._transcribe_selected)
        self.transcript.retranscribeRequested.connect(self.retranscribe_selected)
        self.transcript.undoRequested.connect(self.undo_transcript)
        self.transcript.lineEdited.connect(self._line_edited)
        self.transcript.enabled_check.toggled.connect(
            lambda on: self.settings.setValue(Keys.RECORD_LIVE_TRANSCRIPTION, on))
        self.display.loaded.connect(lambda _info: self.waveform.show())
        self.display.loadFailed.connect(self._take_audio_failed)
        self.bridge.event.connect(self._on_job_event)
        self.spectrogram.settingsChanged.connect(self.save_settings)

    def _add_shortcuts(self) -> None:
        """Space records or stops (anywhere in the view); Delete and F2 act on the selected take."""
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        space.activated.connect(self.toggle_recording)
        # only while the takes list has the focus: Delete elsewhere (the Jobs list, a text) is theirs
        for key, slot in ((Qt.Key.Key_Delete, lambda: self.delete_selected(confirm=True)),
                          (Qt.Key.Key_F2, lambda: self._rename_selected())):
            shortcut = QShortcut(QKeySequence(key), self.takes, activated=slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

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
        self.stop_monitoring()  # the recording opens the input itself
        try:
            session = RecordingSession(self.library, device, channels=1, name=name,
                                       on_error=self._recordingError.emit)
            live_reader = session.reader()  # taken before capture starts: not a sample is missed
            session.start()
        except Exception as exc:  # noqa: BLE001 - AudioUnavailable, permission errors, full disk
            self.banner.show_message(f"Could not start recording: {exc}", "error")
            self.record_button.setChecked(False)
            self.start_monitoring()
            return False
        self.session = session
        self._reader = session.reader()
        self._shown_take = None
        self.waveform.hide()
        self.transcript.clear(live=True)
        self._panel_take = session.take.id
        self.transcript.set_status("")
        self._live_phase = ""
        if self.transcript.enabled_check.isChecked():
            self._start_live_transcription(session, live_reader)
        self.display.start_live(session.sample_rate)  # a take still loading is dropped
        self.meter.reset()
        self.meter_box.setCurrentWidget(self.meter)
        self.banner.hide()
        self.timer.start()
        self.record_button.setText("■ Stop")
        self.record_button.setChecked(True)
        self.device_combo.setEnabled(False)
        self.refresh_button.setEnabled(False)
        self.statusMessage.emit(f"Recording from {device.name} at {session.sample_rate} Hz")
        self._update_transcript_actions()
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
            self._update_transcript_actions()
            self.recordingChanged.emit(False)
            if self.transcript.enabled_check.isChecked():  # the live job ends by itself; its file stays by the audio
                self.transcript.set_status("Not saved: the transcript so far waits in recovery/ with the audio")
            self.banner.show_message(f"The take was not saved: {exc}", "error",
                                     [("Recover", self.recover_all)])
            return None
        self._reader = None
        self._live_reader = None
        if self._live_job_id is not None:
            self._live_jobs[self._live_job_id] = take
            self._live_job_id = None
            self.transcript.set_status("Finishing the transcript…")
        self.record_button.setText("● Record")
        self.record_button.setChecked(False)
        self.device_combo.setEnabled(True)
        self.refresh_button.setEnabled(True)
        self.start_monitoring()
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
        elif self._monitor_reader is not None:
            block = self._monitor_reader.read()
            if len(block):
                self.meter.set_level(*level_dbfs(block[:, 0]))
        else:
            self.timer.stop()

    # -- monitoring: the input level while the page is open, before Record is pressed ---------
    MONITOR_RING_S = 2.0  # what the meter may fall behind by; older audio is simply skipped

    @property
    def monitoring(self) -> bool:
        return self._monitor is not None

    def start_monitoring(self) -> None:
        """Show the chosen input's level while the page is on screen and nothing records.

        The stream is closed again when the page is hidden, before recording or a rescan, and
        (for a device that is not shared through a sound server) while the app is in the
        background, so the input is never held for nothing."""
        if self._monitor is not None or self.session is not None or not self.isVisible():
            return
        device = self.current_device()
        if device is None:
            return
        if not device.source and QGuiApplication.applicationState() != Qt.ApplicationState.ApplicationActive:
            return  # a device held directly (no sound server) is left to the app in front
        monitor = CaptureStream(device, channels=1, ring_seconds=self.MONITOR_RING_S,
                                on_stream_end=self._monitorLost.emit)
        reader = monitor.ring.reader()
        try:
            monitor.start()
        except Exception as exc:  # noqa: BLE001 - AudioUnavailable and whatever PortAudio raises
            self._show_meter_error(f"⚠ Cannot open this input: {str(exc).rsplit(': ', 1)[-1]}", str(exc))
            return
        self._monitor, self._monitor_reader = monitor, reader
        self.meter.reset()
        self.meter_box.setCurrentWidget(self.meter)
        self.timer.start()

    def stop_monitoring(self) -> None:
        monitor, self._monitor, self._monitor_reader = self._monitor, None, None
        if monitor is not None:
            monitor.stop()
            self.meter.reset()

    def _show_meter_error(self, text: str, details: str = "") -> None:
        """In the meter's place: the short reason first (it may be cut), all of it in the tooltip."""
        self.meter_error.setText(text)
        self.meter_error.setToolTip(f"{details or text}. Press Refresh to try again.")
        self.meter_box.setCurrentWidget(self.meter_error)

    def _on_monitor_lost(self, message: str) -> None:
        if self._monitor is None:
            return
        self.stop_monitoring()
        self._show_meter_error("⚠ The input stopped (device removed?)", message)

    def _restart_monitoring(self) -> None:
        self.stop_monitoring()
        self.start_monitoring()

    def _application_state_changed(self, state) -> None:
        device = self.current_device()
        if device is None or device.source:
            return  # a sound server shares its sources: monitoring holds nothing another app needs
        if state == Qt.ApplicationState.ApplicationActive:
            self.start_monitoring()
        else:
            self.stop_monitoring()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        QTimer.singleShot(0, self.start_monitoring)  # once shown (isVisible is true then)

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.stop_monitoring()  # another page, a minimised window: the input is let go
        super().hideEvent(event)

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
        self._show_live_status()
        lost = session.overflows + (1 if reader.lost_frames else 0)  # + the display falling behind
        if self._live_reader is not None and self._live_reader.lost_frames:
            lost += 1  # the live transcription fell more than the ring buffer behind
        self.overflow_label.setText(f"⚠ {lost} overflow{'s' if lost != 1 else ''}" if lost else "")

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
        self.stop_monitoring()
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

