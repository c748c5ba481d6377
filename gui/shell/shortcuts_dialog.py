"""Help › Keyboard shortcuts: every shortcut of the window and its pages, grouped by where it works.

The list is read from the live actions and QShortcuts when the dialog opens, so it cannot drift
from what the keys do. A shortcut inside a page works only while that page is shown; the others
("Everywhere", the Jobs panel) work on every page, except those that do something different on
each page (Ctrl+O: audio, MIDI on the piano roll), listed under each page. Undo and Redo are listed
as such, not with the text of the step they would undo now; key and mouse gestures that are no
action (Ctrl+Enter in a prompt, Ctrl+wheel zoom) are listed from ``GESTURES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from gui.shell.main_window import MainWindow

EVERYWHERE = "Everywhere"
JOBS = "Jobs panel"

# QShortcuts carry no text of their own; their whatsThis is used when set, else these words
SHORTCUT_WORDS = {
    ("Record", "Space"): "Record / Stop",
    ("Record", "Del"): "Delete the selected take",
    ("Record", "F2"): "Rename the selected take",
    ("Generate", "Space"): "Play / stop the selected result",
    ("Generate", "Del"): "Delete the selected result",
}


# gestures handled in event handlers, not actions: (page, what it does, keys as shown)
GESTURES = (
    ("Generate", "Generate (in the prompt)", "Ctrl+Enter"),
    ("Generate", "Compose (in the composer's prompt)", "Ctrl+Enter"),
    ("Piano roll", "Zoom in time (on the grid)", "Ctrl+Wheel"),
    ("Piano roll", "Zoom in pitch (on the grid)", "Ctrl+Shift+Wheel"),
)


@dataclass(frozen=True)
class Shortcut:
    group: str  # EVERYWHERE, JOBS or a page's name
    text: str
    keys: tuple[str, ...]  # QKeySequence.toString() of each key
    context: Qt.ShortcutContext  # with ``widget``: where the focus must be for it to fire
    widget: QWidget | None = field(default=None, compare=False)  # None: the window (its menus)
    gesture: bool = False  # from GESTURES: ``keys`` are shown as they are (a wheel is no key sequence)

    def may_fire_with(self, other: Shortcut) -> bool:
        """Whether the two can be active for one focus widget (when both are on screen)."""
        if self.widget is None or other.widget is None or _WINDOW_WIDE in (self.context, other.context):
            return True
        a, b = self.widget, other.widget
        if self.context == other.context == Qt.ShortcutContext.WidgetShortcut:
            return a is b
        if self.context == Qt.ShortcutContext.WidgetShortcut:  # the other takes its children too
            return b is a or b.isAncestorOf(a)
        if other.context == Qt.ShortcutContext.WidgetShortcut:
            return a is b or a.isAncestorOf(b)
        return a is b or a.isAncestorOf(b) or b.isAncestorOf(a)


_WINDOW_WIDE = (Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut)


def collect_shortcuts(window: MainWindow) -> list[Shortcut]:
    """Every action and QShortcut of the window that has a key and can fire."""
    found = []
    for action in window.findChildren(QAction):
        keys = _keys(action.shortcuts())
        owners = action.associatedObjects()
        if not keys or not owners:  # an action in no widget nor menu cannot fire
            continue
        # (a menu passes on a widget-bound action's key only while the menu bar has the focus)
        widgets = [o for o in owners if isinstance(o, QWidget) and not isinstance(o, (QMenu, QMenuBar))]
        widget = next((w for w in widgets if w is not window), None)
        text = _undo_redo(action, action.text().replace("&", ""))
        found.append(Shortcut(_group_of(window, widget), text, keys, action.shortcutContext(), widget))
    for shortcut in window.findChildren(QShortcut):
        keys = _keys(shortcut.keys())
        if not keys:
            continue
        widget = shortcut.parent()
        group = _group_of(window, widget)
        text = shortcut.whatsThis() or SHORTCUT_WORDS.get((group, keys[0]), "(no description)")
        found.append(Shortcut(group, text, keys, shortcut.context(), widget if widget is not window else None))
    return found


def listed_shortcuts(window: MainWindow) -> list[Shortcut]:
    """What the dialog lists: ``collect_shortcuts``, with each window-wide action that does
    something different per page (``window.menus.per_page_texts()``) under each page, and the
    ``GESTURES``."""
    per_page = window.menus.per_page_texts() if getattr(window, "menus", None) is not None else {}
    by_keys = {_keys(a.shortcuts()): texts for a, texts in per_page.items()}
    listed = []
    for s in collect_shortcuts(window):
        texts = by_keys.get(s.keys) if s.group == EVERYWHERE and s.widget is None else None
        if texts and any(s.text == t for t in texts.values()):
            listed += [Shortcut(page, text, s.keys, s.context) for page, text in texts.items()]
        else:
            listed.append(s)
    listed += [Shortcut(page, text, (keys,), Qt.ShortcutContext.WidgetShortcut, gesture=True)
               for page, text, keys in GESTURES]
    return listed


def _undo_redo(action: QAction, text: str) -> str:
    """An undo stack's actions say what they would undo now ("Undo Continue", "Redo Open “a
    chorale…”"): listed as Undo and Redo."""
    keys = set(_keys(action.shortcuts()))
    for word, standard in (("Undo", QKeySequence.StandardKey.Undo), ("Redo", QKeySequence.StandardKey.Redo)):
        if text.startswith(word) and keys & set(_keys(QKeySequence.keyBindings(standard))):
            return word
    return text


