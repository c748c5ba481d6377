"""The Generate page: type a prompt, get music (MusicGen).

The form (``form``: prompt and options; ``source``: audio to continue; ``models``: the model
picker with downloads) sits on the left; the results (``results``: every generation kept by the
library, with its spectrogram, waveform, playback, export) on the right. Generate submits
``engine.tasks.generate.generate_music`` on the gpu lane; its progress (steps/s, time left) shows
under the button, the form stays usable meanwhile (another Generate queues behind), and Cancel
stops it. Every failure is one banner line, never a dialog or a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.audio.generations import GenerationLibrary
from engine.audio.takes import TakeLibrary
from engine.jobs import JobQueue, Priority
from engine.models.catalog import Downloadable
from engine.models.musicgen.pipeline import is_melody_folder
from engine.tasks.generate import generate_music
from gui.common.settings import Keys
from gui.common.widgets import Banner
from gui.generate.form import GenerateForm
from gui.generate.models import HOW_TO_GET_ONE, ModelPicker, one_line
from gui.generate.results import ResultsPanel
from gui.generate.source import SourcePicker
from gui.jobs.bridge import JobsBridge


class GenerateView(QWidget):
    statusMessage = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, compute: Callable,
                 parent: QWidget | None = None, takes: TakeLibrary | None = None,
                 library: GenerationLibrary | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings = queue, bridge, settings
        self.compute = compute  # () -> (ComputeDevice, dtype) chosen in the Settings menu
        self.library = library or GenerationLibrary()
        self.jobs: dict[int, str] = {}  # generation job id -> its prompt, oldest first

        self.banner = Banner()
        self.models = ModelPicker(queue, bridge, settings, self.banner)
        self.form = GenerateForm(settings)
        self.source = SourcePicker(settings, takes)
        self.results = ResultsPanel(self.library, queue, bridge, settings, self.banner)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.form_area = QScrollArea()  # scrolls (down) only in a window lower than 700 px
        column = self._build_form_column()
        self.form_area.setWidget(column)
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_area.setMinimumWidth(column.minimumSizeHint().width()
                                       + self.form_area.verticalScrollBar().sizeHint().width())
        self.split.addWidget(self.form_area)
        self.split.addWidget(self.results)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)
        state = settings.value(Keys.GENERATE_SPLITTER)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.split.restoreState(state)
        else:
            self.split.setSizes([2000, 3000])  # two fifths for the form, whatever the window's width

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.split, 1)

        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.results.toggle_playback,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.split.splitterMoved.connect(lambda *_: settings.setValue(Keys.GENERATE_SPLITTER, self.split.saveState()))
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.form.generateRequested.connect(self.generate)
        self.models.changed.connect(self._model_changed)
        self.models.statusMessage.connect(self.say)
        self.results.statusMessage.connect(self.say)
        self.results.useSettings.connect(self.use_settings)
        self.source.error.connect(lambda message: self.banner.show_message(message, "error"))
        self.models.refresh()
        self.results.refresh()
        self._update_progress()

    def _build_form_column(self) -> QWidget:
        """Model, prompt and options, audio to continue, then Generate/Cancel and the progress."""
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Make music from the prompt (Ctrl+Enter in the prompt); "
                                        "pressed again while one runs, the next waits its turn")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the generation (nothing of it is kept)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the buttons keep their width when it hides
        self.progress.setSizePolicy(policy)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #666;")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setMinimumWidth(40)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.generate_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.models)
        layout.addWidget(self.form)
        layout.addWidget(self.source)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        return column

    # -- models ------------------------------------------------------------------------------
    def _model_changed(self) -> None:
        entry = self.models.current()
        has = entry is not None
        self.source.set_melody_supported(has and is_melody_folder(entry.path))
        self.generate_button.setEnabled(has)
        if self.models.catalog_error:
            self.banner.show_message(f"MusicGen models cannot be listed: {one_line(self.models.catalog_error)}",
                                     "error")
        elif not has:
            small = next((self.models.combo.itemData(i) for i in range(self.models.combo.count())
                          if isinstance(self.models.combo.itemData(i), Downloadable)), None)
            actions = [("Add folder…", self.models.choose_folder)]
            if small is not None:
                actions.insert(0, (f"Download {small.name}…", lambda: self.models.offer_download(small)))
            self.banner.show_message(HOW_TO_GET_ONE, "warn", actions)

    # -- generating --------------------------------------------------------------------------
    def generate(self) -> int | None:
        """Submit a generation job for the form as it is; its id, or None (why in the banner)."""
        entry = self.models.current()
        if entry is None:
            self.banner.show_message("Choose a MusicGen model first (or add a MusicGen folder).", "error")
            return None
        try:
            request = self.form.request(self.source.source())
            request.melody_from = self.source.melody()
        except ValueError as exc:
            self.banner.show_message(f"Cannot generate: {exc}", "error")
            return None
        self.banner.hide()
        self.form.save_settings()
        self.form.remember_prompt(request.prompt)
        device, dtype = self.compute()
        short = request.prompt if len(request.prompt) <= 40 else request.prompt[:39] + "…"
        count = f" × {request.variations}" if request.variations > 1 else ""
        job = self.queue.submit(generate_music, str(entry.path), request, device=str(device.torch_device), dtype=dtype,
                                library=self.library, kind="generate",
                                title=f"Generate “{short or 'continuation'}” ({request.seconds:g} s{count})",
                                priority=Priority.INTERACTIVE, lane="gpu")
        self.jobs[job.id] = request.prompt
        self.bridge.watch(job.id, on_finished=lambda made: self._finished(job.id, made),
                          on_failed=lambda message, _: self._ended(job.id, f"Could not generate: {one_line(message)}"),
                          on_cancelled=lambda: self._ended(job.id, "Generation cancelled: nothing was kept.", "info"),
                          on_progress=lambda f, message: self._progress(job.id, f, message))
        self._update_progress("queued")
        return job.id

    def cancel(self) -> None:
        """Stop every generation this page started (the running one and any waiting)."""
        for job_id in list(self.jobs):
            self.queue.cancel(job_id)

    def _progress(self, job_id: int, fraction: float | None, message: str) -> None:
        if job_id not in self.jobs:
            return
        self.progress.setRange(0, 0 if fraction is None else 1000)
        if fraction is not None:
            self.progress.setValue(round(fraction * 1000))
        self._update_progress(message)

    def _update_progress(self, message: str = "") -> None:
        running = bool(self.jobs)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            waiting = len(self.jobs) - 1
            self.status_label.setText(message + (f" · {waiting} more waiting" if waiting else ""))

    def _finished(self, job_id: int, made: list) -> None:
        self.jobs.pop(job_id, None)
        self.progress.setRange(0, 1000)
        self._update_progress()
        if made:
            self.results.refresh(select=made[0].id)
            pieces = f"{len(made)} pieces" if len(made) > 1 else "1 piece"
            self.say(f"Made {pieces} of {made[0].seconds:.1f} s · seed {made[0].seed}")

    def _ended(self, job_id: int, line: str, kind: str = "error") -> None:
        self.jobs.pop(job_id, None)
        self.progress.setRange(0, 1000)
        self._update_progress()
        self.banner.show_message(line, kind)
        self.say(line)

    def use_settings(self, g) -> None:
        """A result's prompt, settings and seed back into the form (Use settings)."""
        self.form.use(g)
        continued = g.settings.get("continued_from")
        if continued:
            self.banner.show_message(f"This result continued “{continued}”: choose it again under "
                                     "Continue to make it again.", "info")
        else:
            self.source.clear()  # made from the prompt alone
        variation = g.settings.get("variation")
        note = (f"; variation {variation} of a batch comes back with that batch's number of variations"
                if variation and "variations" not in g.settings else "")
        self.say(f"Settings of “{g.prompt[:40]}”, seed {g.seed}{note}")

    def say(self, text: str) -> None:
        """A passing line under the Generate button (and for the window's status bar)."""
        if not self.jobs:
            self.status_label.setText(text)
        self.statusMessage.emit(text)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.source.refresh()  # a take may have been recorded meanwhile,
        self.results.refresh()  # or music made with `motet generate`
        super().showEvent(event)

    def shutdown(self) -> None:
        self.cancel()
        self.results.shutdown()
