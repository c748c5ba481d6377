"""Generate's MIDI mode (Compose): the form. A prompt such as "a lively jig in D major, 16 bars,
fiddle" is read (``read_prompt``, again 250 ms after the typing stops) into chips under it: what
the prompt did not say is a default and looks it (dashed, grey, italic); a chip the user edits wins
until the prompt names that control again. A value the model cannot take (0 bars, 7/8) is the line
under the chips, and Compose waits for a better prompt (``problem``). ``request()`` is what the
page (view.py) submits as a compose job, with ``model_folder``; the results are ``compose_results``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QRegularExpression, QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.midi.instruments import GM_PROGRAMS
from engine.models.composer import controls as cc
from engine.models.composer.controls import STYLES, Controls, Key
from engine.models.composer.generate import SEED_MAX, TEMPERATURE, TOP_P, VARIATIONS
from engine.models.composer.prompt import DEFAULT_TONIC, Reading, read_prompt
from engine.tasks.compose import ComposeRequest, new_seed
from gui.common.settings import Keys, get_float, get_str
from gui.generate.form import PromptEdit
from gui.generate.models import one_line

HISTORY_SIZE = 20
EXAMPLES = ("a lively jig in D major, 16 bars, fiddle", "a slow air in E minor on tin whistle",
            "a Bach chorale in G major, 8 bars", "a reel in A, 32 bars, for accordion",
            "a renaissance motet in F, 12 bars, choir", "a waltz in C major on piano, 16 bars")
CHIP_STYLES = {
    "said": "QFrame#chip { border: 1px solid #8ab4f8; border-radius: 9px; background: #eaf2fe; }",
    "edited": "QFrame#chip { border: 1px solid #e0a800; border-radius: 9px; background: #fff5d6; }",
    "default": "QFrame#chip { border: 1px dashed #b4b4bc; border-radius: 9px; } QLabel { color: #888; }"}
CHIP_TIPS = {"said": "as the prompt says", "edited": "set by you: it wins until the prompt names it again",
             "default": "default: the prompt does not say (the style's usual value)"}


def _combo(items, tip: str) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(4)
    combo.setToolTip(tip)
    return combo


def _spin(cls, limits, tip: str, step=1, decimals: int = 2, suffix: str = ""):
    spin = cls()
    if cls is QDoubleSpinBox:
        spin.setDecimals(decimals)
    spin.setRange(*limits)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    return spin


class Chip(QFrame):
    """One control: its name and editor(s), looking as it was decided (said, edited, default)."""

    edited = Signal(str)  # the chip's name, when the user changes its value

    def __init__(self, name: str, label: str, editors: list[QWidget], get, put) -> None:
        super().__init__()
        self.setObjectName("chip")
        self.name, self.editors, self._get, self._put = name, editors, get, put
        self.state = ""
        self.label = QLabel(label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(7, 1, 2, 1)
        layout.setSpacing(3)
        layout.addWidget(self.label)
        for e in editors:
            layout.addWidget(e, 1)
            signal = e.activated if isinstance(e, QComboBox) else e.valueChanged
            signal.connect(lambda *_: self.edited.emit(self.name))
        self.set_state("default")

    def value(self):
        return self._get()

    def set_value(self, value) -> None:
        blockers = [QSignalBlocker(e) for e in self.editors]  # noqa: F841 - a value shown is not an edit
        self._put(value)

    def set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.setStyleSheet(CHIP_STYLES[state])
        for w in [self.label] + self.editors + [c for e in self.editors for c in e.findChildren(QLineEdit)]:
            font = QFont(w.font())
            font.setItalic(state == "default")
            w.setFont(font)
        self.setToolTip(f"{self.label.text()}: {CHIP_TIPS[state]}")


def _chip_values(c: Controls) -> dict:
    return {"style": c.style, "key": c.key, "meter": tuple(c.meter), "tempo": c.bpm, "bars": c.bars,
            "instrument": c.program, "voices": c.voices}


class ComposePanel(QWidget):
    composeRequested = Signal()  # Ctrl+Enter in the prompt
    problem = Signal(str)  # why Compose cannot run now ("" when it can), after every reading

    def __init__(self, settings: QSettings, model_folder: str | Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model_folder = model_folder  # None: the shipped composer (assets/composer)
        self._draw_seed = new_seed()  # draws the style when none is named
        self.reading: Reading = read_prompt("", seed=self._draw_seed)  # the last prompt read without error
        self.error: str | None = None  # the prompt's value the model cannot take
        self.overrides: dict[str, object] = {}  # chips the user edited
        self.read_timer = QTimer(self)
        self.read_timer.setSingleShot(True)
        self.read_timer.setInterval(250)
        self._build()
        self.prompt.textChanged.connect(self.read_timer.start)
        self.prompt.textChanged.connect(lambda: settings.setValue(Keys.COMPOSE_PROMPT, self.prompt_text()))
        self.prompt.submitted.connect(self.composeRequested)
        self.read_timer.timeout.connect(self.read)
        for chip in self.chips.values():
            chip.edited.connect(self._chip_edited)
        self._load_settings()
        for w in (self.variations_spin, self.temperature_spin, self.top_p_spin):
            w.valueChanged.connect(self._save_settings)
        self.seed_edit.textChanged.connect(self._save_settings)
        self.seed_edit.textChanged.connect(self.read_timer.start)  # a typed seed draws the unnamed style
        self.read()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Describe the piece: style, key, bars, instrument…  (Ctrl+Enter composes)")
        self.prompt.setTabChangesFocus(True)
        line = self.prompt.fontMetrics().lineSpacing()
        self.prompt.setMinimumHeight(2 * line + 14)
        self.prompt.setMaximumHeight(4 * line + 14)
        self.examples_button = self._menu_button("Examples", "Example prompts to start from", lambda: EXAMPLES)
        self.history_button = self._menu_button("Recent", "The last prompts you composed with", self.history)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Prompt</b>"))
        head.addStretch(1)
        head.addWidget(self.examples_button)
        head.addWidget(self.history_button)

        style = _combo([(s, s) for s in STYLES], "The kind of piece (the styles the model learnt)")
        for i, usual in enumerate(STYLES.values()):
            style.setItemData(i, usual[4], Qt.ItemDataRole.ToolTipRole)
        tonic = _combo([(t, i) for i, t in enumerate(cc.TONICS)], "The key's tonic")
        tonic.setMinimumContentsLength(2)
        mode = _combo([(m, m) for m in cc.MODES], "Major or minor")
        meter = _combo([(f"{a}/{b}", i) for i, (a, b) in enumerate(cc.METERS)], "The time signature")
        instrument = _combo([(n, i) for i, n in enumerate(GM_PROGRAMS)], "The General MIDI instrument")
        instrument.setMinimumContentsLength(8)
        tempo = _spin(QSpinBox, (cc.MIN_BPM, cc.MAX_BPM), "Quarter notes per minute", suffix=" BPM")
        bars = _spin(QSpinBox, (cc.MIN_BARS, cc.MAX_BARS), "How many bars the piece has")
        voices = _spin(QSpinBox, (1, cc.MAX_VOICES), "How many voices sound together")

        def put(combo):
            return lambda v: combo.setCurrentIndex(max(0, combo.findData(v)))

        self.chips = {c.name: c for c in (
            Chip("style", "Style", [style], style.currentData, put(style)),
            Chip("key", "Key", [tonic, mode], lambda: Key(tonic.currentData(), mode.currentData()),
                 lambda k: (put(tonic)(k.tonic), put(mode)(k.mode))),
            Chip("meter", "Meter", [meter], lambda: cc.METERS[meter.currentData()],
                 lambda v: meter.setCurrentIndex(cc.METERS.index(tuple(v)))),
            Chip("tempo", "Tempo", [tempo], lambda: float(tempo.value()), lambda v: tempo.setValue(round(v))),
            Chip("bars", "Bars", [bars], bars.value, bars.setValue),
            Chip("voices", "Voices", [voices], voices.value, voices.setValue),
            Chip("instrument", "Instrument", [instrument], instrument.currentData, put(instrument)))}
        chips = QGridLayout()
        chips.setSpacing(4)
        for i, name in enumerate(("style", "meter", "key", "voices", "tempo", "bars")):
            chips.addWidget(self.chips[name], i // 2, i % 2)
        chips.addWidget(self.chips["instrument"], 3, 0, 1, 2)
        self.reading_label = QLabel()
        self.reading_label.setWordWrap(True)
        self.reading_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.variations_spin = _spin(QSpinBox, VARIATIONS, "How many pieces to compose at once (one seed)")
        self.temperature_spin = _spin(QDoubleSpinBox, TEMPERATURE, "Randomness: lower is safer, higher more "
                                      "surprising", 0.05)
        self.top_p_spin = _spin(QDoubleSpinBox, TOP_P, "Sample from the smallest set of tokens with this total "
                                "probability", 0.05)
        self.seed_edit = QLineEdit()
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,19}"), self))
        self.seed_edit.setPlaceholderText("random")
        self.seed_edit.setClearButtonEnabled(True)
        self.seed_edit.setToolTip("The same seed, prompt and settings give the same pieces; empty: a new one "
                                  "each time, shown with each result")
        options = QGridLayout()
        options.setHorizontalSpacing(6)
        for i, (label, widget) in enumerate((("Variations", self.variations_spin), ("Seed", self.seed_edit),
                                             ("Temperature", self.temperature_spin), ("Top-p", self.top_p_spin))):
            text = QLabel(label)
            text.setBuddy(widget)
            options.addWidget(text, i // 2, (i % 2) * 2)
            options.addWidget(widget, i // 2, (i % 2) * 2 + 1)
            options.setColumnStretch((i % 2) * 2 + 1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(5)
        layout.addLayout(head)
        layout.addWidget(self.prompt)
        layout.addLayout(chips)
        layout.addWidget(self.reading_label)
        layout.addLayout(options)

    def _menu_button(self, text: str, tip: str, prompts) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)

        def fill() -> None:
            menu.clear()
            for text in prompts():
                menu.addAction((text if len(text) <= 80 else text[:79] + "…").replace("&", "&&"),
                               lambda text=text: self.set_prompt(text))
            if not menu.actions():
                menu.addAction("No prompts yet").setEnabled(False)

        menu.aboutToShow.connect(fill)
        button.setMenu(menu)
        return button

    # -- the prompt and its chips ------------------------------------------------------------
    def prompt_text(self) -> str:
        return self.prompt.toPlainText().strip()

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.prompt.setFocus()
        self.read()

    def read(self) -> None:
        """Read the prompt now (typing reads it 250 ms after the last key)."""
        self.read_timer.stop()
        try:
            seed = self.seed()
        except ValueError:
            seed = None
        try:
            reading = read_prompt(self.prompt_text(), seed=self._draw_seed if seed is None else seed)
        except ValueError as exc:
            self.error = one_line(str(exc))
        else:
            old, new = _chip_values(self.reading.controls), _chip_values(reading.controls)
            for name in list(self.overrides):  # the prompt names that control (anew): the prompt wins again
                if name in reading.said and (name not in self.reading.said or old[name] != new[name]):
                    del self.overrides[name]
            self.reading, self.error = reading, None
        self._show()

    def _chip_edited(self, name: str) -> None:
        self.overrides[name] = self.chips[name].value()
        self._show()

    def values(self) -> dict:
        """Each chip's value: the user's, else the prompt's, else the chosen style's usual one."""
        reading = self.reading
        values = _chip_values(reading.controls)
        style = self.overrides.get("style", values["style"])
        if style != values["style"]:  # a style chosen by hand brings its usual values for what was not said
            meter, bpm, program, voices, _ = STYLES[style]
            usual = {"key": Key(DEFAULT_TONIC.get(style, 0), "major"), "meter": meter, "tempo": float(bpm),
                     "instrument": program, "voices": voices}
            values.update({k: v for k, v in usual.items() if k not in reading.said})
        values.update(self.overrides)
        return values

    def controls(self) -> Controls:
        v = self.values()
        return Controls(v["style"], v["key"], v["meter"], v["tempo"], v["bars"], v["instrument"], v["voices"])

    def _show(self) -> None:
        values = self.values()
        for name, chip in self.chips.items():
            chip.set_value(values[name])
            chip.set_state("edited" if name in self.overrides else "said" if name in self.reading.said else "default")
            chip.setEnabled(not self.error)  # the last good reading, greyed until the prompt is fixed
        if self.error:
            self.reading_label.setStyleSheet("color: #b00020;")
            self.reading_label.setText(self.error)
        else:
            parts = list(self.reading.notices)
            if self.reading.ignored:
                parts.append("ignored: " + ", ".join(self.reading.ignored))
            self.reading_label.setStyleSheet("color: #666;")
            self.reading_label.setText(" · ".join(parts))
        self.reading_label.setVisible(bool(self.reading_label.text()))
        self.problem.emit(self.error or "")

    # -- composing ---------------------------------------------------------------------------
    def seed(self) -> int | None:
        text = self.seed_edit.text().strip()
        if not text:
            return None
        if not text.isdigit() or int(text) > SEED_MAX:
            raise ValueError(f"the seed must be a whole number from 0 to {SEED_MAX}, or empty for a new one")
        return int(text)

    def request(self) -> ComposeRequest:
        """The prompt (read now) and chips as a request; ValueError (a line to show) when it cannot be."""
        self.read()
        if self.error:
            raise ValueError(self.error)
        typed = self.seed()
        # no seed typed: the one that drew the chips' style, so the seed shown with the result makes
        # this very piece again (`motet compose --seed`); the next piece draws anew, shown at once
        request = ComposeRequest(self.prompt_text(), variations=self.variations_spin.value(),
                                 temperature=self.temperature_spin.value(), top_p=self.top_p_spin.value(),
                                 seed=self._draw_seed if typed is None else typed, controls=self.controls())
        if typed is None:
            self._draw_seed = new_seed()
            self.read()
        return request

    # -- settings ----------------------------------------------------------------------------
    def history(self) -> list[str]:
        try:
            value = json.loads(get_str(self.settings, Keys.COMPOSE_PROMPT_HISTORY, "[]"))
        except ValueError:
            return []
        return [p for p in value if isinstance(p, str) and p.strip()][:HISTORY_SIZE] if isinstance(value, list) else []

    def remember_prompt(self, text: str) -> None:
        if text.strip():
            prompts = [text.strip()] + [p for p in self.history() if p != text.strip()]
            self.settings.setValue(Keys.COMPOSE_PROMPT_HISTORY, json.dumps(prompts[:HISTORY_SIZE]))

    def _options(self) -> tuple:
        return ((self.variations_spin, Keys.COMPOSE_VARIATIONS, 2), (self.temperature_spin, Keys.COMPOSE_TEMPERATURE, 1.0),
                (self.top_p_spin, Keys.COMPOSE_TOP_P, 0.95))

    def _load_settings(self) -> None:
        self.prompt.setPlainText(get_str(self.settings, Keys.COMPOSE_PROMPT, EXAMPLES[0]))
        for spin, key, default in self._options():
            value = get_float(self.settings, key, default)
            value = value if math.isfinite(value) else default  # (NaN in a hand-edited file)
            spin.setValue(round(value) if isinstance(spin, QSpinBox) else value)
        seed = get_str(self.settings, Keys.COMPOSE_SEED)
        self.seed_edit.setText(seed if seed.isdigit() and int(seed) <= SEED_MAX else "")

    def _save_settings(self, *_: object) -> None:
        for spin, key, _default in self._options():
            self.settings.setValue(key, spin.value())
        self.settings.setValue(Keys.COMPOSE_SEED, self.seed_edit.text().strip())
