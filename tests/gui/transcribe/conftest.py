"""What the Transcribe page's tests share: the main window, shown on that page."""

import pytest


@pytest.fixture
def window(qtbot):
    from gui.shell.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.nav.setCurrentRow(1)
    yield w
    w.close()
