"""Create the QApplication and the main window."""

from __future__ import annotations

import sys

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
    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
