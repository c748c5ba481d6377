"""The Generate page. MusicGen text-to-music and audio continuation are not built yet: until
they are, the page says so (the navigation and its Ctrl+4 shortcut already lead here)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class GenerateView(QWidget):
    """A placeholder page: its title and a line saying what is not built yet."""

    TITLE = "Generate"
    TEXT = "MusicGen text-to-music and audio continuation are not built yet."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h2>{self.TITLE}</h2><p>{self.TEXT}</p>")
        heading.setWordWrap(True)
        heading.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addStretch(1)
