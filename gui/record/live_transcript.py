"""The transcript under the Record view's spectrogram: it grows while the user talks.

Finished segments are list rows with their start time (a click plays that span of the take);
the segment being spoken sits under them: committed words in the normal colour, tentative
words greyed (they may still change).

A take's stored transcript can be edited in place: double-click a line or press F2, as in Buzz;
the editor holds the line's text only (not its time), and ``lineEdited`` hands it to the view,
which saves it with the take. "Transcribe again" and "Undo" sit beside Export.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from gui.common.widgets import format_duration

SpanRole = Qt.ItemDataRole.UserRole
TextRole = Qt.ItemDataRole.UserRole + 1  # the line's text alone, what its editor holds


class _LineDelegate(QStyledItemDelegate):
    """Edits a line's text, not the "time   text" shown; the view decides what is saved."""

    def __init__(self, panel: "LiveTranscriptPanel") -> None:
        super().__init__(panel.segments)
        self.panel = panel

    def setEditorData(self, editor, index) -> None:  # noqa: N802 - Qt naming
        editor.setText(str(index.data(TextRole) or ""))

    def setModelData(self, editor, model, index) -> None:  # noqa: N802
        text = editor.text()
        if " ".join(text.split()) != " ".join(str(index.data(TextRole) or "").split()):
            self.panel.lineEdited.emit(index.row(), text)


def count_lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


class LiveTranscriptPanel(QWidget):
    segmentClicked = Signal(float, float)  # start, end (seconds into the take)
    exportRequested = Signal()
    transcribeRequested = Signal()  # the status line's "Transcribe" link
    retranscribeRequested = Signal()  # "Transcribe again"
    undoRequested = Signal()  # "Undo" (Ctrl+Z): the transcript before its last change
    lineEdited = Signal(int, str)  # a stored line's index and its new text

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
        self.again_button = QPushButton("Transcribe again")
        self.again_button.setToolTip("Transcribe the selected take again with the Transcribe page's model and "
                                     "options; the new transcript replaces the stored one (Undo brings it back)")
        self.again_button.setEnabled(False)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring back the transcript before its last change (Ctrl+Z); again to redo")
        self.undo_button.setEnabled(False)
        self.segments = QListWidget()
        self.segments.setObjectName("liveSegments")
        self.segments.setWordWrap(True)
        self.segments.setAlternatingRowColors(True)
        self.segments.setMinimumHeight(48)
        self.segments.setToolTip("Click a line to play that part of the take; double-click or F2 to edit it")
        self.segments.setItemDelegate(_LineDelegate(self))
        self.segments.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked)
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
        header.addWidget(self.again_button)
        header.addWidget(self.undo_button)
        header.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.segments, 1)
        layout.addWidget(self.current)

        self.segments.itemClicked.connect(self._clicked)
        self.export_button.clicked.connect(self.exportRequested)
        self.again_button.clicked.connect(self.retranscribeRequested)
        self.undo_button.clicked.connect(self.undoRequested)
        edit = QShortcut(QKeySequence(Qt.Key.Key_F2), self.segments, activated=self.edit_current)
        edit.setContext(Qt.ShortcutContext.WidgetShortcut)
        edit.setWhatsThis("Edit the selected transcript line")
        undo = QShortcut(QKeySequence("Ctrl+Z"), self, activated=self._undo_shortcut)
        undo.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        undo.setWhatsThis("Bring back the take's transcript before its last change (again: redo)")
        self._editable = False
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

    def set_actions(self, again: bool, undo: bool) -> None:
        """Whether "Transcribe again" and "Undo" can be used now."""
        self.again_button.setEnabled(again)
        self.undo_button.setEnabled(undo)

    def _undo_shortcut(self) -> None:
        if self.undo_button.isEnabled():
            self.undoRequested.emit()

    def edit_current(self) -> None:
        """F2: edit the selected line (a stored transcript's only)."""
        item = self.segments.currentItem()
        if item is not None and self._editable:
            self.segments.editItem(item)

    def line_text(self, index: int) -> str:
        """The text of finished line ``index``, without its time."""
        return str(self.segments.item(index).data(TextRole))

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
        self._editable = False
        self.export_button.setEnabled(False)

    @staticmethod
    def _line(segment) -> str:
        return f"{format_duration(segment.start)}   {segment.text.strip()}"

    def _add_segment(self, segment, editable: bool = False) -> None:
        item = QListWidgetItem(self._line(segment))
        item.setData(SpanRole, (segment.start, segment.end))
        item.setData(TextRole, segment.text.strip())
        if editable:
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.segments.addItem(item)

    def show_update(self, update) -> None:
        """A live snapshot: list what became final, redraw the segment being spoken."""
        at_bottom = self._at_bottom()
        if len(update.segments) < self._shown:  # a new take
            self.clear()
        for index in update.revised:  # a likelier reading of a line already listed
            if index < self._shown:
                self.segments.item(index).setText(self._line(update.segments[index]))
                self.segments.item(index).setData(TextRole, update.segments[index].text.strip())
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

    def show_result(self, result, editable: bool = False, keep_place: bool = False) -> None:
        """A finished transcript (at Stop, or a stored one re-opened); ``editable``: its lines
        can be edited in place; ``keep_place``: the same lines again (an edit, an Undo), so the
        selection and scroll position stay."""
        row = self.segments.currentRow()
        scroll = self.segments.verticalScrollBar().value()
        self.clear()
        self._editable = editable
        for segment in result.segments:
            self._add_segment(segment, editable)
        self._shown = len(result.segments)
        self.export_button.setEnabled(True)
        if keep_place:
            if 0 <= row < self.segments.count():
                self.segments.setCurrentRow(row)
            self.segments.verticalScrollBar().setValue(scroll)
        else:
            self.segments.scrollToBottom()

    def text(self) -> str:
        """What is on screen, finished segments and the current one (for tests and copy)."""
        lines = [self.line_text(i) for i in range(self.segments.count())]
        return " ".join(lines)

    def _at_bottom(self) -> bool:
        bar = self.segments.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _clicked(self, item: QListWidgetItem) -> None:
        start, end = item.data(SpanRole)
        self.segmentClicked.emit(start, end)