def _keys(sequences: list[QKeySequence]) -> tuple[str, ...]:
    return tuple(k.toString() for k in sequences if not k.isEmpty())


def _group_of(window: MainWindow, widget) -> str:
    """The page that holds ``widget``, the Jobs panel, or EVERYWHERE (the window, menus)."""
    if not isinstance(widget, QWidget):
        return EVERYWHERE
    for name, page in window.pages():
        if widget is page or page.isAncestorOf(widget):
            return name
    return JOBS if window.jobs_dock.isAncestorOf(widget) else EVERYWHERE


def shown_keys(s: Shortcut) -> str:
    """The keys as the dialog shows them: the platform's names ("Ctrl+Z, Ctrl+Y")."""
    if s.gesture:
        return ", ".join(s.keys)
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in s.keys)


class ShortcutsDialog(QDialog):
    """The shortcuts in a tree, one branch per place they work in; a filter box narrows it."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(680, 640)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by command or key…")
        self.filter.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Command", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 330)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self._apply_filter)
        self.fill(listed_shortcuts(window), [EVERYWHERE, JOBS] + list(window.PAGES))

    def fill(self, shortcuts: list[Shortcut], order: list[str]) -> None:
        self.tree.clear()
        for group in order:
            rows = sorted((s for s in shortcuts if s.group == group), key=lambda s: s.text.lower())
            if not rows:
                continue
            title = group if group in (EVERYWHERE, JOBS) else f"{group} page"
            head = QTreeWidgetItem(self.tree, [title])
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            head.setFirstColumnSpanned(True)
            for s in rows:
                QTreeWidgetItem(head, [s.text, shown_keys(s)])
        self.tree.expandAll()

    def rows(self) -> list[tuple[str, str, str]]:
        """(group title, command, keys) of every row shown."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            out += [(head.text(0), head.child(j).text(0), head.child(j).text(1)) for j in range(head.childCount())
                    if not head.child(j).isHidden()]
        return out

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            shown = 0
            for j in range(head.childCount()):
                item = head.child(j)
                hit = not needle or needle in item.text(0).lower() or needle in item.text(1).lower()
                item.setHidden(not hit)
                shown += hit
            head.setHidden(shown == 0)
