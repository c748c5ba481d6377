"""Small widgets and helpers shared by several views."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from gui.common.settings import Keys


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


def ask_transcript_path(parent: QWidget, settings, stem: str, default_folder: str) -> str | None:
    """The Save dialog for a transcript (TXT/SRT/VTT/JSON); remembers the folder. The suffix
    follows the chosen filter when the name has none."""
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    from engine.transcript import FORMATS
    from gui.common.settings import get_str

    folder = get_str(settings, Keys.PATHS_EXPORT_DIR, default_folder)
    filters = ";;".join(f"{f.upper()} (*.{f})" for f in FORMATS)
    path, chosen = QFileDialog.getSaveFileName(parent, "Export transcript", str(Path(folder) / f"{stem}.srt"), filters)
    if not path:
        return None
    if not Path(path).suffix:
        path += "." + chosen.split()[0].lower()
    settings.setValue(Keys.PATHS_EXPORT_DIR, str(Path(path).parent))
    return path


def write_transcript_or_say_why(banner: Banner, result, path: str, fmt: str | None = None) -> bool:
    """Write an export; a failure (full disk, bad name) goes to the banner, not up."""
    from engine.transcript import write_transcript

    try:
        write_transcript(result, path, fmt)
    except (OSError, ValueError) as exc:
        banner.show_message(f"Could not export the transcript: {exc}", "error")
        return False
    return True
