"""The Jobs panel: queued, running and ended jobs with progress, errors and Cancel buttons.

It shows the jobs in a ``QTreeView`` over :class:`JobsModel`; progress bars and Cancel buttons
are painted by :class:`JobsDelegate`, and rows are updated in place as the bridge's batches come.
With ``quick_s`` set, a job that ends well (or is cancelled) within that many seconds of being
submitted is not kept: opening a file or loading a take is no work to watch. Failures stay.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QSortFilterProxyModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import JobEvent, JobQueue, JobState
from gui.jobs.bridge import JobsBridge
from gui.jobs.delegate import JobsDelegate
from gui.jobs.model import JobsModel

__all__ = ["JobsOrder", "JobsPanel"]


class JobsOrder(QSortFilterProxyModel):
    """The order the list shows: running jobs first (oldest first), then queued ones (in the order
    they will run), then ended ones, newest first. (Oldest first, with three rows in view, hid a
    running job below the ended ones.)"""

    def __init__(self, model: JobsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(model)
        self.setDynamicSortFilter(True)  # a job that starts or ends moves to its place
        self.sort(0, Qt.SortOrder.AscendingOrder)

    def key(self, source_row: int) -> tuple[int, int]:
        row = self.sourceModel().row_at(source_row)
        if row.state is JobState.RUNNING:
            return (0, row.job_id)
        if row.state is JobState.QUEUED:
            return (1, row.job_id)
        return (2, -row.job_id)

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:  # noqa: N802 - Qt naming
        return self.key(left.row()) < self.key(right.row())


class JobsPanel(QWidget):
    """Queued, running and ended jobs with their progress, errors and Cancel buttons."""

    cancelRequested = Signal(int)  # job id, after queue.cancel() was called for it

    ANIMATION_MS = 50

    def __init__(self, bridge: JobsBridge, queue: JobQueue, parent: QWidget | None = None,
                 quick_s: float = 0.0) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.queue = queue
        self.quick_s = quick_s
        self.setObjectName("JobsPanel")

        self.model = JobsModel(self)
        self.order = JobsOrder(self.model, self)  # what the view shows: running jobs first
        self.delegate = JobsDelegate(self)

        self.header_label = QLabel(self)
        self.header_label.setObjectName("jobsCounts")
        self.clear_button = QPushButton("Clear finished", self)
        self.clear_button.setObjectName("clearFinished")
        self.clear_button.setToolTip("Remove finished, failed and cancelled jobs from the list")

        self.view = self._build_view()
        self.view.installEventFilter(self)  # Delete cancels the selected jobs

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

    # -- construction ----------------------------------------------------------------------
    def _build_view(self) -> QTreeView:
        """The job list: uniform rows (cheap with many jobs), progress and Cancel painted by the delegate."""
        view = QTreeView(self)
        view.setObjectName("jobsView")
        view.setModel(self.order)
        view.setItemDelegate(self.delegate)
        view.setRootIsDecorated(False)
        view.setUniformRowHeights(True)  # keeps layout O(1) per change with many rows
        view.setAlternatingRowColors(True)
        view.setAllColumnsShowFocus(True)
        view.setMouseTracking(True)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(JobsModel.COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(JobsModel.COL_CANCEL, QHeaderView.ResizeMode.Fixed)
        view.setColumnWidth(JobsModel.COL_TITLE, 200)
        view.setColumnWidth(JobsModel.COL_STATE, 90)
        view.setColumnWidth(JobsModel.COL_PROGRESS, 140)
        view.setColumnWidth(JobsModel.COL_CANCEL, 76)
        return view

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

    def view_index(self, job_id: int, column: int = 0) -> QModelIndex:
        """The view's index of ``job_id``'s cell in ``column`` (invalid when not listed)."""
        r = self.model.row_of(job_id)
        return QModelIndex() if r < 0 else self.order.mapFromSource(self.model.index(r, column))

    def view_rows(self) -> list[int]:
        """The listed job ids in the order the view shows them, top first."""
        return [int(self.order.index(i, 0).data(JobsModel.JobIdRole)) for i in range(self.order.rowCount())]

    def cancel_button_rect(self, job_id: int) -> QRect:
        """Where the Cancel button of ``job_id`` is, in viewport coordinates (empty if none)."""
        index = self.view_index(job_id, JobsModel.COL_CANCEL)
        if not index.isValid():
            return QRect()
        cell = self.view.visualRect(index)
        return JobsDelegate.button_rect(cell) if cell.isValid() else QRect()

    def counts_text(self) -> str:
        return self.header_label.text()

    # -- events ----------------------------------------------------------------------------
    @Slot(object)
    def _on_batch(self, events: list[JobEvent]) -> None:
        quick = self._quick_jobs(events)
        if quick:
            self.model.remove_jobs(quick)
            events = [ev for ev in events if ev.job_id not in quick]
        self.model.apply_events(events)
        self._update_busy_timer()

    def _quick_jobs(self, events: list[JobEvent]) -> set[int]:
        """Jobs of this batch that ended well or were cancelled within ``quick_s`` of their submission."""
        if self.quick_s <= 0:
            return set()
        quick = set()
        for ev in events:
            if ev.state in (JobState.FINISHED, JobState.CANCELLED):
                job = self.queue.get(ev.job_id)
                if job is not None and job.ended_at is not None and job.ended_at - job.submitted_at < self.quick_s:
                    quick.add(ev.job_id)
        return quick

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
            rect = self.view.visualRect(self.order.mapFromSource(self.model.index(r, JobsModel.COL_PROGRESS)))
            if rect.isValid() and rect.intersects(vp.rect()):
                vp.update(rect)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Delete:  # ours while the list has the focus, whatever a page binds it to
                event.accept()
                return True
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
