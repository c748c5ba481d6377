"""The Jobs panel's table model: one row per job, updated in place from bursts of events.

A batch of events is coalesced to the newest event per job before anything is touched, and
changed rows are reported as runs (``dataChanged`` per run), so a thousand jobs stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.jobs import Job, JobEvent, JobState

__all__ = ["JobRow", "JobsModel"]


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
        return self._remove([i for i, row in enumerate(self._rows) if row.state.done])

    def remove_jobs(self, job_ids: set[int]) -> int:
        """Remove the rows of these jobs (those listed); returns how many went."""
        return self._remove(sorted(self._index[j] for j in job_ids if j in self._index))

    def _remove(self, doomed: list[int]) -> int:
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
