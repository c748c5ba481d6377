"""The Piano roll page: toolbar, keyboard + ruler + grid + velocity lane, files, playback, autosave.

Files: New, Open (.mid), Save, Save As (type 1 .mid), Export WAV (rendered with the SoundFont).
Unsaved changes are asked about before they would be lost. Every minute with changes (and on
each save) the score is also written to the autosave folder; after a crash the next start
offers it back.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.atomic import WriteError, write_text
from engine.audio.devices import AudioUnavailable
from engine.audio.playback import Player
from engine.audio.takes import data_dir
from engine.jobs import JobQueue, Priority
from engine.midi import edit
from engine.midi.midifile import MidiFileError, read_midi, write_midi
from engine.midi.score import Note, Score
from engine.tasks import music as music_jobs
from engine.models.music_transformer.options import BARS, TEMPERATURE, TOP_P, VARIATIONS
from gui.jobs import JobsBridge
from gui.roll_document import RollDocument
from gui.roll_widgets import KeyboardWidget, RollCanvas, RollGeometry, RulerWidget, VelocityLane
from gui.settings import Keys, get_str
from gui.widgets import Banner

SNAPS = [("1/4", 1, 1), ("1/8", 1, 2), ("1/16", 1, 4), ("1/32", 1, 8),
         ("1/4 triplet", 2, 3), ("1/8 triplet", 1, 3), ("1/16 triplet", 1, 6), ("1/32 triplet", 1, 12), ("Off", 0, 1)]
PROGRAMS = ["Acoustic Grand Piano", "Bright Piano", "Electric Grand", "Honky-tonk", "Electric Piano 1",
            "Electric Piano 2", "Harpsichord", "Clavinet"]  # the first eight; the rest by number
AUTOSAVE_SECONDS = 30
MIDI_FILTER = "MIDI files (*.mid *.midi);;All files (*)"


class PianoRollView(QWidget):
    statusMessage = Signal(str)
    _rendered = Signal(object, int, bool)  # audio, start tick, loop

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings = queue, bridge, settings
        self.doc = RollDocument(parent=self)
        self.geo = RollGeometry()
        self.player = Player()
        self._play_origin: tuple[float, int] | None = None  # (wall time, tick) of the audio's start
        self._loop_audio = None
        self._clipboard: list[Note] = []
        self._render_jobs: dict[int, tuple[int, bool]] = {}
        self.autosave_dir = data_dir() / "autosave"

        # widgets
        self.canvas = RollCanvas(self.doc, self.geo)
        self.keyboard = KeyboardWidget(self.doc, self.geo)
        self.ruler = RulerWidget(self.doc, self.geo)
        self.velocity = VelocityLane(self.doc, self.geo, self.canvas)
        self.banner = Banner()
        self.grid_area = QScrollArea()
        self.grid_area.setWidget(self.canvas)
        self.keys_area = self._bare_area(self.keyboard)
        self.ruler_area = self._bare_area(self.ruler)
        self.velocity_area = self._bare_area(self.velocity)
        self.keys_area.setFixedWidth(self.keyboard.width())
        self.ruler_area.setFixedHeight(self.ruler.height())
        self.velocity_area.setFixedHeight(self.velocity.height())
        self.grid_area.verticalScrollBar().valueChanged.connect(self.keys_area.verticalScrollBar().setValue)
        for area in (self.ruler_area, self.velocity_area):
            self.grid_area.horizontalScrollBar().valueChanged.connect(area.horizontalScrollBar().setValue)
        self.grid_area.viewport().installEventFilter(self)

        # toolbar
        self.file_label = QLabel()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play from the playhead (Space)")
        self.loop_button = QToolButton()
        self.loop_button.setText("Loop")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Play the loop region over and over (drag in the ruler to set it)")
        self.draw_button = QToolButton()
        self.draw_button.setText("✎ Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setChecked(True)
        self.draw_button.setToolTip("Draw tool (D): click to add a note, drag to set its length")
        self.select_button = QToolButton()
        self.select_button.setText("⬚ Select")
        self.select_button.setCheckable(True)
        self.select_button.setToolTip("Select tool (S): drag a marquee")
        self.snap_combo = QComboBox()
        for name, _, _ in SNAPS:
            self.snap_combo.addItem(name)
        self.snap_combo.setToolTip("Snap to grid")
        self.tempo_spin = QDoubleSpinBox()
        self.tempo_spin.setRange(20, 400)
        self.tempo_spin.setDecimals(1)
        self.tempo_spin.setSuffix(" BPM")
        self.sig_num = QSpinBox()
        self.sig_num.setRange(1, 32)
        self.sig_den = QComboBox()
        for d in (2, 4, 8, 16):
            self.sig_den.addItem(str(d), d)
        self.track_combo = QComboBox()
        self.track_combo.setToolTip("The track being edited; the others show as grey ghost notes")
        self.program_spin = QSpinBox()
        self.program_spin.setRange(1, 128)
        self.program_spin.setToolTip("General MIDI instrument (1 = Acoustic Grand Piano)")
        self.quantize_button = QPushButton("Quantize")
        self.quantize_button.setToolTip("Snap the selected notes to the grid (Q)")
        self.strength_spin = QSpinBox()
        self.strength_spin.setRange(0, 100)
        self.strength_spin.setValue(100)
        self.strength_spin.setSuffix(" %")
        self.strength_spin.setToolTip("Quantize strength")

        self.track_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.track_combo.setMinimumContentsLength(14)
        bar1 = QHBoxLayout()  # three short rows: the page fits an 800-pixel-wide window
        bar1.addWidget(self.file_label, 1)
        for w in (QLabel("Track:"), self.track_combo, QLabel("Instrument:"), self.program_spin):
            bar1.addWidget(w)
        bar2 = QHBoxLayout()
        for w in (self.play_button, self.loop_button, QLabel("Tempo:"), self.tempo_spin, QLabel("Time:"),
                  self.sig_num, QLabel("/"), self.sig_den):
            bar2.addWidget(w)
        bar2.addStretch(1)
        bar3 = QHBoxLayout()
        for w in (self.draw_button, self.select_button, QLabel("Snap:"), self.snap_combo, self.quantize_button,
                  self.strength_spin):
            bar3.addWidget(w)
        bar3.addStretch(1)
        self.continue_button = QPushButton("Continue…")
        self.continue_button.setToolTip("Let the Music Transformer continue the selection (or the track) (C)")
        bar3.addWidget(self.continue_button)
        self.continue_panel = self._build_continue_panel()

        grid = QGridLayout()
        grid.setSpacing(0)
        grid.addWidget(self.ruler_area, 0, 1)
        grid.addWidget(self.keys_area, 1, 0)
        grid.addWidget(self.grid_area, 1, 1)
        vel_label = QLabel("Vel.")
        vel_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(vel_label, 2, 0)
        grid.addWidget(self.velocity_area, 2, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar1)
        layout.addLayout(bar2)
        layout.addLayout(bar3)
        layout.addWidget(self.continue_panel)
        layout.addWidget(self.banner)
        layout.addLayout(grid, 1)

        # actions (shortcuts work while the piano roll has focus)
        self.actions_by_name: dict[str, QAction] = {}
        self._action("new", "New", "Ctrl+N", self.new_score)
        self._action("save", "Save", QKeySequence.StandardKey.Save, self.save)
        self._action("save_as", "Save As…", "Ctrl+Shift+S", self.save_as)
        self._action("export_wav", "Export WAV…", "Ctrl+E", self.export_wav_dialog)
        undo = self.doc.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Shift+Z")])
        for a in (undo, redo):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(a)
        self.actions_by_name.update(undo=undo, redo=redo)
        self._action("select_all", "Select all", QKeySequence.StandardKey.SelectAll, self.doc.select_all)
        self._action("delete", "Delete", QKeySequence.StandardKey.Delete, self.doc.delete_selection)
        self._action("cut", "Cut", QKeySequence.StandardKey.Cut, self.cut)
        self._action("copy", "Copy", QKeySequence.StandardKey.Copy, self.copy)
        self._action("paste", "Paste at the playhead", QKeySequence.StandardKey.Paste, self.paste)
        self._action("duplicate", "Duplicate", "Ctrl+D", self.duplicate)
        self._action("up", "Transpose up", "Up", lambda: self.transpose(1))
        self._action("down", "Transpose down", "Down", lambda: self.transpose(-1))
        self._action("octave_up", "Octave up", "Shift+Up", lambda: self.transpose(12))
        self._action("octave_down", "Octave down", "Shift+Down", lambda: self.transpose(-12))
        self._action("quantize", "Quantize", "Q", self.quantize)
        self._action("play", "Play/Stop", "Space", self.toggle_play)
        self._action("draw_tool", "Draw tool", "D", lambda: self.set_tool("draw"))
        self._action("select_tool", "Select tool", "S", lambda: self.set_tool("select"))
        self._action("home", "Playhead to start", "Home", lambda: self.set_playhead(0))
        self._action("continue", "Continue with the Music Transformer", "C", self.show_continue)
        self._action("legato", "Legato", "L", lambda: self._edit_selection(edit.legato, "Legato"))
        self._action("join", "Join notes", "J", lambda: self._edit_selection(edit.join, "Join"))
        self._action("split", "Split at the playhead", "Ctrl+K", self.split_at_playhead)
        self._action("louder", "Louder", "Ctrl+Up", lambda: self._edit_selection(
            lambda ns: edit.scale_velocity(ns, 1.0, 8), "Velocity"))
        self._action("softer", "Softer", "Ctrl+Down", lambda: self._edit_selection(
            lambda ns: edit.scale_velocity(ns, 1.0, -8), "Velocity"))

        # behaviour
        self.doc.changed.connect(self._document_changed)
        self.doc.undo_stack.cleanChanged.connect(self._update_title)
        self.keyboard.keyPressed.connect(self.preview_key)
        self.ruler.playheadRequested.connect(self.set_playhead)
        self.ruler.loopRequested.connect(self.set_loop)
        self.play_button.clicked.connect(self.toggle_play)
        self.draw_button.clicked.connect(lambda: self.set_tool("draw"))
        self.select_button.clicked.connect(lambda: self.set_tool("select"))
        self.snap_combo.currentIndexChanged.connect(self._snap_changed)
        self.quantize_button.clicked.connect(self.quantize)
        self.tempo_spin.editingFinished.connect(lambda: self._guard(self.doc.set_tempo, self.tempo_spin.value()))
        self.sig_num.valueChanged.connect(self._signature_changed)
        self.sig_den.currentIndexChanged.connect(self._signature_changed)
        self.track_combo.activated.connect(self.doc.set_current_track)
        self.program_spin.editingFinished.connect(lambda: self.doc.set_program(self.program_spin.value() - 1))
        self._rendered.connect(self._start_playback)
        self.continue_button.clicked.connect(self.show_continue)
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(30)
        self.play_timer.timeout.connect(self._follow_playhead)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_SECONDS * 1000)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self.snap_combo.setCurrentIndex(int(self.settings.value(Keys.ROLL_SNAP, 2)))
        self._snap_changed()
        self._document_changed()
        self._update_title()
        QTimer.singleShot(0, self.center_on_notes)
        self._offer_autosave()

    # -- plumbing --------------------------------------------------------------------------------
    @staticmethod
    def _bare_area(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(widget)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        return area

    def _action(self, name: str, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _guard(self, fn, *args) -> bool:
        """Run an edit; a refused one (out of range) shows why and changes nothing."""
        try:
            fn(*args)
            return True
        except ValueError as exc:
            self.banner.show_message(str(exc), "error")
            return False

    def center_on_notes(self) -> None:
        """Show the start of the current track with its pitches in the middle of the view."""
        pitches = sorted(n.pitch for n in self.doc.notes)
        middle = pitches[len(pitches) // 2] if pitches else 66
        viewport = self.grid_area.viewport()
        self.grid_area.verticalScrollBar().setValue(self.geo.y(middle) - viewport.height() // 2)
        self.grid_area.horizontalScrollBar().setValue(0)

    def _document_changed(self) -> None:
        score = self.doc.score
        width = self.canvas.width()
        self.ruler.resize_to_content(width)
        self.velocity.setFixedWidth(width)
        self.ruler.update()
        self.velocity.update()
        self.keyboard.update()
        for w, value in ((self.tempo_spin, round(score.bpm, 1)), (self.sig_num, score.time_signature.numerator),
                         (self.program_spin, self.doc.track.program + 1)):
            w.blockSignals(True)
            w.setValue(value)
            w.blockSignals(False)
        self.sig_den.blockSignals(True)
        self.sig_den.setCurrentIndex(max(0, self.sig_den.findData(score.time_signature.denominator)))
        self.sig_den.blockSignals(False)
        self.track_combo.blockSignals(True)
        self.track_combo.clear()
        for i, t in enumerate(score.tracks):
            self.track_combo.addItem(f"{i + 1}. {t.name or 'Track'} ({len(t.notes)})")
        self.track_combo.setCurrentIndex(self.doc.current)
        self.track_combo.blockSignals(False)
        self.program_spin.setEnabled(not self.doc.track.is_drums)

    def _update_title(self, *_: object) -> None:
        name = Path(self.doc.path).name if self.doc.path else "Untitled"
        try:
            star = "" if self.doc.undo_stack.isClean() else " *"
        except RuntimeError:  # the stack is being destroyed with the view
            return
        self.file_label.setText(f"<b>{name}{star}</b>")

    @property
    def modified(self) -> bool:
        return not self.doc.undo_stack.isClean()

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.draw_button.setChecked(tool == "draw")
        self.select_button.setChecked(tool == "select")

    def _snap_changed(self) -> None:
        _, num, den = SNAPS[self.snap_combo.currentIndex()]
        self.geo.snap = self.doc.score.ticks_per_beat * num // den if num else 0
        self.settings.setValue(Keys.ROLL_SNAP, self.snap_combo.currentIndex())
        self.canvas.update()

    def _signature_changed(self) -> None:
        self._guard(self.doc.set_time_signature, self.sig_num.value(), self.sig_den.currentData())

    def eventFilter(self, obj, event) -> bool:
        from PySide6.QtCore import QEvent

        if obj is self.grid_area.viewport() and event.type() == QEvent.Type.Wheel \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.25 if event.angleDelta().y() > 0 else 0.8
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.zoom(vertical=factor)
            else:
                self.zoom(horizontal=factor, anchor_x=event.position().x())
            return True
        return super().eventFilter(obj, event)

    def zoom(self, horizontal: float = 1.0, vertical: float = 1.0, anchor_x: float | None = None) -> None:
        """Ctrl+wheel: time; Ctrl+Shift+wheel: pitch. The tick under the mouse stays put."""
        hbar = self.grid_area.horizontalScrollBar()
        anchor_x = self.grid_area.viewport().width() / 2 if anchor_x is None else anchor_x
        tick = self.geo.tick(hbar.value() + anchor_x)
        self.geo.px_per_tick = min(2.0, max(0.005, self.geo.px_per_tick * horizontal))
        self.geo.row = int(min(32, max(5, round(self.geo.row * vertical))))
        self.keyboard.setFixedHeight(128 * self.geo.row)
        self.canvas.resize_to_content()
        self._document_changed()
        hbar.setValue(int(self.geo.x(tick) - anchor_x))
        self.canvas.update()

    # -- editing ---------------------------------------------------------------------------------
    def transpose(self, semitones: int) -> None:
        self._guard(self.doc.transpose_selection, semitones)

    def quantize(self) -> None:
        grid = self.geo.snap or self.doc.score.ticks_per_beat // 4
        self.doc.quantize_selection(grid, self.strength_spin.value() / 100)

    def _edit_selection(self, fn, text: str) -> None:
        self._guard(self.doc.apply_to_selection, fn, text)

    def split_at_playhead(self) -> None:
        """Cut the selected notes that the playhead crosses in two there."""
        tick = self.canvas.playhead
        crossed = [n for n in self.doc.selection if n.start < tick < n.end]
        if crossed:
            self.doc.replace_notes(crossed, [part for n in crossed for part in edit.split(n, tick)], "Split")

    def copy(self) -> None:
        self._clipboard = sorted(self.doc.selection)
        if self._clipboard:
            self.statusMessage.emit(f"Copied {len(self._clipboard)} note(s)")

    def cut(self) -> None:
        self.copy()
        self.doc.delete_selection()

    def paste(self, at: int | None = None) -> None:
        """The clipboard's first note lands on the playhead (or ``at``)."""
        if not self._clipboard:
            return
        at = self.canvas.playhead if at is None else at
        offset = at - min(n.start for n in self._clipboard)
        self.doc.replace_notes([], edit.move(self._clipboard, ticks=offset), "Paste")

    def duplicate(self) -> None:
        """A copy of the selection right after it (it becomes the selection)."""
        chosen = sorted(self.doc.selection)
        if not chosen:
            return
        from engine.midi import edit

        span = max(n.end for n in chosen) - min(n.start for n in chosen)
        step = self.geo.snap or 1
        span = -(-span // step) * step  # whole grid steps
        self.doc.replace_notes([], edit.move(chosen, ticks=span), "Duplicate")

    # -- continue (Music Transformer) -------------------------------------------------------------
    def _build_continue_panel(self) -> QWidget:
        panel = QWidget()
        panel.setObjectName("continuePanel")
        # the ranges are the engine's, the same the `motet continue` parser checks (DESIGN.md §8)
        def saved(key: str, default: float) -> float:
            """A stored setting, or the default when the settings file holds something else."""
            try:
                value = float(self.settings.value(f"continue/{key}", default))
            except (TypeError, ValueError):
                return default
            return value if math.isfinite(value) else default

        self.bars_spin = QSpinBox()
        self.bars_spin.setRange(*BARS)
        self.bars_spin.setValue(int(saved("bars", 4)))
        self.bars_spin.setSuffix(" bars")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(*TEMPERATURE)
        self.temperature_spin.setSingleStep(0.05)
        self.temperature_spin.setValue(saved("temperature", 1.0))
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(*TOP_P)
        self.top_p_spin.setSingleStep(0.01)
        self.top_p_spin.setValue(saved("top_p", 0.95))
        self.variations_spin = QSpinBox()
        self.variations_spin.setRange(*VARIATIONS)
        self.variations_spin.setValue(int(saved("variations", 3)))
        self.generate_button = QPushButton("Generate")
        self.variation_combo = QComboBox()
        self.variation_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.audition_button = QPushButton("▶ Audition")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Insert the variation into the track (one undoable step)")
        self.discard_button = QPushButton("Close")
        self.continue_status = QLabel("")
        self.continue_status.setStyleSheet("color: #666;")
        row = QHBoxLayout(panel)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("<b>Continue</b>"), self.bars_spin, QLabel("Temperature"), self.temperature_spin,
                  QLabel("Top-p"), self.top_p_spin, QLabel("Variations"), self.variations_spin, self.generate_button,
                  self.variation_combo, self.audition_button, self.accept_button, self.discard_button):
            row.addWidget(w)
        row.addWidget(self.continue_status, 1)
        self.generate_button.clicked.connect(self.generate_continuation)
        self.variation_combo.currentIndexChanged.connect(self._show_variation)
        self.audition_button.clicked.connect(self.audition)
        self.accept_button.clicked.connect(self.accept_continuation)
        self.discard_button.clicked.connect(self.close_continue)
        self._variations: list[list[Note]] = []
        self._continue_job: int | None = None
        panel.hide()
        self._update_continue_buttons()
        return panel

    def show_continue(self) -> None:
        self.continue_panel.show()
        self.generate_button.setFocus()

    def close_continue(self) -> None:
        if self._continue_job is not None:
            self.queue.cancel(self._continue_job)
        self._variations = []
        self.canvas.preview_notes = []
        self.canvas.update()
        self.variation_combo.clear()
        self.continue_panel.hide()
        self._update_continue_buttons()

    def _update_continue_buttons(self) -> None:
        has = bool(self._variations)
        for w in (self.variation_combo, self.audition_button, self.accept_button):
            w.setEnabled(has)
        self.generate_button.setText("Cancel" if self._continue_job is not None else
                                     ("Regenerate" if has else "Generate"))

    def prompt_notes(self) -> list[Note]:
        """The selection, or the whole current track when nothing is selected."""
        return sorted(self.doc.selection) or list(self.doc.notes)

    def generate_continuation(self) -> int | None:
        """Run the Music Transformer as a job (gpu lane, progress, Cancel); returns its id."""
        if self._continue_job is not None:
            self.queue.cancel(self._continue_job)
            return None
        prompt = self.prompt_notes()
        if not prompt:
            self.banner.show_message("There is nothing to continue: draw or select some notes first.", "error")
            return None
        for key, w in (("bars", self.bars_spin), ("temperature", self.temperature_spin),
                       ("top_p", self.top_p_spin), ("variations", self.variations_spin)):
            self.settings.setValue(f"continue/{key}", w.value())
        score = self.doc.score.copy()
        bars, variations = self.bars_spin.value(), self.variations_spin.value()
        temperature, top_p = self.temperature_spin.value(), self.top_p_spin.value()

        job = self.queue.submit(music_jobs.continue_motif, score, prompt, bars, variations, temperature, top_p,
                                kind="continue", title=f"Continue {len(prompt)} notes · {bars} bars",
                                priority=Priority.INTERACTIVE, lane="gpu")
        self._continue_job = job.id
        self.bridge.watch(job.id, on_finished=self._continue_finished,
                          on_failed=lambda message, _: self._continue_failed(message),
                          on_cancelled=lambda: self._continue_ended("cancelled"),
                          on_progress=self._continue_progress)
        self.continue_status.setText("generating…")
        self._update_continue_buttons()
        return job.id

    def _continue_finished(self, variations) -> None:
        self._variations = list(variations)
        self.variation_combo.blockSignals(True)
        self.variation_combo.clear()
        for i, v in enumerate(self._variations, start=1):
            self.variation_combo.addItem(f"Variation {i} ({len(v)} notes)")
        self.variation_combo.blockSignals(False)
        self._show_variation()
        self._continue_ended(f"{len(self._variations)} variation{'s' * (len(self._variations) != 1)}")

    def _continue_progress(self, fraction: float | None, _message: str) -> None:
        if fraction is not None:
            self.continue_status.setText(f"generating… {fraction * 100:.0f}%")

    def _continue_failed(self, message: str) -> None:
        self.banner.show_message(f"Could not continue the motif: {message}", "error")
        self._continue_ended("")

    def _continue_ended(self, status: str) -> None:
        self._continue_job = None
        self.continue_status.setText(status)
        self._update_continue_buttons()

    def _show_variation(self, *_: object) -> None:
        i = self.variation_combo.currentIndex()
        self.canvas.preview_notes = self._variations[i] if 0 <= i < len(self._variations) else []
        self.canvas.update()

    def audition(self) -> None:
        """Play the prompt and the variation shown, from the prompt's start."""
        prompt = self.prompt_notes()
        if not self.canvas.preview_notes or not prompt:
            return
        score = music_jobs.with_notes(self.doc.score, self.doc.current, self.canvas.preview_notes)
        self.play(score=score, start=min(n.start for n in prompt))

    def accept_continuation(self) -> None:
        if self.canvas.preview_notes:
            self.doc.replace_notes([], self.canvas.preview_notes, "Continue")
            self.statusMessage.emit(f"Inserted {len(self.canvas.preview_notes)} notes")
        self.close_continue()

    # -- files -------------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Before changes would be lost: Save / Discard / Cancel. True when it is fine to go on."""
        if not self.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {Path(self.doc.path).name if self.doc.path else 'the motif'}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_score(self) -> None:
        if self.maybe_save():
            self.stop()
            self.doc.load(Score())
            self.set_loop(0, 0)
            self.set_playhead(0)
            self._update_title()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open MIDI file", folder, MIDI_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> bool:
        """Load a .mid; a broken file leaves the current score as it was and says why."""
        try:
            score = read_midi(path)
        except MidiFileError as exc:
            self.banner.show_message(f"Could not open the file: {exc}", "error")
            return False
        self.stop()
        self.doc.load(score, str(path))
        self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self.set_loop(0, 0)
        self.set_playhead(0)
        self._update_title()
        self.banner.hide()
        QTimer.singleShot(0, self.center_on_notes)
        self.statusMessage.emit(f"Opened {Path(path).name}: {score.note_count()} notes, {len(score.tracks)} track(s)")
        return True

    def save(self) -> bool:
        if not self.doc.path:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        path, _ = QFileDialog.getSaveFileName(self, "Save MIDI file", str(Path(folder) / "motif.mid"), MIDI_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".mid"
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        try:
            write_midi(self.doc.score, path)
        except WriteError as exc:  # already "could not save 'name': the cause"
            self.banner.show_message(str(exc)[:1].upper() + str(exc)[1:], "error")
            return False
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not save {Path(path).name}: {exc}", "error")
            return False
        self.doc.path = str(path)
        self.doc.undo_stack.setClean()
        self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self._update_title()
        self._clear_autosave()
        self.statusMessage.emit(f"Saved {Path(path).name}")
        return True

    # -- autosave ----------------------------------------------------------------------------------
    def autosave(self) -> None:
        """Write unsaved changes where a crash cannot take them (at most a minute is ever lost)."""
        if not self.modified:
            return
        try:
            self.autosave_dir.mkdir(parents=True, exist_ok=True)
            write_midi(self.doc.score, self.autosave_dir / "piano-roll.mid")
            meta = {"path": self.doc.path, "saved_at": time.time()}
            write_text(self.autosave_dir / "piano-roll.json", json.dumps(meta))
        except (OSError, ValueError) as exc:
            self.statusMessage.emit(f"Autosave failed: {exc}")

    def _clear_autosave(self) -> None:
        for name in ("piano-roll.mid", "piano-roll.json"):
            (self.autosave_dir / name).unlink(missing_ok=True)

    def _offer_autosave(self) -> None:
        mid = self.autosave_dir / "piano-roll.mid"
        if not mid.exists():
            return
        self.banner.show_message("The piano roll has unsaved work from a session that ended unexpectedly.", "warn",
                                 [("Restore", self.restore_autosave), ("Discard", self._discard_autosave)])

    def restore_autosave(self) -> bool:
        mid = self.autosave_dir / "piano-roll.mid"
        try:
            score = read_midi(mid)
            meta = json.loads((self.autosave_dir / "piano-roll.json").read_text())
        except (MidiFileError, OSError, ValueError) as exc:
            self.banner.show_message(f"The autosaved work could not be read: {exc}", "error")
            return False
        self.doc.load(score, meta.get("path"))
        self.doc.undo_stack.resetClean()  # unsaved until the user saves it
        self._update_title()
        self.banner.show_message("Restored the autosaved work: save it to keep it.", "info")
        return True

    def _discard_autosave(self) -> None:
        self._clear_autosave()
        self.banner.hide()

    # -- sound -------------------------------------------------------------------------------------
    def preview_key(self, pitch: int) -> None:
        from engine.midi.synth import get_synthesizer

        try:
            track = self.doc.track
            audio = get_synthesizer().render_note(pitch, track.program, track.channel)
            self.player.play(audio, get_synthesizer().sample_rate)
        except Exception as exc:  # noqa: BLE001 - no output device, broken SoundFont: say so, go on
            self.banner.show_message(f"Cannot play: {exc}", "error")

    def set_playhead(self, tick: int) -> None:
        self.canvas.set_playhead(tick)

    def set_loop(self, start: int, end: int) -> None:
        loop = (start, end) if end > start else None
        self.canvas.loop = self.ruler.loop = loop
        self.canvas.update()
        self.ruler.update()
        if loop:
            self.loop_button.setChecked(True)
            self.set_playhead(start)

    def toggle_play(self) -> None:
        if self.player.playing or self._render_jobs:
            self.stop()
        else:
            self.play()

    def play(self, score: Score | None = None, start: int | None = None) -> None:
        """Render (on the cpu lane: long scores take a moment) then play from the playhead."""
        loop = score is None and self.loop_button.isChecked() and self.canvas.loop is not None
        begin, end = self.canvas.loop if loop else (self.canvas.playhead if start is None else start, None)
        score = score or self.doc.score.copy()
        start = 0 if not loop and begin >= score.end_tick else begin
        job = self.queue.submit(music_jobs.render_score, score, start, end, 0.0 if loop else 1.0, kind="render",
                                title="Render MIDI", priority=Priority.INTERACTIVE, lane="cpu")
        self._render_jobs[job.id] = (start, loop)
        self.bridge.watch(job.id, on_finished=lambda audio: self._render_ended(job.id, audio),
                          on_failed=lambda message, _: self._render_ended(job.id, None, message),
                          on_cancelled=lambda: self._render_ended(job.id, None))
        self.play_button.setText("■ Stop")

    def _render_ended(self, job_id: int, audio, error: str | None = None) -> None:
        if job_id not in self._render_jobs:  # stopped meanwhile
            return
        start, loop = self._render_jobs.pop(job_id)
        if audio is not None:
            self._rendered.emit(audio, start, loop)
            return
        self.play_button.setText("▶ Play")
        if error is not None:
            self.banner.show_message(f"Could not render the score: {error}", "error")

    def _start_playback(self, audio, start: int, loop: bool) -> None:
        from engine.midi.synth import get_synthesizer

        try:
            self.player.play(audio, get_synthesizer().sample_rate)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")
            self.play_button.setText("▶ Play")
            return
        self._loop_audio = audio if loop else None
        self._play_origin = (time.monotonic(), start)
        self.play_button.setText("■ Stop")
        self.play_timer.start()

    def _follow_playhead(self) -> None:
        if self._play_origin is None:
            return
        _, start = self._play_origin
        if not self.player.playing:
            if self._loop_audio is not None and self.loop_button.isChecked():
                self._start_playback(self._loop_audio, start, True)
                return
            self.stop(keep_playhead=True)
            return
        score = self.doc.score
        tick = score.tick_at(score.seconds_at(start) + self.player.position)
        self.canvas.set_playhead(int(tick))
        # keep the playhead in view
        hbar = self.grid_area.horizontalScrollBar()
        x = self.geo.x(tick)
        if not hbar.value() <= x <= hbar.value() + self.grid_area.viewport().width() - 20:
            hbar.setValue(int(x - 40))

    def stop(self, keep_playhead: bool = False) -> None:
        for job_id in list(self._render_jobs):
            self.queue.cancel(job_id)
        self._render_jobs.clear()
        self.player.stop()
        self.play_timer.stop()
        if self._play_origin is not None and not keep_playhead:
            self.canvas.set_playhead(self._play_origin[1])
        self._play_origin = None
        self._loop_audio = None
        self.play_button.setText("▶ Play")

    def export_wav_dialog(self) -> None:
        folder = get_str(self.settings, Keys.PATHS_EXPORT_DIR, str(Path.home()))
        stem = Path(self.doc.path).stem if self.doc.path else "motif"
        path, _ = QFileDialog.getSaveFileName(self, "Export audio", str(Path(folder) / f"{stem}.wav"),
                                              "WAV audio (*.wav)")
        if path:
            self.settings.setValue(Keys.PATHS_EXPORT_DIR, str(Path(path).parent))
            self.export_wav(path if path.endswith(".wav") else path + ".wav")

    def export_wav(self, path: str) -> int:
        """Render the whole score and write it as WAV, as a job; returns the job id."""
        job = self.queue.submit(music_jobs.export_wav, self.doc.score.copy(), path, kind="export", title=f"Export {Path(path).name}",
                                priority=Priority.INTERACTIVE, lane="cpu")
        return job.id

    def shutdown(self) -> None:
        """The window closes after ``maybe_save`` said yes: saved or discarded, so no autosave."""
        self.stop()
        self.autosave_timer.stop()
        self._clear_autosave()
