"""Generate's form: the prompt (Ctrl+Enter generates; example prompts; the last 20 prompts) and
MusicGen's options, their ranges taken from engine.models.musicgen.options (the same limits the
`motet generate` parser and the engine check). Every value is remembered as it changes."""

from __future__ import annotations

import json
import math

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QIntValidator, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.audio.generations import Generation
from engine.models.musicgen import options as mg
from engine.tasks.generate import GenerateRequest
from gui.common.settings import Keys, get_float, get_str

HISTORY_SIZE = 20
EXAMPLES = (
    "lo-fi hip hop beat with warm piano chords and vinyl crackle, 80 bpm",
    "epic orchestral soundtrack with soaring strings, brass and timpani",
    "upbeat 80s synth-pop with punchy drums and a catchy lead synth",
    "gentle acoustic folk guitar with soft percussion",
    "ambient drone with slowly evolving pads, calm and spacious",
    "funky bass line with slap bass, clavinet and brass stabs, 110 bpm",
    "jazz trio: brushed drums, upright bass and a mellow piano solo",
)


class PromptEdit(QPlainTextEdit):
    """The prompt: several lines; Ctrl+Enter asks to generate instead of adding a line."""

    submitted = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt naming
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if ctrl and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


def _double(limits: tuple[float, float], step: float, decimals: int, tip: str, suffix: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(*limits)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    return spin


class GenerateForm(QWidget):
    """The prompt and the options; ``request()`` turns them into a GenerateRequest."""

    generateRequested = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Describe the music: genre, instruments, mood, tempo…  (Ctrl+Enter generates)")
        self.prompt.setTabChangesFocus(True)
        line = self.prompt.fontMetrics().lineSpacing()
        self.prompt.setMinimumHeight(2 * line + 14)
        self.prompt.setMaximumHeight(5 * line + 14)
        self.examples_button = self._menu_button("Examples", "Example prompts to start from", self._fill_examples)
        self.history_button = self._menu_button("Recent", "The last prompts you generated with", self._fill_history)

        self.seconds_spin = _double(mg.SECONDS, 1.0, 1, "Length of the new music (beyond 30 s it is made in windows)",
                                    " s")
        self.guidance_spin = _double(mg.GUIDANCE, 0.5, 1, "How closely to follow the prompt "
                                     "(classifier-free guidance; 1 is off, 3 is usual)")
        self.temperature_spin = _double(mg.TEMPERATURE, 0.05, 2, "Randomness of the sampling: lower is safer, "
                                        "higher more surprising")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(*mg.TOP_K)
        self.top_k_spin.setSingleStep(10)
        self.top_k_spin.setSpecialValueText("off")
        self.top_k_spin.setToolTip("Sample from the k most likely codes (0: off; MusicGen uses 250)")
        self.top_p_spin = _double(mg.TOP_P, 0.05, 2, "Sample from the smallest set of codes with this total "
                                  "probability (0: off)")
        self.top_p_spin.setSpecialValueText("off")
        self.variations_spin = QSpinBox()
        self.variations_spin.setRange(*mg.VARIATIONS)
        self.variations_spin.setToolTip("How many pieces to make at once (one batch, one seed)")
        self.seed_edit = QLineEdit()
        self.seed_edit.setValidator(QIntValidator(0, mg.SEED_MAX, self))
        self.seed_edit.setPlaceholderText("random")
        self.seed_edit.setClearButtonEnabled(True)
        self.seed_edit.setToolTip(f"The same seed, prompt and settings give the same music (0 to {mg.SEED_MAX}); "
                                  "empty: a new random one, shown with each result")

        self.int8_check = QCheckBox("int8")  # a check box, not a list: the page must fit a 790-px window
        self.int8_check.setToolTip("On the CPU, int8 runs the language model about twice as fast; it is "
                                      "checked against float32 the first time a model uses it")

        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(QLabel("<b>Prompt</b>"))
        head.addStretch(1)
        head.addWidget(self.examples_button)
        head.addWidget(self.history_button)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        cells = (("Duration", self.seconds_spin), ("Variations", self.variations_spin),
                 ("Guidance", self.guidance_spin), ("Seed", self.seed_edit),
                 ("Temperature", self.temperature_spin), ("Top-k", self.top_k_spin),
                 ("Top-p", self.top_p_spin), ("Compute", self.int8_check))
        for i, (label, widget) in enumerate(cells):
            row, col = divmod(i, 2)
            text = QLabel(label)
            text.setBuddy(widget)
            grid.addWidget(text, row, col * 2)
            grid.addWidget(widget, row, col * 2 + 1)
        grid.setColumnStretch(4, 1)  # the boxes keep their size in a wide window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.prompt)
        layout.addLayout(grid)

        self.load_settings()
        self.prompt.submitted.connect(self.generateRequested)
        self.prompt.textChanged.connect(lambda: self.settings.setValue(Keys.GENERATE_PROMPT, self.prompt_text()))
        for spin in self.spins():
            spin.valueChanged.connect(self.save_settings)
        self.int8_check.toggled.connect(self.save_settings)
        self.seed_edit.textChanged.connect(self.save_settings)

    def _menu_button(self, text: str, tip: str, fill) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.aboutToShow.connect(lambda: fill(menu))
        button.setMenu(menu)
        return button

    def _fill_examples(self, menu: QMenu) -> None:
        menu.clear()
        for text in EXAMPLES:
            menu.addAction(text, lambda text=text: self.set_prompt(text))

    def _fill_history(self, menu: QMenu) -> None:
        menu.clear()
        prompts = self.history()
        for text in prompts:
            shown = text if len(text) <= 80 else text[:79] + "…"
            action = menu.addAction(shown.replace("&", "&&"), lambda text=text: self.set_prompt(text))
            action.setToolTip(text)
        if not prompts:
            menu.addAction("No prompts yet").setEnabled(False)

    # -- values ------------------------------------------------------------------------------
    def spins(self) -> tuple:
        return (self.seconds_spin, self.guidance_spin, self.temperature_spin, self.top_k_spin, self.top_p_spin,
                self.variations_spin)

    def prompt_text(self) -> str:
        return self.prompt.toPlainText().strip()

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.prompt.setFocus()
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)

    def seed(self) -> int | None:
        """The typed seed, None when empty; ValueError for one out of range."""
        text = self.seed_edit.text().strip()
        if not text:
            return None
        if not text.isdigit() or int(text) > mg.SEED_MAX:
            raise ValueError(f"the seed must be a whole number from 0 to {mg.SEED_MAX}, or empty for a random one")
        return int(text)

    def compute_type(self) -> str:
        return "int8" if self.int8_check.isChecked() else "float32"

    def request(self, source: tuple[str, float, float | None] | None = None) -> GenerateRequest:
        """What to generate; ValueError (a line to show) for a value the engine would refuse."""
        request = GenerateRequest(
            prompt=self.prompt_text(), seconds=self.seconds_spin.value(), guidance=self.guidance_spin.value(),
            temperature=self.temperature_spin.value(), top_k=self.top_k_spin.value(), top_p=self.top_p_spin.value(),
            seed=self.seed(), variations=self.variations_spin.value(), compute_type=self.compute_type())
        if source is not None:
            request.continue_from, request.continue_start, request.continue_end = source
        mg.check_options(request.seconds, request.guidance, request.temperature, request.top_k, request.top_p,
                         request.variations, request.seed)
        return request

    def use(self, g: Generation) -> None:
        """Put a result's prompt, settings and seed back (Use settings), to make it again or vary it."""
        s = g.settings
        self.set_prompt(g.prompt)
        self.seconds_spin.setValue(min(max(g.seconds, mg.SECONDS[0]), mg.SECONDS[1]))
        for spin, key in ((self.guidance_spin, "guidance"), (self.temperature_spin, "temperature"),
                          (self.top_k_spin, "top_k"), (self.top_p_spin, "top_p"),
                          (self.variations_spin, "variations")):
            if isinstance(s.get(key), (int, float)):
                spin.setValue(s[key])
        if "variation" not in s:  # made alone; a batch's variation k needs that batch's size (kept as is)
            self.variations_spin.setValue(1)
        self.seed_edit.setText(str(g.seed))
        self.int8_check.setChecked(s.get("compute") == "int8")

    # -- history and settings ----------------------------------------------------------------
    def history(self) -> list[str]:
        try:
            value = json.loads(get_str(self.settings, Keys.GENERATE_PROMPT_HISTORY, "[]"))
        except ValueError:
            return []
        return [p for p in value if isinstance(p, str) and p.strip()][:HISTORY_SIZE] if isinstance(value, list) else []

    def remember_prompt(self, text: str) -> None:
        text = text.strip()
        if text:
            prompts = [text] + [p for p in self.history() if p != text]
            self.settings.setValue(Keys.GENERATE_PROMPT_HISTORY, json.dumps(prompts[:HISTORY_SIZE]))

    def load_settings(self) -> None:
        s = self.settings
        self.prompt.setPlainText(get_str(s, Keys.GENERATE_PROMPT))
        for spin, key, default in ((self.seconds_spin, Keys.GENERATE_SECONDS, mg.DEFAULT_SECONDS),
                                   (self.guidance_spin, Keys.GENERATE_GUIDANCE, mg.DEFAULT_GUIDANCE),
                                   (self.temperature_spin, Keys.GENERATE_TEMPERATURE, 1.0),
                                   (self.top_k_spin, Keys.GENERATE_TOP_K, mg.DEFAULT_TOP_K),
                                   (self.top_p_spin, Keys.GENERATE_TOP_P, 0.0),
                                   (self.variations_spin, Keys.GENERATE_VARIATIONS, 1)):
            value = get_float(s, key, default)
            value = value if math.isfinite(value) else default  # NaN or inf in a hand-edited file
            spin.setValue(round(value) if isinstance(spin, QSpinBox) else value)
        compute = get_str(s, Keys.GENERATE_COMPUTE, "float32")
        self.int8_check.setChecked(compute == "int8")
        seed = get_str(s, Keys.GENERATE_SEED)
        self.seed_edit.setText(seed if seed.isdigit() and int(seed) <= mg.SEED_MAX else "")

    def save_settings(self, *_: object) -> None:
        s = self.settings
        for spin, key in ((self.seconds_spin, Keys.GENERATE_SECONDS), (self.guidance_spin, Keys.GENERATE_GUIDANCE),
                          (self.temperature_spin, Keys.GENERATE_TEMPERATURE), (self.top_k_spin, Keys.GENERATE_TOP_K),
                          (self.top_p_spin, Keys.GENERATE_TOP_P), (self.variations_spin, Keys.GENERATE_VARIATIONS)):
            s.setValue(key, spin.value())
        s.setValue(Keys.GENERATE_SEED, self.seed_edit.text().strip())
        s.setValue(Keys.GENERATE_COMPUTE, self.compute_type())
        s.setValue(Keys.GENERATE_PROMPT, self.prompt_text())
