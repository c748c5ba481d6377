"""Menus follow the page; Help › Keyboard shortcuts lists every shortcut and no key is ambiguous;
every page's passing messages reach the status bar."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog

from gui.shell.main_window import MainWindow
from gui.shell.shortcuts_dialog import EVERYWHERE, JOBS, collect_shortcuts, listed_shortcuts, shown_keys


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 760)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.fixture
def dialogs(monkeypatch):
    """The captions of file dialogs asked for (none opens: each returns "cancelled")."""
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda parent, caption, *a, **k: (
        asked.append(caption), ("", ""))[1]))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda parent, caption, *a, **k: (
        asked.append(caption), ("", ""))[1]))
    return asked


def texts(menu):
    return [a.text().replace("&", "") for a in menu.actions() if a.isVisible() and not a.isSeparator()]


def test_the_piano_rolls_commands_say_so_and_work_only_on_its_page(window, qtbot, dialogs):
    roll = window.piano_roll.actions_by_name
    file_items = texts(window.menus.file)
    for label in ("New MIDI", "Save MIDI", "Save MIDI As…", "Export MIDI as WAV…", "Open example motif"):
        assert label in file_items
    assert "Save" not in file_items and "New" not in file_items
    edit = [roll[name] for name in ("undo", "redo", "cut", "copy", "paste", "select_all", "up", "down", "quantize")]
    assert all(a in window.menus.edit.actions() for a in edit)

    window.show_page("Generate")
    assert not window.menus.edit.menuAction().isEnabled()
    assert not roll["save"].isEnabled() and not roll["export_wav"].isEnabled()
    roll["save"].trigger()  # File › Save MIDI from the Generate page: nothing
    window.generate_view.setFocus()
    qtbot.keyClick(window.generate_view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert dialogs == []
    assert "Open audio file…" in texts(window.menus.file) and "Open MIDI file…" in texts(window.menus.file)

    window.show_page("Piano roll")
    assert window.menus.edit.menuAction().isEnabled() and roll["save"].isEnabled()
    assert texts(window.menus.file)[0] == "Open MIDI file…"  # Ctrl+O opens what the page works on
    assert "Open audio file…" not in texts(window.menus.file)
    window.menus.open.trigger()
    roll["save"].trigger()
    assert dialogs == ["Open MIDI file", "Save MIDI file"]


def test_an_example_motif_from_another_page_opens_in_the_piano_roll(window):
    example = window.piano_roll.actions_by_name["open_example"]
    assert example in window.menus.file.actions() and example.menu().actions()
    window.show_page("Record")
    example.menu().actions()[0].trigger()
    assert window.current_page() == "Piano roll"
    assert window.piano_roll.doc.notes


def test_no_two_shortcuts_active_together_share_a_key(window):
    """A page's shortcuts work only while it is shown, the window's and the Jobs panel's always;
    a widget's own shortcut only with the focus in it (or in its children)."""
    shortcuts = collect_shortcuts(window)
    assert {s.group for s in shortcuts} >= {EVERYWHERE, "Record", "Piano roll", "Generate"}
    for page in window.PAGES:
        shown = [s for s in shortcuts if s.group in (EVERYWHERE, JOBS, page)]
        clashes = [(f"{a.group}: {a.text}", f"{b.group}: {b.text}", set(a.keys) & set(b.keys))
                   for i, a in enumerate(shown) for b in shown[i + 1:]
                   if set(a.keys) & set(b.keys) and a.may_fire_with(b)]
        assert clashes == [], f"ambiguous on the {page} page"


def test_the_ambiguity_check_knows_where_the_focus_must_be(window):
    """Two Del keys on two lists of one page never fire together; a window-wide Del does."""
    page = window.generate_view
    existing = next(s for s in collect_shortcuts(window) if s.group == "Generate" and "Del" in s.keys)
    QShortcut(QKeySequence("Del"), page.form, context=Qt.ShortcutContext.WidgetShortcut)
    QShortcut(QKeySequence("Del"), page)  # a window-wide one, while the page is shown
    found = {s.widget: s for s in collect_shortcuts(window) if "Del" in s.keys}
    assert not found[page.form].may_fire_with(existing)
    assert found[page].may_fire_with(existing) and found[page].context == Qt.ShortcutContext.WindowShortcut


