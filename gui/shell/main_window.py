"""The main window: navigation between the four views, the Jobs panel, the status bar."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from engine import __version__
from engine.audio.takes import TakeLibrary
from engine.device import available_devices, choose_device, choose_dtype, describe
from engine.jobs import JobQueue
from gui.common.settings import Keys, app_settings
from gui.generate.view import GenerateView
from gui.jobs.bridge import JobsBridge
from gui.jobs.panel import JobsPanel
from gui.pianoroll.view import PianoRollView
from gui.record.view import RecordView
from gui.transcribe.file_view import AudioFileView
from gui.transcribe.view import TranscribeView


class MainWindow(QMainWindow):
    PAGES = ("Record", "Transcribe", "Piano roll", "Generate")

    def __init__(self, queue: JobQueue | None = None, library: TakeLibrary | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Motet")
        self.setObjectName("MotetMainWindow")
        self.settings = app_settings()
        self.queue = queue or JobQueue()
        self._owns_queue = queue is None
        self.bridge = JobsBridge(self.queue, self)
        self.library = library or TakeLibrary()

        self._resolve_compute()

        self._build_pages()
        self._build_navigation()
        self._build_jobs_dock()
        self._build_status_bar()
        self._build_menus()
        self._restore()

    # -- construction ------------------------------------------------------------------------
    def _build_pages(self) -> None:
        """One view per entry of ``PAGES``, in a stack."""
        self.record_view = RecordView(self.library, self.queue, self.bridge, self.settings, self,
                                      compute=lambda: (self.compute_device, self.compute_dtype))
        self.file_view = AudioFileView(self.queue, self.bridge, self.settings, self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.record_view)
        self.transcribe_view = TranscribeView(self.queue, self.bridge, self.settings, self.file_view,
                                              compute=lambda: (self.compute_device, self.compute_dtype))
        self.stack.addWidget(self.transcribe_view)
        self.piano_roll = PianoRollView(self.queue, self.bridge, self.settings, self)
        self.stack.addWidget(self.piano_roll)
        self.generate_view = GenerateView(self.queue, self.bridge, self.settings,
                                          compute=lambda: (self.compute_device, self.compute_dtype),
                                          takes=self.library)
        self.stack.addWidget(self.generate_view)

    def _build_navigation(self) -> None:
        """The page list on the left of the stack (Ctrl+1..4 too, from the View menu)."""
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        for i, name in enumerate(self.PAGES):
            item = QListWidgetItem(name)
            item.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        self.nav.setFixedWidth(150)
        self.nav.setStyleSheet("QListWidget#navigation { font-size: 14px; } "
                               "QListWidget#navigation::item { padding: 8px 10px; }")
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_jobs_dock(self) -> None:
        """The Jobs panel, docked at the bottom (View › Jobs shows it again once closed)."""
        self.jobs_panel = JobsPanel(self.bridge, self.queue)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobsDock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.resizeDocks([self.jobs_dock], [170], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        """Compute device, audio input, and the views' passing messages."""
        self.compute_label = QLabel()
        self.input_label = QLabel()
        self.statusBar().addPermanentWidget(self.input_label)
        self.statusBar().addPermanentWidget(self.compute_label)
        self._show_compute_device()
        self.record_view.inputChanged.connect(self._show_input)
        self.record_view.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.file_view.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.transcribe_view.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.generate_view.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.record_view.transcribeRequested.connect(self._transcribe_take)
        self.generate_view.openScore.connect(self._open_composed)
        self._show_input(self.record_view.input_description())

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open audio file…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._open_audio)
        file_menu.addAction(open_action)
        transcribe_action = QAction("&Transcribe files…", self)
        transcribe_action.setShortcut(QKeySequence("Ctrl+T"))
        transcribe_action.triggered.connect(self._transcribe_files)
        file_menu.addAction(transcribe_action)
        file_menu.addSeparator()
        midi_open = QAction("Open &MIDI file…", self)
        midi_open.triggered.connect(self._open_midi)
        file_menu.addAction(midi_open)
        for name in ("new", "save", "save_as", "export_wav"):
            file_menu.addAction(self.piano_roll.actions_by_name[name])  # piano roll (its shortcuts)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for i, name in enumerate(self.PAGES):
            action = QAction(name, self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.nav.setCurrentRow(i))
            view_menu.addAction(action)
            self.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.jobs_dock.toggleViewAction())

        settings_menu = self.menuBar().addMenu("&Settings")
        devices = [(d.kind if d.index is None else f"{d.kind}:{d.index}", describe(d)) for d in available_devices()]
        self._device_group = self._choice_menu(
            settings_menu, "Compute &device", Keys.COMPUTE_DEVICE,
            [("auto", "Automatic (best available)")] + devices)
        self._dtype_group = self._choice_menu(
            settings_menu, "Model &precision", Keys.COMPUTE_DTYPE,
            [("auto", "Automatic (float16 on CUDA, else float32)"), ("float32", "float32"),
             ("float16", "float16"), ("bfloat16", "bfloat16")])

        settings_menu.addSeparator()
        unload = QAction("&Unload models", self)
        unload.setToolTip("Free the memory of loaded models; they load again when next needed")
        unload.triggered.connect(self._unload_models)
        settings_menu.addAction(unload)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Motet", self)
        about.triggered.connect(lambda: QMessageBox.about(
            self, "About Motet", f"<b>Motet {__version__}</b><p>A desktop AI audio studio.</p>"))
        help_menu.addAction(about)

    def _choice_menu(self, parent_menu, title: str, key: str, choices: list[tuple[str, str]]) -> QActionGroup:
        """A submenu of exclusive choices stored under ``key`` in the settings."""
        menu = parent_menu.addMenu(title)
        group = QActionGroup(self)
        current = str(self.settings.value(key, "auto"))
        for value, label in choices:
            action = QAction(label, self, checkable=True)
            action.setData(value)
            action.setChecked(value == current)
            group.addAction(action)
            menu.addAction(action)

        def chosen(action: QAction) -> None:
            self.settings.setValue(key, action.data())
            self._show_compute_device()

        group.triggered.connect(chosen)
        return group

    def _show_compute_device(self) -> None:
        self._resolve_compute()
        self.compute_label.setText(describe(self.compute_device, self.compute_dtype))
        self.compute_label.setToolTip("Compute device and precision for the models (Settings menu)")
        if hasattr(self, "transcribe_view"):
            self.transcribe_view.refresh_models()

    def _resolve_compute(self) -> None:
        """The remembered choice if it is still there (a GPU may be gone), else the best one."""
        try:
            dev = choose_device(str(self.settings.value(Keys.COMPUTE_DEVICE, "auto")))
        except ValueError:
            dev = choose_device("auto")
        try:
            dtype = choose_dtype(dev, str(self.settings.value(Keys.COMPUTE_DTYPE, "auto")))
        except ValueError:
            dtype = choose_dtype(dev)
        self.compute_device, self.compute_dtype = dev, dtype

    def _show_input(self, text: str) -> None:
        self.input_label.setText(f"Input: {text}")
        self.input_label.setToolTip("Audio input device")

    def _unload_models(self) -> None:
        from engine.models.registry import models

        freed = models.unload_all()
        self.statusBar().showMessage(f"Models unloaded ({freed / 2**20:.0f} MB freed)", 5000)

    def _transcribe_take(self, path: str) -> None:
        self.nav.setCurrentRow(self.PAGES.index("Transcribe"))
        self.transcribe_view.add_files([path])

    def _transcribe_files(self) -> None:
        self.nav.setCurrentRow(self.PAGES.index("Transcribe"))
        self.transcribe_view.choose_files()

    def _open_midi(self) -> None:
        self.nav.setCurrentRow(self.PAGES.index("Piano roll"))
        self.piano_roll.open_dialog()

    def _open_composed(self, score, title: str) -> None:
        """Generate's "Open in piano roll": the piece replaces the score (one undoable step)."""
        self.piano_roll.open_score(score, title)
        self.nav.setCurrentRow(self.PAGES.index("Piano roll"))

    def _open_audio(self) -> None:
        if self.stack.currentWidget() is self.piano_roll:  # Ctrl+O in the piano roll opens MIDI
            self.piano_roll.open_dialog()
            return
        self.nav.setCurrentRow(self.PAGES.index("Transcribe"))
        self.file_view.choose_and_open()

    # -- persistence -------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value(Keys.WINDOW_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 760)
        state = self.settings.value(Keys.WINDOW_STATE)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        try:
            page = int(self.settings.value(Keys.WINDOW_PAGE, 0))
        except (TypeError, ValueError):
            page = 0
        self.nav.setCurrentRow(page if 0 <= page < len(self.PAGES) else 0)

    def save_settings(self) -> None:
        self.settings.setValue(Keys.WINDOW_GEOMETRY, self.saveGeometry())
        self.settings.setValue(Keys.WINDOW_STATE, self.saveState())
        self.settings.setValue(Keys.WINDOW_PAGE, self.nav.currentRow())
        self.record_view.save_settings()
        self.file_view.save_settings()
        self.transcribe_view.save_settings()
        self.settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.piano_roll.maybe_save():  # unsaved motif: Save / Discard / Cancel
            event.ignore()
            return
        self.piano_roll.shutdown()
        self.record_view.shutdown()  # a take being recorded is stopped and saved, never lost
        self.file_view.shutdown()
        self.generate_view.shutdown()  # playback stopped, generations cancelled (results made are kept)
        self.save_settings()
        self.bridge.close()
        if self._owns_queue:
            QTimer.singleShot(0, lambda: self.queue.shutdown(timeout=2.0))
        super().closeEvent(event)
