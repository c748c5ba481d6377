"""The Generate page: type a prompt, get music. Two modes, switched at the top of the page and
remembered: Audio (MusicGen, below) and MIDI (Compose: editable pieces by the composer model,
``compose_panel``), whose "Open in piano roll" the page passes on as ``openScore``.

In Audio mode the form (``form``: prompt and options; ``source``: audio to continue; ``models``: the model
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
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.tasks.compositions import CompositionLibrary
from engine.audio.generations import GenerationLibrary
from engine.audio.takes import TakeLibrary
from engine.jobs import JobQueue, Priority
from engine.models.catalog import Downloadable
from engine.models.musicgen.pipeline import is_melody_folder
from engine.tasks.compose import compose_piece
from engine.tasks.generate import generate_music
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner
from gui.generate.compose_panel import ComposePanel
from gui.generate.compose_results import Composed, ComposeResults, describe
from gui.generate.form import GenerateForm
from gui.generate.models import ModelPicker, how_to_get_one, one_line
from gui.generate.results import ResultsPanel
from gui.generate.source import SourcePicker
from gui.jobs.bridge import JobsBridge

MODES = ("audio", "midi")
MODE_BUTTONS = (("Audio", "Make sound from a prompt with MusicGen"),
                ("MIDI", "Compose an editable piece (notes) from a prompt, for the piano roll"))
SEGMENT = ("QPushButton {{ padding: 3px 16px; border: 1px solid #9aa4b2; background: #f4f5f7; {corners} }}"
           "QPushButton:checked {{ background: #3b73c4; border-color: #3b73c4; color: white; font-weight: bold; }}")


class JobRow:
    """A mode's button (Generate, Compose), Cancel and progress bar in a row, the status line under
    them, and the jobs they follow, oldest first (pressed again while one runs, the next waits)."""

    def __init__(self, queue: JobQueue, action: str, tip: str, cancel_tip: str) -> None:
        self.queue = queue
        self.jobs: dict[int, str] = {}  # job id -> its prompt
        self.button = QPushButton(action)
        self.button.setDefault(True)
        self.button.setToolTip(tip)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(cancel_tip)
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
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.button)
        self.row.addWidget(self.cancel_button)
        self.row.addWidget(self.progress, 1)
        self.cancel_button.clicked.connect(self.cancel)
        self.update()

    def cancel(self) -> None:
        """Stop every job of the row (the running one and any waiting)."""
        for job_id in list(self.jobs):
            self.queue.cancel(job_id)

    def started(self, job_id: int, prompt: str) -> None:
        self.jobs[job_id] = prompt
        self.update("queued")

    def progressed(self, job_id: int, fraction: float | None, message: str) -> None:
        if job_id in self.jobs:
            self.progress.setRange(0, 0 if fraction is None else 1000)
            if fraction is not None:
                self.progress.setValue(round(fraction * 1000))
            self.update(message)

    def update(self, message: str = "") -> None:
        running = bool(self.jobs)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            waiting = len(self.jobs) - 1
            self.status_label.setText(message + (f" · {waiting} more waiting" if waiting else ""))

    def ended(self, job_id: int) -> str:
        """The job's prompt; the row shows the next one waiting, if any."""
        prompt = self.jobs.pop(job_id, "")
        self.progress.setRange(0, 1000)
        self.update()
        return prompt

    def say(self, text: str) -> None:
        if not self.jobs:
            self.status_label.setText(text)


