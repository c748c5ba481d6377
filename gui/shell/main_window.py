"""The main window: navigation between the four pages, the Jobs dock, the status bar, the menus.

It can appear before the engine is loaded: the pages start as "Loading…" placeholders and
``load_after_first_paint`` imports torch and the models' code on a thread once the window has
painted, probes the compute devices, then builds the pages one per turn of the event loop (the
page on screen first), so the window shows at once and stays responsive. ``MainWindow()`` with
``load=True`` (the default) builds everything before it returns.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QStackedWidget, QWidget

from engine.audio.takes import TakeLibrary
from engine.jobs import JobQueue
from gui.common.settings import Keys, app_settings, get_str
from gui.jobs.bridge import JobsBridge
from gui.jobs.dock import JobsDock
from gui.jobs.panel import JobsPanel
from gui.shell.loading import Compute, EngineLoader, LoadingPage, probe_compute
from gui.shell.menus import WindowMenus


class MainWindow(QMainWindow):
    PAGES = ("Record", "Transcribe", "Piano roll", "Generate")
    ready = Signal()  # the engine is loaded and every page is built

    def __init__(self, queue: JobQueue | None = None, library: TakeLibrary | None = None, *,
                 load: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Motet")
        self.setObjectName("MotetMainWindow")
        self.settings = app_settings()
        self.queue = queue or JobQueue()
        self._owns_queue = queue is None
        self.bridge = JobsBridge(self.queue, self)
        self.library = library or TakeLibrary()
        self.is_ready = False
        self._closed = False
        self._loader: EngineLoader | None = None
        self.compute_devices: list = []
        self.compute_device = self.compute_dtype = None
        self.record_view = self.file_view = self.transcribe_view = self.piano_roll = self.generate_view = None
        self._shortcuts_dialog = None

        self._build_navigation()
        self._build_jobs_dock()
        self._build_status_bar()
        self.menus = WindowMenus(self)
        self.nav.currentRowChanged.connect(lambda _: self.menus.follow_page(self.current_page()))
        self._restore()
        if load:
            self._engine_loaded(probe_compute(*self._compute_prefs()), at_once=True)

    # -- the shell, there from the first paint -------------------------------------------------
    def _build_navigation(self) -> None:
        """The page list on the left of the stack of pages (placeholders until they are built)."""
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        for i, name in enumerate(self.PAGES):
            item = QListWidgetItem(name)
            item.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        self.nav.setFixedWidth(150)
        self.nav.setStyleSheet("QListWidget#navigation { font-size: 14px; } "
                               "QListWidget#navigation::item { padding: 8px 10px; }")
        self.stack = QStackedWidget()
        for name in self.PAGES:
            self.stack.addWidget(LoadingPage(name))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_jobs_dock(self) -> None:
        """The Jobs panel, docked at the bottom; it shows itself while work is worth watching."""
        # a job over before it would have been worth watching is not kept in the list either
        self.jobs_panel = JobsPanel(self.bridge, self.queue, quick_s=JobsDock.WORTH_WATCHING_S)
        self.jobs_dock = JobsDock(self.jobs_panel, self.settings, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.resizeDocks([self.jobs_dock], [170], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        """The views' passing messages; jobs while their panel is hidden, audio input, compute device."""
        self.compute_label = QLabel("Loading the engine…")
        self.compute_label.setToolTip("Compute device and precision for the models (Settings menu)")
        self.input_label = QLabel()
        self.input_label.setToolTip("Audio input device")
        for label in (self.compute_label, self.input_label):
            label.setContentsMargins(8, 0, 4, 0)
        bar = self.statusBar()
        bar.addPermanentWidget(self.jobs_dock.summary)
        bar.addPermanentWidget(self.input_label)
        bar.addPermanentWidget(self.compute_label)

    # -- loading -------------------------------------------------------------------------------
    def load_after_first_paint(self) -> None:
        """Load the engine on a thread once the window has painted (``ready`` says when done)."""
        self.statusBar().showMessage("Starting: loading the engine…")
        self.nav.viewport().installEventFilter(self)
        QTimer.singleShot(2000, self._start_loader)  # in case nothing paints (a minimised start)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and obj is self.nav.viewport():
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self._start_loader)  # after this paint has reached the screen
        return super().eventFilter(obj, event)

    def _start_loader(self) -> None:
        if self._loader is None and not self._closed:
            self._loader = EngineLoader(*self._compute_prefs(), parent=self)
            self._loader.loaded.connect(self._engine_loaded)
            self._loader.start()

    def _engine_loaded(self, result: Compute | Exception, at_once: bool = False) -> None:
        """The engine is there: build the pages (the shown one first), then the menus that use them."""
        if self._closed:
            return
        if isinstance(result, Exception):
            message = f"The engine could not be loaded: {type(result).__name__}: {result}"
            for i in range(self.stack.count()):
                self.stack.widget(i).failed(message)
            self.compute_label.setText("Engine not loaded")
            self.statusBar().showMessage(message)
            return
        self.compute_devices, self.compute_device, self.compute_dtype = result.devices, result.device, result.dtype
        builders = [self._build_record, self._build_transcribe, self._build_piano_roll, self._build_generate]
        current = self.nav.currentRow()
        order = [current] + [i for i in range(len(builders)) if i != current]
        steps = deque([lambda i=i: self._put_page(i, builders[i]()) for i in order] + [self._finish_loading])
        if at_once:
            while steps:
                steps.popleft()()
            return

        def next_step() -> None:
            if not self._closed:
                steps.popleft()()
                if steps:
                    QTimer.singleShot(0, next_step)

        self.statusBar().showMessage("Starting: building the pages…")
        QTimer.singleShot(0, next_step)

    def _put_page(self, index: int, page: QWidget) -> None:
        placeholder = self.stack.widget(index)
        self.stack.insertWidget(index, page)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        self.stack.setCurrentIndex(self.nav.currentRow())
        page.statusMessage.connect(self.say)

    def _finish_loading(self) -> None:
        self.menus.add_page_actions()
        self._show_compute()
        self.is_ready = True
        self.statusBar().showMessage("Ready", 3000)
        self.ready.emit()

    # -- the pages -----------------------------------------------------------------------------
    def _build_record(self) -> QWidget:
        from gui.record.view import RecordView

        self.record_view = RecordView(self.library, self.queue, self.bridge, self.settings, self,
                                      compute=self.compute)
        self.record_view.inputChanged.connect(self._show_input)
        self.record_view.transcribeRequested.connect(self._transcribe_take)
        self._show_input(self.record_view.input_description())
        return self.record_view

    def _build_transcribe(self) -> QWidget:
        from gui.transcribe.file_view import AudioFileView
        from gui.transcribe.view import TranscribeView

        self.file_view = AudioFileView(self.queue, self.bridge, self.settings, self)
        self.file_view.statusMessage.connect(self.say)
        self.transcribe_view = TranscribeView(self.queue, self.bridge, self.settings, self.file_view,
                                              compute=self.compute)
        return self.transcribe_view

    def _build_piano_roll(self) -> QWidget:
        from gui.pianoroll.view import PianoRollView

        self.piano_roll = PianoRollView(self.queue, self.bridge, self.settings, self)
        return self.piano_roll

    def _build_generate(self) -> QWidget:
        from gui.generate.view import GenerateView

        self.generate_view = GenerateView(self.queue, self.bridge, self.settings, compute=self.compute,
                                          takes=self.library)
        self.generate_view.openScore.connect(self._open_composed)
        return self.generate_view

    def pages(self) -> list[tuple[str, QWidget]]:
        """(name, widget) of every page, built or still a placeholder."""
        return [(name, self.stack.widget(i)) for i, name in enumerate(self.PAGES)]

    def current_page(self) -> str:
        return self.PAGES[max(0, self.nav.currentRow())]

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(self.PAGES.index(name))

    # -- status bar ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A page's passing message, in the status bar."""
        self.statusBar().showMessage(text, 8000)

    def compute(self):
        """(device, dtype) the models run on now."""
        return self.compute_device, self.compute_dtype

    def _compute_prefs(self) -> tuple[str, str]:
        return get_str(self.settings, Keys.COMPUTE_DEVICE, "auto"), get_str(self.settings, Keys.COMPUTE_DTYPE, "auto")

    def compute_changed(self) -> None:
        """Settings › Compute device or precision: resolve it again; the model lists follow."""
        result = probe_compute(*self._compute_prefs())
        self.compute_device, self.compute_dtype = result.device, result.dtype
        self._show_compute()
        self.transcribe_view.refresh_models()

    def _show_compute(self) -> None:
        from engine.device import describe

        self.compute_label.setText(describe(self.compute_device, self.compute_dtype))

    def _show_input(self, text: str) -> None:
        self.input_label.setText(f"Input: {text}")

    # -- commands ------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        from gui.shell.shortcuts_dialog import ShortcutsDialog

        if self._shortcuts_dialog is not None:
            self._shortcuts_dialog.close()
        self._shortcuts_dialog = ShortcutsDialog(self)
        self._shortcuts_dialog.show()

    def unload_models(self) -> None:
        from engine.models.registry import models

        freed = models.unload_all()
        self.statusBar().showMessage(f"Models unloaded ({freed / 2**20:.0f} MB freed)", 5000)

    def _transcribe_take(self, path: str) -> None:
        self.show_page("Transcribe")
        self.transcribe_view.add_files([path])

    def transcribe_files(self) -> None:
        self.show_page("Transcribe")
        self.transcribe_view.choose_files()

    def open_midi(self) -> None:
        self.show_page("Piano roll")
        self.piano_roll.open_dialog()

    def _open_composed(self, score, title: str) -> None:
        """Generate's "Open in piano roll": the piece replaces the score (one undoable step)."""
        self.piano_roll.open_score(score, title)
        self.show_page("Piano roll")

    def open_file(self) -> None:
        """Ctrl+O: a MIDI file on the piano roll, else an audio file to look at and play."""
        if self.current_page() == "Piano roll":
            self.piano_roll.open_dialog()
            return
        self.show_page("Transcribe")
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
        self.jobs_dock.update_visibility()  # pinned or not, whatever the saved state said
        try:
            page = int(self.settings.value(Keys.WINDOW_PAGE, 0))
        except (TypeError, ValueError):
            page = 0
        self.nav.setCurrentRow(page if 0 <= page < len(self.PAGES) else 0)

    def save_settings(self) -> None:
        self.settings.setValue(Keys.WINDOW_GEOMETRY, self.saveGeometry())
        self.settings.setValue(Keys.WINDOW_STATE, self.saveState())
        self.settings.setValue(Keys.WINDOW_PAGE, self.nav.currentRow())
        for view in (self.record_view, self.file_view, self.transcribe_view):
            if view is not None:
                view.save_settings()
        self.settings.sync()

    RECORDING_QUESTION = "A take is being recorded. Stop and save it, or keep recording?"

    def confirm_stop_recording(self) -> bool:
        """Closing while a take is recorded: "Stop and save" (True) or "Keep recording" (False)."""
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Question, "Recording", self.RECORDING_QUESTION,
                          QMessageBox.StandardButton.NoButton, self)
        stop = box.addButton("Stop and save", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep recording", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is stop

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self.record_view is not None and self.record_view.recording:
            if not self.confirm_stop_recording():
                event.ignore()
                return
            if self.record_view.recording:  # (it may have stopped by itself while the question was up)
                self.show_page("Record")
                self.record_view.stop_recording()  # saved now; shutdown() below finds nothing to stop
        if self.piano_roll is not None and not self.piano_roll.maybe_save():  # Save / Discard / Cancel
            event.ignore()
            return
        self._closed = True  # pages still to be built are not
        # a take being recorded is stopped and saved, never lost; generations are cancelled
        for view in (self.piano_roll, self.record_view, self.file_view, self.generate_view):
            if view is not None:
                view.shutdown()
        self.save_settings()
        self.bridge.close()
        if self._owns_queue:
            QTimer.singleShot(0, lambda: self.queue.shutdown(timeout=2.0))
        super().closeEvent(event)
