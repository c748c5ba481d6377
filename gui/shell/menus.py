"""The window's menus, which follow the page.

The piano roll's commands (its MIDI file commands in File, the Edit menu) are enabled only while
the piano roll is shown, and say that they are about MIDI; Ctrl+O opens what the page works on
(audio, or MIDI on the piano roll). The menus exist from the first paint (Quit, the pages, Jobs,
Help); what needs the pages or the compute devices is added once they are loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from engine import __version__
from gui.common.settings import Keys

if TYPE_CHECKING:
    from gui.shell.main_window import MainWindow

# the piano roll's file commands, as the File menu names them
MIDI_FILE_LABELS = {"new": "&New MIDI", "save": "&Save MIDI", "save_as": "Save MIDI &As…",
                    "export_wav": "&Export MIDI as WAV…"}
EDIT_ACTIONS = (("undo", "redo"), ("cut", "copy", "paste", "delete", "duplicate", "select_all"),
                ("up", "down", "octave_up", "octave_down", "quantize"))
PRECISIONS = [("auto", "Automatic (float16 on CUDA, else float32)"), ("float32", "float32"),
              ("float16", "float16"), ("bfloat16", "bfloat16")]


class WindowMenus:
    """File, Edit, View, Settings and Help of one main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        bar = window.menuBar()
        self.file = bar.addMenu("&File")
        self.edit = bar.addMenu("&Edit")
        self.view = bar.addMenu("&View")
        self.settings = bar.addMenu("&Settings")
        self.help = bar.addMenu("&Help")
        for menu in (self.edit, self.settings):
            menu.menuAction().setEnabled(False)  # until the pages are loaded
        self.edit.setToolTipsVisible(True)

        self._quit_separator = self.file.addSeparator()
        self.file.addAction(self._action("&Quit", "Ctrl+Q", window.close))

        for i, name in enumerate(window.PAGES):
            page = self._action(name, f"Ctrl+{i + 1}", lambda _=False, i=i: window.nav.setCurrentRow(i))
            self.view.addAction(page)
            window.addAction(page)  # (works with the menu bar hidden too)
        self.view.addSeparator()
        self.view.addAction(window.jobs_dock.toggle_action)

        self.help.addAction(self._action("&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents,
                                         window.show_shortcuts))
        self.help.addAction(self._action("&About Motet", None, lambda: QMessageBox.about(
            window, "About Motet", f"<b>Motet {__version__}</b><p>A desktop AI audio studio.</p>")))

        self.open: QAction | None = None
        self.open_midi: QAction | None = None
        self.midi_file_actions: list[QAction] = []
        self.device_group: QActionGroup | None = None
        self.dtype_group: QActionGroup | None = None

    # -- once the pages are there ----------------------------------------------------------------
    def add_page_actions(self) -> None:
        """File's page commands, the piano roll's Edit menu, Settings (devices and precision)."""
        w = self.window
        roll = w.piano_roll.actions_by_name
        self.open = self._action("&Open audio file…", QKeySequence.StandardKey.Open, w.open_file)
        self.open_midi = self._action("Open &MIDI file…", None, w.open_midi)
        items: list[QAction | None] = [self.open, self._action("&Transcribe files…", "Ctrl+T", w.transcribe_files),
                                       None, self.open_midi]
        example = roll.get("open_example")
        if example is not None:  # a submenu of the bundled motifs: shown on the piano roll when picked
            items.append(example)
            (example.menu() or example).triggered.connect(lambda *_: w.show_page("Piano roll"))
        for name, label in MIDI_FILE_LABELS.items():
            if name in roll:
                roll[name].setText(label)
                self.midi_file_actions.append(roll[name])
        items += self.midi_file_actions
        for item in items:
            if item is None:
                self.file.insertSeparator(self._quit_separator)
            else:
                self.file.insertAction(self._quit_separator, item)

        for group in EDIT_ACTIONS:
            if self.edit.actions():
                self.edit.addSeparator()
            self.edit.addActions([roll[name] for name in group if name in roll])
        self.edit.setToolTip("The piano roll's editing commands")

        devices = [(d.kind if d.index is None else f"{d.kind}:{d.index}", _describe(d)) for d in w.compute_devices]
        self.device_group = self._choice_menu("Compute &device", Keys.COMPUTE_DEVICE,
                                              [("auto", "Automatic (best available)")] + devices)
        self.dtype_group = self._choice_menu("Model &precision", Keys.COMPUTE_DTYPE, PRECISIONS)
        self.settings.addSeparator()
        unload = self._action("&Unload models", None, w.unload_models)
        unload.setToolTip("Free the memory of loaded models; they load again when next needed")
        self.settings.addAction(unload)
        self.settings.menuAction().setEnabled(True)
        self.follow_page(w.current_page())

    def follow_page(self, name: str) -> None:
        """Enable what works on page ``name``; Ctrl+O opens MIDI on the piano roll, audio elsewhere."""
        if self.open is None:
            return
        on_roll = name == "Piano roll"
        self.edit.menuAction().setEnabled(on_roll)
        for action in self.midi_file_actions:
            action.setEnabled(on_roll)
        self.open.setText("&Open MIDI file…" if on_roll else "&Open audio file…")
        self.open_midi.setVisible(not on_roll)

    def per_page_texts(self) -> dict[QAction, dict[str, str]]:
        """Window-wide actions that do something different on each page: what each does where
        (Help › Keyboard shortcuts lists them per page). Ctrl+O opens MIDI on the piano roll."""
        if self.open is None:
            return {}
        texts = {name: "Open audio file… (on the Transcribe page)" for name in self.window.PAGES}
        texts.update({"Transcribe": "Open audio file…", "Piano roll": "Open MIDI file…"})
        return {self.open: texts}

    # -- plumbing --------------------------------------------------------------------------------
    def _action(self, text: str, shortcut, slot: Callable) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _choice_menu(self, title: str, key: str, choices: list[tuple[str, str]]) -> QActionGroup:
        """A submenu of exclusive choices stored under ``key`` in the settings."""
        menu: QMenu = self.settings.addMenu(title)
        group = QActionGroup(self.window)
        current = str(self.window.settings.value(key, "auto"))
        for value, label in choices:
            action = QAction(label, self.window, checkable=True)
            action.setData(value)
            action.setChecked(value == current)
            group.addAction(action)
            menu.addAction(action)

        def chosen(action: QAction) -> None:
            self.window.settings.setValue(key, action.data())
            self.window.compute_changed()

        group.triggered.connect(chosen)
        return group


def _describe(device) -> str:
    from engine.device import describe

    return describe(device)
