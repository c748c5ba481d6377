"""Create the QApplication and the main window."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine import __version__


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Motet")
    app.setOrganizationName("Motet")
    app.setApplicationVersion(__version__)
    return app


def run_app() -> int:
    app = create_app()
    from engine.audio.takes import TakeError
    from gui.shell.main_window import MainWindow

    try:
        window = MainWindow(load=False)  # the window first; the engine loads behind it
    except TakeError as exc:  # an unusable data folder (read-only, no space, a busy lock): say so, end cleanly
        from PySide6.QtWidgets import QMessageBox

        print(f"motet: {exc}", file=sys.stderr)
        if app.platformName() != "offscreen":  # (nobody to click OK there)
            QMessageBox.critical(None, "Motet cannot start", f"{exc}\n\nSet MOTET_DATA_DIR to a folder you can write.")
        return 2
    window.show()
    window.load_after_first_paint()
    # Ctrl+C or SIGTERM in the terminal closes the window properly (a take being recorded is
    # saved). Qt's loop never returns to Python on its own, so a timer lets the handler run.
    # The close is posted to the loop: a signal arriving before app.exec() starts still closes
    # the window once the loop runs (closing it before would leave the loop waiting forever).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()
    wake.start(200)
    wake.timeout.connect(lambda: None)
    return app.exec()