def test_the_shortcuts_dialog_lists_every_shortcut_by_page(window):
    help_item = next(a for a in window.menus.help.actions() if a.text() == "&Keyboard shortcuts")
    assert not help_item.shortcut().isEmpty()
    help_item.trigger()
    dialog = window._shortcuts_dialog
    assert dialog.isVisible()
    rows = dialog.rows()
    native = QKeySequence.SequenceFormat.NativeText
    for s in listed_shortcuts(window):
        title = s.group if s.group in (EVERYWHERE, JOBS) else f"{s.group} page"
        assert (title, s.text, shown_keys(s)) in rows
    assert all(text != "(no description)" for _, text, _ in rows)
    assert ("Everywhere", "Quit", QKeySequence("Ctrl+Q").toString(native)) in rows
    assert ("Record page", "Record / Stop", "Space") in rows
    assert any(group == "Piano roll page" and text == "Undo" for group, text, _ in rows)
    dialog.filter.setText("undo")
    assert [text for _, text, _ in dialog.rows()] == ["Undo"]
    dialog.close()


def test_the_shortcuts_dialog_says_undo_redo_gestures_and_ctrl_o_per_page(window, qtbot):
    """Issue #29 item 7: Undo/Redo were listed with their changing texts ("Undo Continue"),
    Ctrl+Enter and the piano roll's zoom were missing, and Ctrl+O was only "Open audio file…
    (Everywhere)" though it opens MIDI on the piano roll."""
    from engine.midi.score import Note

    window.show_page("Piano roll")
    window.piano_roll.doc.add_note(Note(0, 60, 480))
    window.piano_roll.doc.undo_stack.undo()  # the undo stack's actions now say "Redo Draw note"
    assert window.piano_roll.actions_by_name["redo"].text().startswith("Redo ")
    next(a for a in window.menus.help.actions() if a.text() == "&Keyboard shortcuts").trigger()
    dialog = window._shortcuts_dialog
    rows = dialog.rows()
    native = QKeySequence.SequenceFormat.NativeText
    ctrl_o = QKeySequence("Ctrl+O").toString(native)
    roll = [(text, keys) for group, text, keys in rows if group == "Piano roll page"]
    assert ("Undo", QKeySequence("Ctrl+Z").toString(native)) in roll
    assert any(text == "Redo" for text, _ in roll)
    assert not any(text.startswith(("Undo ", "Redo ")) for _, text, _ in rows)
    assert ("Open MIDI file…", ctrl_o) in roll
    assert ("Zoom in time (on the grid)", "Ctrl+Wheel") in roll
    assert ("Zoom in pitch (on the grid)", "Ctrl+Shift+Wheel") in roll
    assert ("Generate page", "Generate (in the prompt)", "Ctrl+Enter") in rows
    assert ("Transcribe page", "Open audio file…", ctrl_o) in rows
    assert ("Record page", "Open audio file… (on the Transcribe page)", ctrl_o) in rows
    assert not any(group == "Everywhere" and keys == ctrl_o for group, _, keys in rows)
    dialog.filter.setText("ctrl+o")
    assert {group for group, _, _ in dialog.rows()} == {f"{p} page" for p in window.PAGES}
    dialog.close()


def test_every_pages_messages_reach_the_status_bar(window):
    for name, page in window.pages() + [("audio file", window.file_view)]:
        page.statusMessage.emit(f"hello from {name}")
        assert window.statusBar().currentMessage() == f"hello from {name}"
    # the piano roll's own: saving, continuing, autosave failures
    window.piano_roll.statusMessage.emit("Inserted 8 notes")
    assert window.statusBar().currentMessage() == "Inserted 8 notes"
