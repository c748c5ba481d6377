"""The Piano roll page: toolbar, keyboard + ruler + grid + velocity lane, files, playback, autosave.

The view is put together from this folder's parts: the document (``document``), its drawing
surfaces (``canvas``, ``lanes``), the toolbar, the Continue panel, files, autosave, playback and
editing commands. Here: the layout, the scroll areas and zoom, and the keyboard shortcuts.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QMenu, QScrollArea, QVBoxLayout, QWidget

from engine.audio.playback import Player
from engine.audio.takes import data_dir
from engine.jobs import JobQueue
from engine.midi import edit
from engine.midi.score import Note
from gui.common.settings import Keys
from gui.common.widgets import Banner
from gui.jobs.bridge import JobsBridge
from gui.pianoroll.autosave import AUTOSAVE_SECONDS, AutosaveMixin
from gui.pianoroll.canvas import RollCanvas
from gui.pianoroll.continue_panel import ContinueMixin
from gui.pianoroll.document import RollDocument
from gui.pianoroll.editing import EditingMixin
from gui.pianoroll.files import FilesMixin
from gui.pianoroll.geometry import RollGeometry
from gui.pianoroll.lanes import KeyboardWidget, RulerWidget, VelocityLane
from gui.pianoroll.playback import PlaybackMixin
from gui.pianoroll.toolbar import RollToolbarMixin


class PianoRollView(RollToolbarMixin, EditingMixin, ContinueMixin, FilesMixin, AutosaveMixin, PlaybackMixin,
                    QWidget):
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

        self._build_surfaces()
        self.banner = Banner()
        toolbar_rows = self._build_toolbar()
        self.continue_panel = self._build_continue_panel()
        self._build_layout(toolbar_rows)
        self._build_actions()
        self._connect_signals()

        self.snap_combo.setCurrentIndex(int(self.settings.value(Keys.ROLL_SNAP, 2)))
        self._snap_changed()
        self._document_changed()
        self._update_title()
        QTimer.singleShot(0, self.center_on_notes)
        self._offer_autosave()

    # -- construction ----------------------------------------------------------------------------
    def _build_surfaces(self) -> None:
        """The grid in a scroll area; keyboard, ruler and velocity lane in bare ones that follow it."""
        self.canvas = RollCanvas(self.doc, self.geo)
        self.keyboard = KeyboardWidget(self.doc, self.geo)
        self.ruler = RulerWidget(self.doc, self.geo)
        self.velocity = VelocityLane(self.doc, self.geo, self.canvas)
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

    def _build_layout(self, toolbar_rows: tuple[QHBoxLayout, QHBoxLayout, QHBoxLayout]) -> None:
        """Toolbar rows, Continue panel and banner above the grid with its keyboard, ruler and lane."""
        bar1, bar2, bar3 = toolbar_rows
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

    def _build_actions(self) -> None:
        """Every command as an action: its shortcut works while the piano roll has focus."""
        self.actions_by_name: dict[str, QAction] = {}
        self._action("new", "New", "Ctrl+N", self.new_score)
        self._action("save", "Save", QKeySequence.StandardKey.Save, self.save)
        self._action("save_as", "Save As…", "Ctrl+Shift+S", self.save_as)
        self._action("export_wav", "Export WAV…", "Ctrl+E", self.export_wav_dialog)
        examples = QMenu("Open example motif", self)
        for path in self.example_motifs():
            examples.addAction(path.stem.replace("-", " "), lambda p=path: self.open_example(p))
        self.actions_by_name["open_example"] = examples.menuAction()
        undo = self.doc.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "Redo")
        # the platform's Redo is Ctrl+Shift+Z on Linux (twice it made Qt call the key ambiguous and
        # do nothing); Ctrl+Y as well, as most editors take it
        keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo) + [QKeySequence("Ctrl+Shift+Z"),
                                                                          QKeySequence("Ctrl+Y")]
        redo.setShortcuts([k for i, k in enumerate(keys) if k not in keys[:i]])
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
        self._action("continue", "Continue…", "C", self.show_continue)
        self._action("legato", "Legato", "L", lambda: self._edit_selection(edit.legato, "Legato"))
        self._action("join", "Join notes", "J", lambda: self._edit_selection(edit.join, "Join"))
        self._action("split", "Split at the playhead", "Ctrl+K", self.split_at_playhead)
        self._action("louder", "Louder", "Ctrl+Up", lambda: self._edit_selection(
            lambda ns: edit.scale_velocity(ns, 1.0, 8), "Velocity"))
        self._action("softer", "Softer", "Ctrl+Down", lambda: self._edit_selection(
            lambda ns: edit.scale_velocity(ns, 1.0, -8), "Velocity"))

    def _connect_signals(self) -> None:
        """Document, surfaces and toolbar to their handlers; the playhead and autosave timers."""
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
        self.program_combo.activated.connect(self.doc.set_program)
        self._rendered.connect(self._start_playback)
        self.continue_button.clicked.connect(self.show_continue)
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(30)
        self.play_timer.timeout.connect(self._follow_playhead)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_SECONDS * 1000)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

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
        """Fit and repaint the surfaces around the grid; show the document in the toolbar."""
        width = self.canvas.width()
        self.ruler.resize_to_content(width)
        self.velocity.setFixedWidth(width)
        self.ruler.update()
        self.velocity.update()
        self.keyboard.update()
        self._sync_toolbar()

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

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_warmed", False):  # once, after the page is painted
            self._warmed = True
            QTimer.singleShot(200, self.warm_synthesizer)

    def shutdown(self) -> None:
        """The window closes after ``maybe_save`` said yes: saved or discarded, so no autosave."""
        self.stop()
        self.autosave_timer.stop()
        self._clear_autosave()
