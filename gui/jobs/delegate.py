"""The Jobs panel's painted progress bars and Cancel buttons: one delegate instead of a widget
per row, so a thousand rows cost no more widgets than one."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QWidget,
)

from engine.jobs import JobState
from gui.jobs.model import JobsModel


class JobsDelegate(QStyledItemDelegate):
    """Paints the progress column as a progress bar and the last column as a Cancel button."""

    cancelClicked = Signal(int)  # job id

    BUSY_PERIOD_S = 1.4  # one sweep of the indeterminate bar
    BUSY_CHUNK = 0.3  # its width, as a fraction of the bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pressed: QPersistentModelIndex | None = None

    # -- geometry / options (also used by tests) -------------------------------------------
    @staticmethod
    def bar_rect(cell: QRect) -> QRect:
        return cell.adjusted(3, 3, -3, -3)

    @staticmethod
    def button_rect(cell: QRect) -> QRect:
        return cell.adjusted(2, 1, -2, -1)

    def progress_option(
        self, index: QModelIndex, cell: QRect, widget: QWidget | None = None
    ) -> QStyleOptionProgressBar | None:
        """The progress bar drawn for ``index`` (None: nothing is drawn)."""
        raw_state = index.data(JobsModel.StateRole)
        if raw_state is None:
            return None
        state = JobState(raw_state)  # a QVariant hands the str-enum back as a plain str
        progress = index.data(JobsModel.ProgressRole)
        if state is JobState.FINISHED:
            progress = 1.0
        elif state is not JobState.RUNNING and progress is None:
            return None  # queued, or ended without progress: no bar
        opt = QStyleOptionProgressBar()
        opt.rect = self.bar_rect(cell)
        opt.minimum, opt.maximum = 0, 1000
        opt.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        if widget is not None:
            opt.palette = widget.palette()
            opt.fontMetrics = widget.fontMetrics()
        if progress is None:  # running, amount unknown: we paint the busy chunk ourselves
            opt.progress = 0
            opt.textVisible = False
            opt.maximum = 0  # marks "indeterminate" for readers of the option
        else:
            opt.progress = round(progress * 1000)
            opt.textVisible = True
            opt.text = f"{round(progress * 100)}%"
            opt.textAlignment = Qt.AlignmentFlag.AlignCenter
        return opt

    # -- painting --------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        col = index.column()
        if col == JobsModel.COL_PROGRESS:
            self._paint_background(painter, option, index)
            self._paint_progress(painter, option, index)
        elif col == JobsModel.COL_CANCEL:
            self._paint_background(painter, option, index)
            self._paint_button(painter, option, index)
        else:
            super().paint(painter, option, index)

    def _paint_background(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

    def _paint_progress(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        widget = option.widget
        opt = self.progress_option(index, option.rect, widget)
        if opt is None:
            return
        style = widget.style() if widget is not None else QApplication.style()
        if opt.maximum == 0:  # indeterminate: groove + a sweeping chunk
            groove = QStyleOptionProgressBar(opt)
            groove.maximum = 1000
            style.drawControl(QStyle.ControlElement.CE_ProgressBarGroove, groove, painter, widget)
            r = opt.rect.adjusted(1, 1, -1, -1)
            span = r.width() * (1 + self.BUSY_CHUNK)
            phase = (time.monotonic() % self.BUSY_PERIOD_S) / self.BUSY_PERIOD_S
            x0 = r.left() - r.width() * self.BUSY_CHUNK + span * phase
            x1 = x0 + r.width() * self.BUSY_CHUNK
            left, right = max(r.left(), int(x0)), min(r.right(), int(x1))
            if right > left:
                painter.save()
                painter.fillRect(QRect(left, r.top(), right - left, r.height()),
                                 opt.palette.color(QPalette.ColorRole.Highlight))
                painter.restore()
            return
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, opt, painter, widget)

    def _paint_button(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if not index.data(JobsModel.ActiveRole):
            return
        requested = bool(index.data(JobsModel.CancelRequestedRole))
        opt = QStyleOptionButton()
        opt.rect = self.button_rect(option.rect)
        opt.text = "Cancel"
        widget = option.widget
        if widget is not None:
            opt.palette = widget.palette()
            opt.fontMetrics = widget.fontMetrics()
        opt.state = QStyle.StateFlag.State_Raised
        if not requested:
            opt.state |= QStyle.StateFlag.State_Enabled
            if option.state & QStyle.StateFlag.State_MouseOver:
                opt.state |= QStyle.StateFlag.State_MouseOver
            if self._pressed is not None and self._pressed == QPersistentModelIndex(index):
                opt.state |= QStyle.StateFlag.State_Sunken
                opt.state &= ~QStyle.StateFlag.State_Raised
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_PushButton, opt, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), 26))

    # -- clicks ----------------------------------------------------------------------------
    def editorEvent(self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        if index.column() != JobsModel.COL_CANCEL:
            return False
        t = event.type()
        if t not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            return False
        assert isinstance(event, QMouseEvent)
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        clickable = bool(index.data(JobsModel.ActiveRole)) and not index.data(JobsModel.CancelRequestedRole)
        inside = self.button_rect(option.rect).contains(event.position().toPoint())
        if t in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            self._pressed = QPersistentModelIndex(index) if (clickable and inside) else None
            return clickable and inside
        pressed, self._pressed = self._pressed, None
        if clickable and inside and pressed is not None and pressed == QPersistentModelIndex(index):
            self.cancelClicked.emit(int(index.data(JobsModel.JobIdRole)))
            return True
        return False
