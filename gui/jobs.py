"""Job events as Qt signals, and the panel that lists the jobs (DESIGN.md §4).

``JobsBridge`` subscribes to a :class:`engine.jobs.JobQueue`. The queue calls its listeners on
its own dispatcher thread; the bridge only appends the event to a list there and, when that list
was empty, emits an internal signal that reaches the GUI thread through a queued connection.
On the GUI thread it drains the list and re-emits every event, in order, as ``event(object)``
(plus ``finished``/``failed`` conveniences and one ``batch(object)`` per drain). One posted Qt
event per burst instead of one per job event keeps the GUI thread light when a thousand jobs
report at once. Nothing here ever waits on a job.

``JobsPanel`` shows the jobs in a ``QTreeView`` over a small table model. Progress bars and
Cancel buttons are painted by a delegate rather than being one widget per row, rows are
updated in place (``dataChanged`` per changed row), and a batch of events is coalesced to the
newest event per job before anything is touched, so a thousand jobs stay cheap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import Job, JobEvent, JobQueue, JobState

__all__ = ["JobsBridge", "JobsModel", "JobsPanel", "JobRow"]


# ------------------------------------------------------------------------------------------
# The bridge: dispatcher thread -> GUI thread
# ------------------------------------------------------------------------------------------
class JobsBridge(QObject):
    """Re-emits a JobQueue's events as Qt signals on the thread this object lives in (the GUI).

    Signals (all delivered on the GUI thread, in the order the queue produced the events):

    - ``event(object)``: every :class:`JobEvent`.
    - ``finished(int job_id, object result)``: after the ``event`` of a finished job.
    - ``failed(int job_id, str error)``: after the ``event`` of a failed job.
    - ``batch(object)``: the list of events just re-emitted one by one; views that redraw
      should prefer it, to do their work once per burst.

    A view that submitted a job follows it with :meth:`watch` (one callback per outcome) rather
    than sorting every event out by id.
    """

    event = Signal(object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    batch = Signal(object)

    _wake = Signal()  # emitted on the dispatcher thread, delivered queued on ours

    def __init__(self, queue: JobQueue, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._lock = threading.Lock()
        self._pending: list[JobEvent] = []
        self._wake_posted = False
        self._closed = False
        self._draining = False
        self._watchers: dict[int, Watch] = {}
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

        # The listener must not keep the bridge alive nor touch it once Qt has deleted it.
        state = {"bridge": self}
        self._listener_state = state

        def listener(ev: JobEvent) -> None:
            bridge = state.get("bridge")
            if bridge is not None:
                bridge._on_queue_event(ev)

        self._unsubscribe: Callable[[], None] | None = queue.subscribe(listener)
        unsubscribe = self._unsubscribe

        def on_destroyed(*_: Any) -> None:
            state.pop("bridge", None)
            unsubscribe()

        self.destroyed.connect(on_destroyed)

    @property
    def closed(self) -> bool:
        return self._closed

    def watch(self, job_id: int, on_finished: Callable[[Any], None] | None = None,
              on_failed: Callable[[str, JobEvent], None] | None = None,
              on_cancelled: Callable[[], None] | None = None,
              on_progress: Callable[[float | None, str], None] | None = None) -> None:
        """Call back, on the GUI thread, as the job progresses and when it ends: ``on_finished(result)``,
        ``on_failed(message, event)`` (the error's message alone; the event has its type and
        traceback), ``on_cancelled()``. Call it right after ``submit`` on the GUI thread: no event
        of the job can be delivered in between."""
        self._watchers[job_id] = Watch(on_finished, on_failed, on_cancelled, on_progress)

    def close(self) -> None:
        """Stop listening to the queue; events not yet delivered are dropped. Idempotent."""
        self._closed = True
        self._listener_state.pop("bridge", None)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            self._pending.clear()

    # -- dispatcher thread -----------------------------------------------------------------
    def _on_queue_event(self, ev: JobEvent) -> None:
        if self._closed:
            return
        with self._lock:
            self._pending.append(ev)
            if self._wake_posted:
                return
            self._wake_posted = True
        try:
            self._wake.emit()
        except RuntimeError:  # the C++ object is gone (app shutting down): stop listening
            self._listener_state.pop("bridge", None)

    # -- GUI thread ------------------------------------------------------------------------
    @Slot()
    def _drain(self) -> None:
        if self._draining:  # a slot spun the event loop; the outer loop picks the rest up
            return
        self._draining = True
        try:
            while True:
                with self._lock:
                    events, self._pending = self._pending, []
                    self._wake_posted = False
                if not events or self._closed:
                    return
                for ev in events:
                    if self._closed:
                        return
                    self._notify_watcher(ev)
                    self.event.emit(ev)
                    if ev.kind == "finished":
                        self.finished.emit(ev.job_id, ev.result)
                    elif ev.kind == "failed":
                        self.failed.emit(ev.job_id, ev.error or "failed")
                self.batch.emit(events)
        finally:
            self._draining = False

    def _notify_watcher(self, ev: JobEvent) -> None:
        watch = self._watchers.get(ev.job_id)
        if watch is None:
            return
        if ev.kind == "progress" and watch.on_progress is not None:
            watch.on_progress(ev.progress, ev.message)
        elif ev.kind in ("finished", "failed", "cancelled"):
            del self._watchers[ev.job_id]
            if ev.kind == "finished" and watch.on_finished is not None:
                watch.on_finished(ev.result)
            elif ev.kind == "failed" and watch.on_failed is not None:
                watch.on_failed(ev.error_message or ev.error or "failed", ev)
            elif ev.kind == "cancelled" and watch.on_cancelled is not None:
                watch.on_cancelled()


@dataclass
class Watch:
    """What a view asked to hear about one job (``JobsBridge.watch``)."""

    on_finished: Callable[[Any], None] | None
    on_failed: Callable[[str, JobEvent], None] | None
    on_cancelled: Callable[[], None] | None
    on_progress: Callable[[float | None, str], None] | None


# ------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------
@dataclass
class JobRow:
    """What the panel knows about one job: the newest event's snapshot."""

    job_id: int
    title: str
    state: JobState
    progress: float | None = None
    message: str = ""
    error: str | None = None
    traceback: str | None = None
    seq: int = 0
    cancel_requested: bool = False

    @property
    def active(self) -> bool:
        return not self.state.done


