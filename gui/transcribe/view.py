"""The Transcribe view: files in, Whisper jobs with progress and Cancel, timed transcripts out.

Each file becomes a job on the GPU lane (engine.tasks.transcribe); the view never waits on one.
Adding a file selects it: its audio (spectrogram, waveform) and its transcript are shown; clicking a
segment plays that span; Export writes TXT, SRT, VTT or JSON (the page's Format first). The files
and their transcripts are kept for the next start (engine.audio.recent_transcripts, at most 50);
one that has gone since is listed as missing, its transcript still readable.

The Whisper models (installed, added folders, downloads) are chosen in ``models``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.audio.recent_transcripts import RecentError, RecentTranscripts
from engine.audio.takes import safe_filename, take_name_for
from engine.jobs import JobQueue, Priority
from engine.models.whisper.options import COMPUTE_TYPES, MAX_BEAM_SIZE, TranscribeOptions
from engine.models.whisper.tokenizer import LANGUAGES
from engine.tasks.transcribe import transcribe_file
from gui.common.settings import Keys, get_str
from gui.common.widgets import (
    Banner,
    ElidedLabel,
    ask_transcript_path,
    format_duration,
    wrap_rows,
    write_transcript_or_say_why,
)
from gui.jobs.bridge import JobsBridge
from gui.transcribe.batch_panel import BatchPanel
from gui.transcribe.file_view import AUDIO_FILTER, AudioFileView
from gui.transcribe.models import ModelsMixin

PathRole = Qt.ItemDataRole.UserRole
NAME, STATUS = 0, 1  # the file list's columns


class TranscribeView(ModelsMixin, QWidget):
    statusMessage = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, file_view: AudioFileView,
                 compute: callable, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings, self.file_view = queue, bridge, settings, file_view
        self.compute = compute  # () -> (ComputeDevice, dtype) chosen in the Settings menu
        self.results: dict[str, object] = {}  # file path -> TranscriptionResult
        self.jobs: dict[int, str] = {}  # job id -> file path
        self.downloads: dict[int, str] = {}  # job id -> model name
        self.recent = RecentTranscripts()  # the files and transcripts kept for the next start
        self.stored: dict[str, object] = {}  # file path -> RecentTranscript not read yet (read when shown)
        self.setAcceptDrops(True)

        row, options_row = self._build_option_rows()
        self.banner = Banner()
        split = self._build_split(file_view)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(options_row)
        self.batch_panel = BatchPanel(queue, bridge, settings, self.banner, self._batch_arguments)
        layout.addWidget(self.batch_panel)
        layout.addWidget(self.model_label)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        self._connect_signals()
        self._load_settings()
        self.refresh_models()
        self._restore_recent()

    # -- construction ------------------------------------------------------------------------
    def _build_option_rows(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """Files and model in the first row, Whisper's options in the second; the model line under them."""
        self.add_button = QPushButton("Add files…")
        self.add_button.setToolTip("Add audio files to transcribe (or drop them here)")
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(200)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(24)  # a long model label must not widen the window
        self.add_model_button = QPushButton("Model folder…")
        self.add_model_button.setToolTip("Use a Whisper model folder (Hugging Face or faster-whisper format)")
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download openai/whisper-NAME from the Hugging Face Hub (progress in Jobs)")
        self.language_combo = QComboBox()
        self.language_combo.addItem("Detect language", None)
        for code, name in LANGUAGES.items():
            self.language_combo.addItem(f"{name.title()} ({code})", code)
        self.task_combo = QComboBox()
        self.task_combo.addItem("Transcribe", "transcribe")
        self.task_combo.addItem("Translate to English", "translate")
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, MAX_BEAM_SIZE)  # the CLI's --beam-size has the same limits
        self.beam_spin.setPrefix("Beam ")
        self.words_check = QCheckBox("Word timings")
        self.compute_combo = QComboBox()
        for compute_type in COMPUTE_TYPES:  # the CLI's --compute-type choices
            self.compute_combo.addItem(compute_type, compute_type)
        self.compute_combo.setToolTip("Compute type on the CPU: int8 is faster and gives nearly the same text")
        self.transcribe_button = QPushButton("Transcribe")
        self.transcribe_button.setToolTip("Transcribe the selected files (all not yet done if none is selected)")
        row = QHBoxLayout()
        for w in (self.add_button, QLabel("Model:"), self.model_combo, self.add_model_button, self.download_button,
                  self.compute_combo):  # here, not in the options row: the window must still fit 800 px
            row.addWidget(w)
        row.addStretch(1)
        options_row = QHBoxLayout()
        for w in (self.language_combo, self.task_combo, self.beam_spin, self.words_check, self.transcribe_button):
            options_row.addWidget(w)
        options_row.addStretch(1)
        self.model_label = ElidedLabel()
        self.model_label.setStyleSheet("color: #666;")
        return row, options_row

    def _build_split(self, file_view: AudioFileView) -> QSplitter:
        """The file's audio above; the file list (name, status) beside its transcript below."""
        self.files = QTreeWidget()
        self.files.setHeaderLabels(["File", "Status"])
        self.files.setRootIsDecorated(False)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.files.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name gives way, never the status
        self.files.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.files.header().setStretchLastSection(False)
        self.files.header().setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.files.header().setSectionResizeMode(STATUS, QHeaderView.ResizeMode.ResizeToContents)
        self.files.setMinimumWidth(220)
        self.remove_action = QAction("Remove from list", self.files)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_action.setToolTip("Forget the selected files and their transcripts here (the audio files stay)")
        self.files.addAction(self.remove_action)
        self.files.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.transcript = QTreeWidget()
        self.transcript.setHeaderLabels(["Start", "End", "Text"])
        self.transcript.setRootIsDecorated(False)
        wrap_rows(self.transcript)  # a long segment is read whole, not cut at the edge
        self.transcript.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.transcript.setToolTip("Click a segment to hear it")
        self.export_button = QPushButton("Export transcript…")
        self.export_button.setToolTip("Save the selected file's transcript as TXT, SRT, VTT or JSON")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.transcript, 1)
        right_layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.files)
        lower.addWidget(right)
        lower.setStretchFactor(1, 3)
        lower.setChildrenCollapsible(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(file_view)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        return split

    def _connect_signals(self) -> None:
        """Buttons, the file list and the transcript to their handlers."""
        self.add_button.clicked.connect(self.choose_files)
        self.add_model_button.clicked.connect(self.choose_model_folder)
        self.download_button.clicked.connect(self.choose_download)
        self.transcribe_button.clicked.connect(self.transcribe_selected)
        self.export_button.clicked.connect(self.choose_export)
        self.files.currentItemChanged.connect(self._file_selected)
        self.transcript.itemClicked.connect(self._segment_clicked)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.remove_action.triggered.connect(self.remove_selected)
        self.batch_panel.statusMessage.connect(self.statusMessage)  # the folder batch's summary, in the status bar
        self.compute_combo.currentIndexChanged.connect(self._compute_changed)

    # -- files -------------------------------------------------------------------------------
    def choose_files(self) -> None:
        start = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
        paths, _ = QFileDialog.getOpenFileNames(self, "Add audio files", start, AUDIO_FILTER)
        if paths:
            self.settings.setValue(Keys.PATHS_OPEN_DIR, str(Path(paths[0]).parent))
            self.add_files(paths)

    def add_files(self, paths: list[str], transcribe: bool = True) -> None:
        """List ``paths`` (once each) and select the first: it is shown, its audio and transcript."""
        for path in paths:
            if self._item(path) is None:
                self._add_item(path, self.label(path))
            if transcribe:
                self.transcribe(path)
        first = self._item(paths[0]) if paths else None
        if first is not None and (first is not self.files.currentItem() or len(self.files.selectedItems()) != 1):
            # only it selected, whatever keyboard modifiers Qt believes are held
            self.files.setCurrentItem(first, 0, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_buttons()

    def _add_item(self, path: str, label: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([label, ""])
        item.setData(NAME, PathRole, path)
        item.setToolTip(NAME, path)
        self.files.addTopLevelItem(item)
        return item

    def _restore_recent(self) -> None:
        """The files transcribed before (the last start's list): done, or missing when gone since."""
        for entry in self.recent.list():
            if self._item(entry.path) is not None:
                continue
            self._add_item(entry.path, (take_name_for(entry.path) or entry.name or Path(entry.path).name)
                           if not entry.missing else entry.name or Path(entry.path).name)
            self.stored[entry.path] = entry
            self._show_stored_status(entry.path)
        self._update_buttons()

    def _show_stored_status(self, path: str) -> None:
        entry = self.stored.get(path)
        if entry is None:
            return
        if entry.missing:
            self._set_status(path, "missing", f"{path} has gone (moved or deleted) since it was transcribed; "
                                              f"its transcript is kept")
        else:
            import time

            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.added))
            self._set_status(path, "done", f"transcribed {when}" + (f" with {entry.model}" if entry.model else ""))

    def result_for(self, path: str):
        """The transcript of ``path``: made now, or kept from before (read when first wanted);
        None when there is none or it cannot be read (its status says why)."""
        if path in self.results:
            return self.results[path]
        entry = self.stored.get(path)
        if entry is None:
            return None
        try:
            self.results[path] = self.recent.result(entry)
        except RecentError as exc:
            self.stored.pop(path, None)
            self._set_status(path, "unreadable", str(exc))
            return None
        return self.results[path]

    def remove_selected(self) -> None:
        """Forget the selected files here and in the kept list (their audio files stay)."""
        busy = set(self.jobs.values())
        for item in self.files.selectedItems():
            path = item.data(NAME, PathRole)
            if path in busy:
                self.banner.show_message(f"{self.label(path)} is being transcribed; cancel it in Jobs first.", "warn")
                continue
            self.files.takeTopLevelItem(self.files.indexOfTopLevelItem(item))
            self.results.pop(path, None)
            self.stored.pop(path, None)
            try:
                self.recent.remove(path)
            except RecentError as exc:
                self.banner.show_message(str(exc), "error")
        self._update_buttons()

    @staticmethod
    def label(path: str) -> str:
        """How a file is named here: a recorded take by its name, any other file by its file name."""
        return take_name_for(path) or Path(path).name

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.files.topLevelItem(i) for i in range(self.files.topLevelItemCount())]

    def _item(self, path: str) -> QTreeWidgetItem | None:
        return next((item for item in self._items() if item.data(NAME, PathRole) == path), None)

    def status(self, path: str) -> str:
        """What the file list says of ``path`` ("" when it is not listed)."""
        item = self._item(path)
        return item.text(STATUS) if item is not None else ""

    def _update_buttons(self) -> None:
        """Transcribe needs a model and a file; Export needs the selected file's transcript."""
        self.transcribe_button.setEnabled(self.current_model() is not None and bool(self.files.topLevelItemCount()))
        self.export_button.setEnabled(self.current_result() is not None)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_files(paths)
            event.acceptProposedAction()

    # -- jobs --------------------------------------------------------------------------------
    def options(self) -> TranscribeOptions:
        multilingual = self.language_combo.isEnabled()
        return TranscribeOptions(
            language=self.language_combo.currentData() if multilingual else None,
            task=self.task_combo.currentData() if multilingual else "transcribe",
            beam_size=self.beam_spin.value(), word_timestamps=self.words_check.isChecked())

    def transcribe(self, path: str) -> int | None:
        entry = self.current_model()
        if entry is None:
            self.banner.show_message("Install or add a Whisper model first.", "error")
            return None
        self.save_settings()
        device, dtype = self.compute()
        job = self.queue.submit(transcribe_file, path, str(entry.path), self.options(),
                                device=str(device.torch_device), dtype=dtype, compute_type=self.compute_type(),
                                kind="transcribe", title=f"Transcribe {self.label(path)} with {entry.name}",
                                priority=Priority.BATCH, lane="gpu")
        self.jobs[job.id] = path
        self._set_status(path, "queued")
        self.bridge.watch(job.id, on_finished=lambda result: self._transcribed(job.id, path, result),
                          on_failed=lambda message, _: self._transcription_ended(job.id, path, "failed", message),
                          on_cancelled=lambda: self._transcription_ended(job.id, path, "cancelled"),
                          on_progress=lambda f, _: self._set_status(
                              path, f"loading {entry.name}" if f is None else f"{f * 100:.0f}%"))
        return job.id

    def _batch_arguments(self) -> dict | None:
        """The folder batch's model and options: this page's (None when no model is chosen)."""
        entry = self.current_model()
        if entry is None:
            return None
        self.save_settings()
        device, _dtype = self.compute()
        return {"model": str(entry.path), "model_name": entry.name, "options": self.options(), "device": str(device.torch_device),
                "compute_type": self.compute_type()}

    def transcribe_selected(self) -> None:
        items = self.files.selectedItems() or [item for item in self._items()
                                               if item.data(NAME, PathRole) not in self.results
                                               and item.data(NAME, PathRole) not in self.stored]
        for item in items:
            self.transcribe(item.data(NAME, PathRole))

    def _set_status(self, path: str, status: str, detail: str | None = None) -> None:
        item = self._item(path)
        if item is not None:
            item.setText(STATUS, status)
            item.setToolTip(STATUS, detail or status)

    def _transcribed(self, job_id: int, path: str, result) -> None:
        self.jobs.pop(job_id, None)
        self.results[path] = result
        self.stored.pop(path, None)
        try:
            self.recent.add(path, result, self.label(path))
        except RecentError as exc:
            self.banner.show_message(f"{exc}; it is shown now but will not be listed after a restart.", "warn")
        rtf = result.compute_seconds / result.duration if result.duration else 0
        self._set_status(path, "done", f"{format_duration(result.duration)} of audio transcribed in "
                                       f"{result.compute_seconds:.1f} s")
        self.statusMessage.emit(f"Transcribed {self.label(path)} (real-time factor {rtf:.2f})")
        current = self.files.currentItem()
        if current is not None and current.data(NAME, PathRole) == path:
            self.show_transcript(path)

    def _transcription_ended(self, job_id: int, path: str, how: str, message: str | None = None) -> None:
        self.jobs.pop(job_id, None)
        self._set_status(path, how, message)
        if message is not None:
            self.banner.show_message(f"Could not transcribe {self.label(path)}: {message}", "error")

    # -- transcript --------------------------------------------------------------------------
    def _file_selected(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        if current is None:
            self.transcript.clear()
            self._update_buttons()
            return
        path = current.data(NAME, PathRole)
        if Path(path).is_file():
            self.file_view.open_file(path)
        else:  # gone since it was added: said, and its transcript still shown
            self.file_view.show_missing(path, current.text(NAME))
            if path in self.results or path in self.stored:
                self._set_status(path, "missing", f"{path} has gone (moved or deleted); its transcript is kept")
        self.show_transcript(path)

    def show_transcript(self, path: str) -> None:
        self.transcript.clear()
        result = self.result_for(path)
        self._update_buttons()
        if result is None:
            return
        for segment in result.segments:
            item = QTreeWidgetItem([format_duration(segment.start), format_duration(segment.end),
                                    segment.text.strip()])
            item.setData(0, PathRole, (segment.start, segment.end))
            if segment.words:
                item.setToolTip(2, " ".join(f"{w.word.strip()} [{w.start:.2f}]" for w in segment.words))
            self.transcript.addTopLevelItem(item)

    def _segment_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        start, end = item.data(0, PathRole)
        self.file_view.play(start, end)

    def current_result(self):
        item = self.files.currentItem()
        return self.result_for(item.data(NAME, PathRole)) if item is not None else None

    def choose_export(self) -> None:
        if self.current_result() is None:
            return
        source = Path(self.files.currentItem().data(NAME, PathRole))
        take = take_name_for(source)  # a take's transcript is named after the take, saved in the home folder
        path = ask_transcript_path(self, self.settings, safe_filename(take) if take else source.stem,
                                   str(Path.home() if take else source.parent),
                                   self.batch_panel.format_combo.currentData())
        if path:
            self.export(path)

    def export(self, path: str, fmt: str | None = None) -> bool:
        result = self.current_result()
        if result is None or not write_transcript_or_say_why(self.banner, result, path, fmt):
            return False
        self.statusMessage.emit(f"Exported {Path(path).name}")
        return True

    # -- settings ----------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        language = s.value(Keys.TRANSCRIBE_LANGUAGE)
        index = self.language_combo.findData(language) if language else 0
        self.language_combo.setCurrentIndex(max(0, index))
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(get_str(s, Keys.TRANSCRIBE_TASK, "transcribe"))))
        try:
            self.beam_spin.setValue(int(s.value(Keys.TRANSCRIBE_BEAM_SIZE, 5)))
        except (TypeError, ValueError):
            self.beam_spin.setValue(5)
        self.words_check.setChecked(str(s.value(Keys.TRANSCRIBE_WORD_TIMESTAMPS, "false")).lower() == "true")
        self.compute_combo.blockSignals(True)  # the model label is written once the models are listed
        self.compute_combo.setCurrentIndex(max(0, self.compute_combo.findData(get_str(s, Keys.TRANSCRIBE_COMPUTE_TYPE,
                                                                                      "float32"))))
        self.compute_combo.blockSignals(False)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue(Keys.TRANSCRIBE_LANGUAGE, self.language_combo.currentData() or "")
        s.setValue(Keys.TRANSCRIBE_TASK, self.task_combo.currentData())
        s.setValue(Keys.TRANSCRIBE_BEAM_SIZE, self.beam_spin.value())
        s.setValue(Keys.TRANSCRIBE_WORD_TIMESTAMPS, self.words_check.isChecked())
        s.setValue(Keys.TRANSCRIBE_COMPUTE_TYPE, self.compute_combo.currentData())