def scrolled(column: QWidget) -> QScrollArea:
    """A form column that scrolls (down) only in a window too low for it."""
    area = QScrollArea()
    area.setWidget(column)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(column.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def split(settings: QSettings, key: str, form: QWidget, results: QWidget) -> QSplitter:
    """The form and the results side by side, two fifths and three at first, then as the user left it."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(form)
    splitter.addWidget(results)
    splitter.setStretchFactor(0, 2)
    splitter.setStretchFactor(1, 3)
    splitter.setChildrenCollapsible(False)
    state = settings.value(key)
    if isinstance(state, QByteArray) and not state.isEmpty():
        splitter.restoreState(state)
    else:
        splitter.setSizes([2000, 3000])
    splitter.splitterMoved.connect(lambda *_: settings.setValue(key, splitter.saveState()))
    return splitter


def page(banner: Banner, splitter: QSplitter) -> QWidget:
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(banner)
    layout.addWidget(splitter, 1)
    return widget


class GenerateView(QWidget):
    statusMessage = Signal(str)
    openScore = Signal(object, str)  # a composed Score and its title, for the piano roll

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, compute: Callable,
                 parent: QWidget | None = None, takes: TakeLibrary | None = None,
                 library: GenerationLibrary | None = None, composer_folder=None,
                 compositions: CompositionLibrary | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings = queue, bridge, settings
        self.compute = compute  # () -> (ComputeDevice, dtype) chosen in the Settings menu
        self.library = library or GenerationLibrary()
        self.compositions = compositions or CompositionLibrary()  # composed pieces, kept across restarts
        self.audio_row = JobRow(queue, "Generate", "Make music from the prompt (Ctrl+Enter in the prompt); "
                                "pressed again while one runs, the next waits its turn",
                                "Stop the generation (nothing of it is kept)")
        row = self.audio_row
        self.generate_button, self.cancel_button, self.progress, self.status_label, self.jobs = (
            row.button, row.cancel_button, row.progress, row.status_label, row.jobs)

        self.banner = Banner()
        self.models = ModelPicker(queue, bridge, settings, self.banner)
        self.form = GenerateForm(settings)
        self.source = SourcePicker(settings, takes)
        self.results = ResultsPanel(self.library, queue, bridge, settings, self.banner)
        self.form_area = scrolled(self._column([self.models, self.form, self.source], self.audio_row, 6))
        self.split = split(settings, Keys.GENERATE_SPLITTER, self.form_area, self.results)
        self.stack = QStackedWidget()
        self.stack.addWidget(page(self.banner, self.split))
        self.stack.addWidget(self._build_compose_page(composer_folder))
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_mode_bar())
        layout.addWidget(self.stack, 1)
        mode = get_str(settings, Keys.GENERATE_MODE, "audio")
        self.set_mode(mode if mode in MODES else "audio")

        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self._toggle_playback,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.generate_button.clicked.connect(self.generate)
        self.form.generateRequested.connect(self.generate)
        self.models.changed.connect(self._model_changed)
        self.models.statusMessage.connect(self.say)
        self.results.statusMessage.connect(self.say)
        self.results.useSettings.connect(self.use_settings)
        self.source.error.connect(lambda message: self.banner.show_message(message, "error"))
        self.models.refresh()
        self.results.refresh()

    def _build_mode_bar(self) -> QHBoxLayout:
        """Audio | MIDI, a segmented pair at the top of the page."""
        self.mode_group = QButtonGroup(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        corners = ("border-top-left-radius: 5px; border-bottom-left-radius: 5px; border-right: none;",
                   "border-top-right-radius: 5px; border-bottom-right-radius: 5px;")
        self.mode_buttons = {}
        for mode, (text, tip), corner in zip(MODES, MODE_BUTTONS, corners):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.setStyleSheet(SEGMENT.format(corners=corner))
            button.clicked.connect(lambda _=False, mode=mode: self.set_mode(mode))
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            row.addWidget(button)
        row.addStretch(1)
        return row

    def mode(self) -> str:
        return MODES[self.stack.currentIndex()]

    def set_mode(self, mode: str) -> None:
        """Show the Audio or the MIDI mode (remembered)."""
        index = MODES.index(mode)
        self.stack.setCurrentIndex(index)
        for i in range(self.stack.count()):  # only the page shown sets the page's (and window's) minimum size
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.stack.widget(i).setSizePolicy(policy, policy)
        self.mode_buttons[mode].setChecked(True)
        self.settings.setValue(Keys.GENERATE_MODE, mode)

    def _toggle_playback(self) -> None:
        if self.mode() == "midi":
            self.compose_results.toggle()
        else:
            self.results.toggle_playback()

    @staticmethod
    def _column(parts: list, row: JobRow, spacing: int) -> QWidget:
        """The form's parts, then the button row (Generate or Compose, Cancel, progress) and the status."""
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(spacing)
        for part in parts:
            layout.addWidget(part)
        layout.addLayout(row.row)
        layout.addWidget(row.status_label)
        layout.addStretch(1)
        return column

    def _build_compose_page(self, composer_folder) -> QWidget:
        """MIDI mode: the prompt, its chips and the options, Compose/Cancel and the progress; the pieces."""
        self.compose = ComposePanel(self.settings, composer_folder)
        self.compose_banner = Banner()
        self.compose_results = ComposeResults(self.queue, self.bridge, self.settings, self.compose_banner,
                                              library=self.compositions)
        self.midi_row = JobRow(self.queue, "Compose", "", "Stop composing (nothing of it is kept)")
        self.compose_area = scrolled(self._column([self.compose], self.midi_row, 5))
        self.compose_split = split(self.settings, Keys.COMPOSE_SPLITTER, self.compose_area, self.compose_results)
        self.midi_row.button.clicked.connect(self.compose_midi)
        self.compose.composeRequested.connect(self.compose_midi)
        self.compose.problem.connect(self._compose_problem)
        self._compose_problem(self.compose.error or "")
        self.compose_results.openScore.connect(self.openScore)
        self.compose_results.statusMessage.connect(lambda text: self.say(text, self.midi_row))
        return page(self.compose_banner, self.compose_split)

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
            self.banner.show_message(how_to_get_one(small), "warn", actions)
        self.models.combo.setEnabled(self.models.combo.count() > 0)  # the downloads are chosen there

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
        self._follow(job.id, request.prompt, self.audio_row, self.banner, self._finished, "Could not generate",
                     "Generation cancelled: nothing was kept.")
        return job.id

    def _follow(self, job_id: int, prompt: str, row: JobRow, banner: Banner, finished, failed: str,
                cancelled: str) -> None:
        row.started(job_id, prompt)
        self.bridge.watch(job_id, on_finished=lambda made: finished(row.ended(job_id), made),
                          on_failed=lambda message, _: self._ended(job_id, row, banner,
                                                                   f"{failed}: {one_line(message)}"),
                          on_cancelled=lambda: self._ended(job_id, row, banner, cancelled, "info"),
                          on_progress=lambda f, message: row.progressed(job_id, f, message))

    def cancel(self) -> None:
        """Stop every generation this page started (the running one and any waiting)."""
        self.audio_row.cancel()

    def _finished(self, _prompt: str, made: list) -> None:
        if made:
            self.results.refresh(select=made[0].id)
            pieces = f"{len(made)} pieces" if len(made) > 1 else "1 piece"
            self.say(f"Made {pieces} of {made[0].seconds:.1f} s · seed {made[0].seed}")

    def _ended(self, job_id: int, row: JobRow, banner: Banner, line: str, kind: str = "error") -> None:
        row.ended(job_id)
        banner.show_message(line, kind)
        self.say(line, row)

    # -- composing (MIDI mode) ---------------------------------------------------------------
    def compose_midi(self) -> int | None:
        """Submit a compose job for the prompt and chips as they are; its id, or None (why in the banner)."""
        try:
            request = self.compose.request()
        except ValueError as exc:
            self.compose_banner.show_message(f"Cannot compose: {exc}", "error")
            return None
        self.compose_banner.hide()
        self.compose.remember_prompt(request.prompt)
        short = request.prompt if len(request.prompt) <= 40 else request.prompt[:39] + "…"
        count = f" × {request.variations}" if request.variations > 1 else ""
        job = self.queue.submit(compose_piece, request, model_folder=self.compose.model_folder,
                                library=self.compositions, kind="compose",
                                title=f"Compose “{short or request.controls.style}” ({request.controls.bars} bars"
                                      f"{count})", priority=Priority.INTERACTIVE, lane="gpu")
        self._follow(job.id, request.prompt, self.midi_row, self.compose_banner, self._composed, "Could not compose",
                     "Composing cancelled: nothing was kept.")
        return job.id

    def _composed(self, prompt: str, made) -> None:
        n = len(made.scores)
        kept = [p.id for p in made.kept] + [None] * (n - len(made.kept))
        self.compose_results.add([Composed(prompt, describe(made.controls), made.seed, i + 1, n, score, kept[i])
                                  for i, score in enumerate(made.scores)])
        if made.not_kept:  # the pieces are here for this session; saying so beats losing them silently
            self.compose_banner.show_message(f"The pieces are shown but not kept after a restart: "
                                             f"{one_line(made.not_kept)}", "warn")
        self.say(f"Composed {n} piece{'s' if n != 1 else ''} of {made.controls.bars} bars · seed {made.seed}",
                 self.midi_row)

    def _compose_problem(self, problem: str) -> None:
        """A prompt with a value the model cannot take: Compose waits (the line is under the chips)."""
        self.midi_row.button.setEnabled(not problem)
        self.midi_row.button.setToolTip(f"Cannot compose: {problem}" if problem else
                                        "Compose pieces from the prompt and chips (Ctrl+Enter in the prompt); "
                                        "pressed again while one runs, the next waits its turn")

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

    def say(self, text: str, row: JobRow | None = None) -> None:
        """A passing line under the Generate (or Compose) button, and for the window's status bar."""
        (row or self.audio_row).say(text)
        self.statusMessage.emit(text)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.source.refresh()  # a take may have been recorded meanwhile,
        self.results.refresh()  # or music made with `motet generate`
        self.compose_results.load()  # or pieces with `motet compose`
        super().showEvent(event)

    def shutdown(self) -> None:
        self.cancel()
        self.midi_row.cancel()
        self.results.shutdown()
        self.compose_results.shutdown()