_STATE_TEXT = {
    JobState.QUEUED: "Queued",
    JobState.RUNNING: "Running",
    JobState.FINISHED: "Finished",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
}
_ERROR_COLOR = QColor(200, 30, 30)
_NO_PARENT = QModelIndex()
_MUTED_STATES = (JobState.CANCELLED,)


class JobsModel(QAbstractTableModel):
    """One row per job, in submission order. Updated in place from batches of events."""

    COL_TITLE, COL_STATE, COL_PROGRESS, COL_MESSAGE, COL_CANCEL = range(5)
    HEADERS = ("Job", "State", "Progress", "Message", "")

    JobIdRole = Qt.ItemDataRole.UserRole + 1
    StateRole = Qt.ItemDataRole.UserRole + 2  # JobState value ("running"...): wrap in JobState()
    ProgressRole = Qt.ItemDataRole.UserRole + 3  # float in 0..1, or None when unknown
    ActiveRole = Qt.ItemDataRole.UserRole + 4
    CancelRequestedRole = Qt.ItemDataRole.UserRole + 5

    countsChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []
        self._index: dict[int, int] = {}  # job id -> row
        self._counts: dict[JobState, int] = {s: 0 for s in JobState}

    # -- queries ---------------------------------------------------------------------------
    def row_of(self, job_id: int) -> int:
        """The row showing ``job_id``, or -1."""
        return self._index.get(job_id, -1)

    def job_row(self, job_id: int) -> JobRow | None:
        r = self._index.get(job_id)
        return None if r is None else self._rows[r]

    def row_at(self, row: int) -> JobRow:
        return self._rows[row]

    def job_ids(self) -> list[int]:
        return [r.job_id for r in self._rows]

    def counts(self) -> dict[JobState, int]:
        return dict(self._counts)

    # -- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.COL_TITLE:
                return row.title
            if col == self.COL_STATE:
                if row.cancel_requested and row.active:
                    return "Cancelling…"
                return _STATE_TEXT[row.state]
            if col == self.COL_PROGRESS:
                if row.progress is None:
                    return "" if row.state is not JobState.FINISHED else "100%"
                return f"{round(row.progress * 100)}%"
            if col == self.COL_MESSAGE:
                if row.state is JobState.FAILED:
                    return row.error or "failed"
                return row.message
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.state is JobState.FAILED:
                return row.traceback or row.error or "failed"
            if col == self.COL_CANCEL:
                return "Cancel this job" if row.active and not row.cancel_requested else None
            if col == self.COL_MESSAGE and row.message:
                return row.message
            if col == self.COL_TITLE:
                return f"#{row.job_id}: {row.title}"
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.state is JobState.FAILED and col in (self.COL_STATE, self.COL_MESSAGE):
                return QBrush(_ERROR_COLOR)
            if row.state in _MUTED_STATES and col != self.COL_CANCEL:
                return QBrush(QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            return None
        if role == self.JobIdRole:
            return row.job_id
        if role == self.StateRole:
            return row.state.value
        if role == self.ProgressRole:
            return row.progress
        if role == self.ActiveRole:
            return row.active
        if role == self.CancelRequestedRole:
            return row.cancel_requested
        return None

    # -- updates ---------------------------------------------------------------------------
    def apply_events(self, events: list[JobEvent]) -> None:
        """Apply a burst of events: new jobs are appended in one go, others change in place."""
        newest: dict[int, JobEvent] = {}
        for ev in events:  # every event is a full snapshot of its job, so the newest wins
            prev = newest.get(ev.job_id)
            if prev is None or ev.seq > prev.seq:
                newest[ev.job_id] = ev
        new_rows: list[JobRow] = []
        changed: list[int] = []
        for job_id, ev in newest.items():
            r = self._index.get(job_id)
            if r is None:
                new_rows.append(JobRow(
                    job_id=job_id, title=ev.title, state=ev.state, progress=ev.progress,
                    message=ev.message, error=ev.error, traceback=ev.traceback, seq=ev.seq,
                ))
                continue
            row = self._rows[r]
            if ev.seq <= row.seq or (row.state.done and not ev.state.done):
                continue  # stale: a job never leaves an ended state
            self._counts[row.state] -= 1
            self._counts[ev.state] += 1
            row.title, row.state, row.progress = ev.title, ev.state, ev.progress
            row.message, row.error, row.traceback, row.seq = ev.message, ev.error, ev.traceback, ev.seq
            changed.append(r)
        self._emit_changed(changed)
        if new_rows:
            self._append(new_rows)
        if changed or new_rows:
            self.countsChanged.emit()

    def add_jobs(self, jobs: list[Job]) -> None:
        """Seed rows from jobs that already exist (their live state; seq 0 so events win)."""
        fresh = [
            JobRow(job_id=j.id, title=j.title, state=j.state, progress=j.progress,
                   message=j.message, error=j.error, traceback=j.traceback,
                   cancel_requested=j.token.cancelled)
            for j in sorted(jobs, key=lambda j: j.id) if j.id not in self._index
        ]
        if fresh:
            self._append(fresh)
            self.countsChanged.emit()

    def mark_cancel_requested(self, job_id: int) -> None:
        r = self._index.get(job_id)
        if r is None or self._rows[r].cancel_requested:
            return
        self._rows[r].cancel_requested = True
        self._emit_changed([r])

    def remove_done(self) -> int:
        """Remove the rows of ended jobs; returns how many went."""
        doomed = [i for i, row in enumerate(self._rows) if row.state.done]
        if not doomed:
            return 0
        for start, end in reversed(_runs(doomed)):
            self.beginRemoveRows(QModelIndex(), start, end)
            for row in self._rows[start:end + 1]:
                self._counts[row.state] -= 1
            del self._rows[start:end + 1]
            self.endRemoveRows()
        self._index = {row.job_id: i for i, row in enumerate(self._rows)}
        self.countsChanged.emit()
        return len(doomed)

    def _append(self, rows: list[JobRow]) -> None:
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for i, row in enumerate(rows):
            self._rows.append(row)
            self._index[row.job_id] = first + i
            self._counts[row.state] += 1
        self.endInsertRows()

    def _emit_changed(self, rows: list[int]) -> None:
        last_col = self.columnCount() - 1
        for start, end in _runs(sorted(rows)):
            self.dataChanged.emit(self.index(start, 0), self.index(end, last_col))


def _runs(sorted_ints: list[int]) -> list[tuple[int, int]]:
    """[1,2,3,7,8] -> [(1,3),(7,8)]"""
    runs: list[tuple[int, int]] = []
    for i in sorted_ints:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


# ------------------------------------------------------------------------------------------
# The delegate: painted progress bars and Cancel buttons
# ------------------------------------------------------------------------------------------
class _JobsDelegate(QStyledItemDelegate):
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


# ------------------------------------------------------------------------------------------
# The panel
# ------------------------------------------------------------------------------------------
class JobsPanel(QWidget):
    """Queued, running and ended jobs with their progress, errors and Cancel buttons."""

    cancelRequested = Signal(int)  # job id, after queue.cancel() was called for it

    ANIMATION_MS = 50

    def __init__(self, bridge: JobsBridge, queue: JobQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.queue = queue
        self.setObjectName("JobsPanel")

        self.model = JobsModel(self)
        self.delegate = _JobsDelegate(self)

        self.header_label = QLabel(self)
        self.header_label.setObjectName("jobsCounts")
        self.clear_button = QPushButton("Clear finished", self)
        self.clear_button.setObjectName("clearFinished")
        self.clear_button.setToolTip("Remove finished, failed and cancelled jobs from the list")

        self.view = QTreeView(self)
        self.view.setObjectName("jobsView")
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)  # keeps layout O(1) per change with many rows
        self.view.setAlternatingRowColors(True)
        self.view.setAllColumnsShowFocus(True)
        self.view.setMouseTracking(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(JobsModel.COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(JobsModel.COL_CANCEL, QHeaderView.ResizeMode.Fixed)
        self.view.setColumnWidth(JobsModel.COL_TITLE, 200)
        self.view.setColumnWidth(JobsModel.COL_STATE, 90)
        self.view.setColumnWidth(JobsModel.COL_PROGRESS, 140)
        self.view.setColumnWidth(JobsModel.COL_CANCEL, 76)
        self.view.installEventFilter(self)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header_label, 1)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

        self._busy_timer = QTimer(self)
        self._busy_timer.setInterval(self.ANIMATION_MS)
        self._busy_timer.timeout.connect(self._animate_busy)

        self.delegate.cancelClicked.connect(self.cancel_job)
        self.clear_button.clicked.connect(self.clear_finished)
        self.model.countsChanged.connect(self._update_counts)
        bridge.batch.connect(self._on_batch)

        self.model.add_jobs(queue.jobs())  # jobs submitted before the panel existed
        self._update_counts()
        self._update_busy_timer()

    # -- actions ---------------------------------------------------------------------------
    @Slot(int)
    def cancel_job(self, job_id: int) -> bool:
        """Ask the queue to cancel ``job_id`` (never waits for it to stop)."""
        ok = self.queue.cancel(job_id)
        if ok:
            self.model.mark_cancel_requested(job_id)
            self.cancelRequested.emit(job_id)
        return ok

    @Slot()
    def clear_finished(self) -> None:
        """Forget ended jobs in the queue and remove their rows."""
        self.queue.forget_finished()
        self.model.remove_done()

    def cancel_button_rect(self, job_id: int) -> QRect:
        """Where the Cancel button of ``job_id`` is, in viewport coordinates (empty if none)."""
        r = self.model.row_of(job_id)
        if r < 0:
            return QRect()
        cell = self.view.visualRect(self.model.index(r, JobsModel.COL_CANCEL))
        return _JobsDelegate.button_rect(cell) if cell.isValid() else QRect()

    def counts_text(self) -> str:
        return self.header_label.text()

    # -- events ----------------------------------------------------------------------------
    @Slot(object)
    def _on_batch(self, events: list[JobEvent]) -> None:
        self.model.apply_events(events)
        self._update_busy_timer()

    def _update_counts(self) -> None:
        c = self.model.counts()
        parts = [f"{c[s]} {s.value}" for s in (JobState.RUNNING, JobState.QUEUED, JobState.FINISHED,
                                                JobState.FAILED, JobState.CANCELLED) if c[s]]
        self.header_label.setText(" · ".join(parts) if parts else "No jobs")
        self.clear_button.setEnabled(any(c[s] for s in JobState if s.done))

    def _busy_rows(self) -> list[int]:
        if not self.model.counts()[JobState.RUNNING]:
            return []
        m = self.model
        return [i for i in range(m.rowCount())
                if m.row_at(i).state is JobState.RUNNING and m.row_at(i).progress is None]

    def _update_busy_timer(self) -> None:
        busy = bool(self._busy_rows())
        if busy and not self._busy_timer.isActive():
            self._busy_timer.start()
        elif not busy and self._busy_timer.isActive():
            self._busy_timer.stop()

    def _animate_busy(self) -> None:
        rows = self._busy_rows()
        if not rows:
            self._busy_timer.stop()
            return
        vp = self.view.viewport()
        for r in rows:
            rect = self.view.visualRect(self.model.index(r, JobsModel.COL_PROGRESS))
            if rect.isValid() and rect.intersects(vp.rect()):
                vp.update(rect)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Delete:  # Delete cancels the selected active jobs
                ids = {int(i.data(JobsModel.JobIdRole)) for i in self.view.selectionModel().selectedRows()}
                for job_id in sorted(ids):
                    row = self.model.job_row(job_id)
                    if row is not None and row.active and not row.cancel_requested:
                        self.cancel_job(job_id)
                return bool(ids)
        return super().eventFilter(obj, event)
