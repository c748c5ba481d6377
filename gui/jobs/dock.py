"""The Jobs panel's dock: there while there is work worth watching, out of the way otherwise.

A job still queued or running ``WORTH_WATCHING_S`` after it was submitted shows the dock; a
watched job that ended keeps it ``LINGER_S`` longer, then it hides and gives the window back to
the page, unless it failed (a quick failure is listed, but its page says it: no dock for it). View › Jobs (``toggle_action``) pins it open, or unpins and hides it;
the pin is remembered. Hidden by the person, it stays hidden for the jobs it had then, and
comes back for new work. ``summary`` (for the status bar) says what there is while it is hidden.
Showing itself, it never shrinks the page: the window grows by the dock's height (as far as the
screen allows) and gives it back when the dock hides. The list shows running jobs first.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QStyle, QToolButton, QWidget

from engine.jobs import JobState
from gui.common.settings import Keys
from gui.jobs.panel import JobsPanel

__all__ = ["JobsDock"]


class JobsDock(QDockWidget):
    """The Jobs panel in a dock that shows and hides itself with the work worth watching."""

    WORTH_WATCHING_S = 0.5
    LINGER_S = 4.0
    POLL_MS = 100
    FIT_ROWS = 3
    # live transcription runs as long as a recording; the Record page shows its state beside the
    # audio, so it is listed but brings no dock over the spectrogram
    QUIET_KINDS = ("live",)

    def __init__(self, panel: JobsPanel, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__("Jobs", parent)
        self.setObjectName("jobsDock")
        self.setWidget(panel)
        self.panel, self.settings = panel, settings
        self.pinned = str(settings.value(Keys.WINDOW_JOBS_PINNED, "false")).lower() == "true"
        self._dismissed: set[int] = set()  # jobs listed when the person hid the dock
        self._seen_failures: set[int] = set()  # failed jobs shown in the open panel: no longer red in the status bar
        self._grown = 0  # pixels the window grew by when the dock showed itself: given back when it hides

        self.toggle_action = QAction("&Jobs", self, checkable=True)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+J"))
        self.toggle_action.setToolTip("Keep the Jobs panel open; unticked, it shows only while work is worth watching")
        self.toggle_action.triggered.connect(self.set_pinned)

        self.summary = QToolButton()
        self.summary.setObjectName("jobsSummary")
        self.summary.setAutoRaise(True)
        self.summary.setToolTip("Show the Jobs panel (Ctrl+J)")
        self.summary.clicked.connect(lambda: self.set_pinned(True))

        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self.update_visibility)
        panel.model.countsChanged.connect(self.update_visibility)
        self.update_visibility()

    def set_pinned(self, on: bool) -> None:
        """View › Jobs: kept open; or hidden now, until new work is worth watching."""
        self.pinned = bool(on)
        self.settings.setValue(Keys.WINDOW_JOBS_PINNED, self.pinned)
        if not self.pinned:
            self._dismissed = set(self.panel.model.job_ids())
        self.update_visibility()

    def update_visibility(self) -> None:
        """Show or hide the dock for what the panel lists now; poll while that may change."""
        watch, changing = self._worth_watching()
        if changing and not self._timer.isActive():
            self._timer.start()
        elif not changing and self._timer.isActive():
            self._timer.stop()
        want = self.pinned or watch
        if want == self.isHidden():
            window = self.parentWidget()
            page = window.centralWidget() if isinstance(window, QMainWindow) else None
            self._page_height = page.height() if page is not None and want else None  # before the dock takes room
            self.setVisible(want)
            if want and not self.pinned:
                self._fit_rows()
            elif not want:
                self._give_back_height()
        self.toggle_action.setChecked(want)
        self._refresh_summary()

    def _refresh_summary(self) -> None:
        if not self.isHidden():
            self._mark_failures_seen()
        text, unseen = self.summary_text()
        self.summary.setText(text)
        self.summary.setStyleSheet("color: #c81e1e;" if unseen else "")
        self.summary.setVisible(self.isHidden() and self.panel.model.rowCount() > 0)

    def _mark_failures_seen(self) -> None:
        model = self.panel.model
        self._seen_failures.update(model.row_at(i).job_id for i in range(model.rowCount())
                                   if model.row_at(i).state is JobState.FAILED)

    def summary_text(self) -> tuple[str, int]:
        """The status bar's 'Jobs: 2 finished · 1 failed' and how many failures were not seen yet:
        a failure counts (in red) until the panel has shown it (opened, or the summary clicked);
        it stays listed in the panel."""
        model = self.panel.model
        counts = model.counts()
        unseen = sum(1 for i in range(model.rowCount()) if model.row_at(i).state is JobState.FAILED
                     and model.row_at(i).job_id not in self._seen_failures) if counts[JobState.FAILED] else 0
        counts[JobState.FAILED] = unseen
        parts = [f"{counts[s]} {s.value}" for s in (JobState.RUNNING, JobState.QUEUED, JobState.FINISHED,
                                                     JobState.FAILED, JobState.CANCELLED) if counts[s]]
        return f"Jobs: {' · '.join(parts) if parts else 'nothing new'}", unseen

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        self._refresh_summary()

    def _fit_rows(self) -> None:
        """Shown for work: as tall as its jobs need (up to ``FIT_ROWS``), not a quarter of the window."""
        window = self.parentWidget()
        if not isinstance(window, QMainWindow) or self.isFloating():
            return
        view, model = self.panel.view, self.panel.model
        rows = min(max(model.rowCount(), 1), self.FIT_ROWS)
        row_height = view.sizeHintForRow(0) if model.rowCount() else view.fontMetrics().height() + 8
        margins = self.panel.layout().contentsMargins()
        title = self.fontMetrics().height() + 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetTitleMargin)
        height = (title + margins.top() + margins.bottom() + self.panel.layout().spacing()
                  + max(self.panel.header_label.sizeHint().height(), self.panel.clear_button.sizeHint().height())
                  + view.header().sizeHint().height() + rows * row_height + 2 * view.frameWidth() + 4)
        before = getattr(self, "_page_height", None)
        self._give_back_height()
        window.resizeDocks([self], [height], Qt.Orientation.Vertical)
        if before is not None and window.isVisible() and not (window.isMaximized() or window.isFullScreen()):
            QTimer.singleShot(0, lambda: self._keep_page_height(window, before, height))

    def _keep_page_height(self, window: QMainWindow, before: int, height: int) -> None:
        """Showing itself never shrinks the page: the window grows by what the dock took from it (as
        far as the screen allows, moving up if the room is there); given back when the dock hides."""
        page = window.centralWidget()
        if self.isHidden() or page is None:
            return
        window.layout().activate()  # the dock's room is taken now, not at the next layout pass
        want = before - page.height()
        screen = window.screen()
        if want > 0 and screen is not None:
            area, frame = screen.availableGeometry(), window.frameGeometry()
            room = area.bottom() - frame.bottom()
            if room < want:
                up = min(want - max(room, 0), max(frame.top() - area.top(), 0))
                if up > 0:
                    window.move(window.x(), window.y() - up)
                    room += up
            want = min(want, max(room, 0))
        if want > 0:
            window.resize(window.width(), window.height() + want)
            self._grown += want
            window.resizeDocks([self], [height], Qt.Orientation.Vertical)

    def _give_back_height(self) -> None:
        """The dock hid itself: the window gives back the height it took for it."""
        window, grown, self._grown = self.parentWidget(), self._grown, 0
        if grown and isinstance(window, QMainWindow) and not (window.isMaximized() or window.isFullScreen()):
            window.resize(window.width(), max(window.minimumSizeHint().height(), window.height() - grown))

    def _worth_watching(self) -> tuple[bool, bool]:
        """(a listed job is worth watching now, that may change with time alone)."""
        model, now = self.panel.model, time.monotonic()
        watch = changing = False
        for i in range(model.rowCount()):
            row = model.row_at(i)
            if row.job_id in self._dismissed:
                continue
            job = self.panel.queue.get(row.job_id)
            if job is None or job.kind in self.QUIET_KINDS:
                continue
            if row.state is JobState.FAILED:  # kept in view if it was watched; a quick one its page reports
                watch = watch or job.ended_at - job.submitted_at >= self.WORTH_WATCHING_S
            elif row.active:
                changing = True
                watch = watch or now - job.submitted_at >= self.WORTH_WATCHING_S
            elif job.ended_at is not None and now - job.ended_at < self.LINGER_S:
                watch = changing = True
        return watch, changing

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        """The dock's own close button: as View › Jobs unticked."""
        super().closeEvent(event)
        self.set_pinned(False)
