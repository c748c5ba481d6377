"""The transcript under the Record view's spectrogram: it grows while the user talks.

Finished segments are list rows with their start time (a click plays that span of the take);
the segment being spoken sits under them: committed words in the normal colour, tentative
words greyed (they may still change).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.common.widgets import format_duration

SpanRole = Qt.ItemDataRole.UserRole


def count_lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


class LiveTranscriptPanel(QWidget):
    segmentClicked = Signal(float, float)  # start, end (seconds into the take)
    exportRequested = Signal()
    transcribeRequested = Signal()  # the status line's "Transcribe" link

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled_check = QCheckBox("Transcribe while recording")
        self.enabled_check.setToolTip("Live transcription with the Whisper model chosen in the Transcribe view")
        self.status_label = QLabel("")
        self.status_label.setStyleSheet("color: #666;")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)  # for its link; set_status escapes the rest
        self.status_label.setMinimumWidth(120)
        self.export_button = QPushButton("Export transcript…")
        self.export_button.setToolTip("Save the transcript as TXT, SRT, VTT or JSON")
        self.export_button.setEnabled(False)
        self.segments = QListWidget()
        self.segments.setObjectName("liveSegments")
        self.segments.setWordWrap(True)
        self.segments.setAlternatingRowColors(True)
        self.segments.setMinimumHeight(48)
        self.segments.setToolTip("Click a line to play that part of the take")
        self.current = QLabel("")
        self.current.setObjectName("liveCurrent")
        self.current.setWordWrap(True)
        self.current.setTextFormat(Qt.TextFormat.RichText)
        self.current.setMinimumHeight(20)
        self.current.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.current.hide()  # only while recording

        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Transcript</b>"))
        header.addWidget(self.enabled_check)
        header.addWidget(self.status_label, 1)
        header.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.segments, 1)
        layout.addWidget(self.current)

        self.segments.itemClicked.connect(self._clicked)
        self.export_button.clicked.connect(self.exportRequested)
        self.status_label.linkActivated.connect(lambda _link: self.transcribeRequested.emit())
        self._shown = 0  # finished segments already listed

    def set_status(self, text: str, transcribe_link: bool = False) -> None:
        """The line beside the title; ``transcribe_link`` ends it with a "Transcribe" link."""
        shown = html.escape(text, quote=False)
        if transcribe_link:
            shown += " <a href='transcribe'>Transcribe</a>"
        if shown != self.status_label.text():  # called on every display tick while recording
            self.status_label.setText(shown)
            self.status_label.setToolTip(text)

    def line_count(self) -> int:
        """Finished lines listed."""
        return self.segments.count()

    def speaking(self) -> bool:
        """Whether a line is being spoken (words heard that are not in a finished line yet)."""
        return bool(self.current.text())

    # -- content ---------------------------------------------------------------------------------
    def clear(self, live: bool = False) -> None:
        """Empty; ``live``: a recording starts, with the line being spoken under the list."""
        self.segments.clear()
        self.current.setText("")
        self.current.setVisible(live)
        self._shown = 0
        self.export_button.setEnabled(False)

    @staticmethod
    def _line(segment) -> str:
        return f"{format_duration(segment.start)}   {segment.text.strip()}"

    def _add_segment(self, segment) -> None:
        item = QListWidgetItem(self._line(segment))
        item.setData(SpanRole, (segment.start, segment.end))
        self.segments.addItem(item)

    def show_update(self, update) -> None:
        """A live snapshot: list what became final, redraw the segment being spoken."""
        at_bottom = self._at_bottom()
        if len(update.segments) < self._shown:  # a new take
            self.clear()
        for index in update.revised:  # a likelier reading of a line already listed
            if index < self._shown:
                self.segments.item(index).setText(self._line(update.segments[index]))
        for segment in update.segments[self._shown:]:
            self._add_segment(segment)
        self._shown = len(update.segments)
        if update.start is not None and (update.committed or update.tentative):
            self.current.setText(
                f"<span style='color:#888'>{format_duration(update.start)}</span>&nbsp;&nbsp;&nbsp;"
                f"{html.escape(update.committed.strip())} "
                f"<span style='color:#999'>{html.escape(update.tentative.strip())}</span>")
        else:
            self.current.setText("")
        if at_bottom:
            self.segments.scrollToBottom()

    def show_result(self, result) -> None:
        """A finished transcript (at Stop, or a stored one re-opened)."""
        self.clear()
        for segment in result.segments:
            self._add_segment(segment)
        self._shown = len(result.segments)
        self.export_button.setEnabled(True)
        self.segments.scrollToBottom()

    def text(self) -> str:
        """What is on screen, finished segments and the current one (for tests and copy)."""
        lines = [self.segments.item(i).text().split("   ", 1)[-1] for i in range(self.segments.count())]
        return " ".join(lines)

    def _at_bottom(self) -> bool:
        bar = self.segments.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _clicked(self, item: QListWidgetItem) -> None:
        start, end = item.data(SpanRole)
        self.segmentClicked.emit(start, end)
