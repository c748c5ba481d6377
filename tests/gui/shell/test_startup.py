"""The window appears before the engine: no torch until it has painted, pages that say they are
loading, then everything built behind it; closing or a broken engine meanwhile is handled."""

import subprocess
import sys
from pathlib import Path

import pytest
from qt_wait import wait, wait_until

from gui.shell import loading
from gui.shell.loading import LoadingPage
from gui.shell.main_window import MainWindow

LOAD_S = 180  # importing torch and building the pages on a busy 2-core machine (a few seconds alone)


@pytest.fixture
def make_window(qtbot):
    made = []

    def make():
        w = MainWindow(load=False)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def test_the_window_needs_neither_torch_nor_the_pages_to_appear():
    """In a fresh interpreter: the window is built and painted with none of the heavy modules."""
    code = ("import sys\n"
            "from gui.shell.app import create_app\n"
            "from gui.shell.main_window import MainWindow\n"
            "app = create_app()\n"
            "w = MainWindow(load=False)\n"
            "w.show()\n"
            "app.processEvents()\n"
            "heavy = [m for m in ('torch', 'pyqtgraph', 'gui.record.view', 'gui.generate.view') if m in sys.modules]\n"
            "print('HEAVY', heavy, w.compute_label.text())\n"
            "w.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LOAD_S,
                         cwd=Path(__file__).resolve().parents[3])
    assert "HEAVY [] Loading the engine…" in out.stdout, out.stderr[-2000:]


def test_pages_say_they_are_loading_then_are_built_behind_the_window(make_window):
    w = make_window()
    assert all(isinstance(page, LoadingPage) and page.text().startswith("Loading") for _, page in w.pages())
    assert w.compute_label.text() == "Loading the engine…"
    assert not w.menus.edit.menuAction().isEnabled() and not w.menus.settings.menuAction().isEnabled()
    assert w.nav.isEnabled()  # the window is usable meanwhile: pages can be chosen
    w.show_page("Generate")
    w.load_after_first_paint()
    assert "loading" in w.statusBar().currentMessage()
    wait_until(lambda: w.is_ready, LOAD_S, "the engine and pages loading")
    assert not any(isinstance(page, LoadingPage) for _, page in w.pages())
    assert w.stack.currentWidget() is w.generate_view  # the page chosen meanwhile is shown
    assert "Loading" not in w.compute_label.text() and w.input_label.text().startswith("Input:")
    assert w.menus.settings.menuAction().isEnabled() and w.menus.device_group.actions()
    w.piano_roll.statusMessage.emit("Opened motif.mid")
    assert w.statusBar().currentMessage() == "Opened motif.mid"


def test_closing_while_loading_builds_nothing_more(make_window):
    w = make_window()
    w.load_after_first_paint()
    w.close()
    wait(500)
    assert not w.is_ready and w.record_view is None


def test_an_engine_that_cannot_load_is_said_on_every_page(make_window, monkeypatch):
    monkeypatch.setattr(loading, "ENGINE_MODULES", ("engine.no_such_module",))
    w = make_window()
    w.load_after_first_paint()
    wait_until(lambda: "could not be loaded" in w.stack.widget(0).text(), LOAD_S, "the failure shown")
    assert all("No module named 'engine.no_such_module'" in page.text() for _, page in w.pages())
    assert w.compute_label.text() == "Engine not loaded" and not w.is_ready
