"""Small widgets and helpers shared by several views."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from gui.common.settings import Keys


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


class ElidedLabel(QLabel):
    """A one-line label that never widens its window (a long file or folder name would): what does
    not fit is elided in the middle, the whole text is in the tooltip. ``set_text(head, tail)``
    elides only ``head`` and keeps ``tail`` (a file's details after its name) whole."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_text(text)

    def set_text(self, head: str, tail: str = "") -> None:
        self._head, self._tail = head, tail
        self.setToolTip(head + tail)
        self._fit()

    def full_text(self) -> str:
        return self._head + self._tail

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        metrics = self.fontMetrics()
        room = max(0, self.contentsRect().width() - metrics.horizontalAdvance(self._tail))
        self.setText(metrics.elidedText(self._head, Qt.TextElideMode.ElideMiddle, room) + self._tail)


class WrappedRowsDelegate(QStyledItemDelegate):
    """Rows as tall as their word-wrapped text: a tree view sizes a row for one line unless its
    delegate is told the column's width. Install with ``wrap_rows``."""

    def sizeHint(self, option, index):  # noqa: N802 - Qt naming
        sized = QStyleOptionViewItem(option)
        sized.rect = QRect(0, 0, self.parent().header().sectionSize(index.column()), 1)
        return super().sizeHint(sized, index)


def wrap_rows(view: QTreeView) -> None:
    """Wrap long cells of ``view`` (a transcript's text) over several lines, again on every resize."""
    view.setWordWrap(True)
    view.setItemDelegate(WrappedRowsDelegate(view))
    view.header().sectionResized.connect(lambda *_: view.scheduleDelayedItemsLayout())


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

    def show_message(self, text: str, kind: str = "info", actions: list[tuple[str, object]] | None = None,
                     details: str | None = None) -> None:
        """One line of ``text``; ``details`` (a long cause) stay behind a Details button."""
        colours = {"info": ("#1d3b53", "#d6ecff"), "error": ("#5c1111", "#ffd9d9"), "warn": ("#4d3b00", "#fff1c2")}
        fg, bg = colours.get(kind, colours["info"])
        self.setStyleSheet(f"#banner {{ background: {bg}; border-radius: 4px; }} QLabel {{ color: {fg}; }}")
        self.label.setText(text)
        for b in self._buttons:
            b.deleteLater()
        self._buttons = []
        if details:
            def toggle() -> None:
                showing = self.label.text() == text
                self.label.setText(f"{text}\n\n{details}" if showing else text)
                self.button("Hide details" if not showing else "Details").setText(
                    "Hide details" if showing else "Details")

            actions = [("Details", toggle)] + list(actions or [])
        for i, (title, callback) in enumerate(actions or []):
            button = QPushButton(title)
            button.clicked.connect(callback)
            self._layout.insertWidget(1 + i, button)
            self._buttons.append(button)
        self.show()

    def button(self, title: str) -> QPushButton | None:
        return next((b for b in self._buttons if b.text() == title), None)


def download_failure(name: str, error: str) -> tuple[str, str]:
    """A failed download as one sentence for a banner, and the whole error for its Details."""
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    if "cannot reach" in first:
        return f"Could not download {name}: the model hub cannot be reached (offline?). Nothing was installed.", error
    return f"Could not download {name}: {first if len(first) <= 160 else first[:159] + '…'}", error


def transcript_filters(fmt: str = "srt") -> tuple[str, str]:
    """The Save dialog's filters for a transcript, ``fmt``'s first (a native dialog that ignores
    the selected filter starts on it too), and that filter."""
    from engine.transcript import FORMATS

    fmt = fmt.lower().lstrip(".") if fmt and fmt.lower().lstrip(".") in FORMATS else "srt"
    order = [fmt] + [f for f in FORMATS if f != fmt]
    filters = [f"{f.upper()} (*.{f})" for f in order]
    return ";;".join(filters), filters[0]


def transcript_target(path: str, chosen_filter: str, fmt: str = "srt") -> tuple[str, str]:
    """The file a transcript export writes and its format: a name ending in .txt/.srt/.vtt/.json
    keeps it (and that is the format); any other name gets the chosen filter's extension
    (``fmt``'s when the dialog says none), so "talk_out" with SRT chosen is talk_out.srt."""
    from pathlib import Path

    from engine.transcript import FORMATS

    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return path, suffix
    words = chosen_filter.split()
    chosen = words[0].lower() if words and words[0].lower() in FORMATS else fmt.lower().lstrip(".")
    chosen = chosen if chosen in FORMATS else "srt"
    return f"{path}.{chosen}", chosen


def ask_transcript_path(parent: QWidget, settings, stem: str, default_folder: str, fmt: str = "srt") -> str | None:
    """The Save dialog for a transcript (TXT/SRT/VTT/JSON), on ``fmt`` (the name suggested ends
    in it, its filter is the selected one); remembers the folder. A name without a transcript
    extension gets the chosen filter's (``transcript_target``)."""
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    from gui.common.settings import get_str

    filters, selected = transcript_filters(fmt)
    fmt = selected.split()[0].lower()
    folder = get_str(settings, Keys.PATHS_EXPORT_DIR, default_folder)
    path, chosen = QFileDialog.getSaveFileName(parent, "Export transcript", str(Path(folder) / f"{stem}.{fmt}"),
                                               filters, selected)
    if not path:
        return None
    path, _ = transcript_target(path, chosen or selected, fmt)
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
