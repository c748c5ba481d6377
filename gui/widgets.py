"""Small widgets and helpers shared by several views."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


class Banner(QFrame):
    """A message strip inside the view: errors and offers that must not block with a dialog."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._buttons: list[QPushButton] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.addWidget(self.label, 1)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        self._layout.addWidget(close)
        self.hide()

    def show_message(self, text: str, kind: str = "info", actions: list[tuple[str, object]] | None = None) -> None:
        colours = {"info": ("#1d3b53", "#d6ecff"), "error": ("#5c1111", "#ffd9d9"), "warn": ("#4d3b00", "#fff1c2")}
        fg, bg = colours.get(kind, colours["info"])
        self.setStyleSheet(f"#banner {{ background: {bg}; border-radius: 4px; }} QLabel {{ color: {fg}; }}")
        self.label.setText(text)
        for b in self._buttons:
            b.deleteLater()
        self._buttons = []
        for i, (title, callback) in enumerate(actions or []):
            button = QPushButton(title)
            button.clicked.connect(callback)
            self._layout.insertWidget(1 + i, button)
            self._buttons.append(button)
        self.show()

    def button(self, title: str) -> QPushButton | None:
        return next((b for b in self._buttons if b.text() == title), None)
