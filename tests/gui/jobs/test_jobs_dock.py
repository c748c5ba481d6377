"""The Jobs dock shows itself for work worth watching and hides again; quick jobs are not kept,
failures are; View › Jobs pins it, remembered."""

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QPushButton, QTextEdit
from qt_wait import wait, wait_until

from engine.jobs import JobQueue, JobState
from gui.common.settings import app_settings
from gui.jobs.bridge import JobsBridge
from gui.jobs.dock import JobsDock
from gui.jobs.panel import JobsPanel

WAIT_S = 60  # a job event reaching the GUI on a busy machine


@pytest.fixture
def queue():
    q = JobQueue(lanes={"gpu": 1, "cpu": 2})
    yield q
    q.shutdown(cancel_running=True, timeout=5.0)


@pytest.fixture
def make_dock(qtbot, queue):
    """``make_dock()``: a window with the Jobs dock as the app has it (quick jobs: under 0.5 s)."""
    made = []

    def make():
        bridge = JobsBridge(queue)
        host = QMainWindow()
        qtbot.addWidget(host)
        dock = JobsDock(JobsPanel(bridge, queue, quick_s=0.5), app_settings(), host)
        dock.LINGER_S = 0.2
        host.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        dock.update_visibility()
        host.show()
        made.append((bridge, host))
        return dock

    yield make
    for bridge, _host in made:
        bridge.close()


def held(release: threading.Event):
    def fn(ctx):
        while not release.is_set():
            ctx.checkpoint()
            release.wait(0.01)
        return "done"
    return fn


def boom(ctx):
    raise RuntimeError("the file is damaged")


def delivered(dock, job):
    """The panel has heard the job's end."""
    seen = []
    dock.panel.bridge.watch(job.id, on_finished=seen.append, on_failed=lambda *a: seen.append(a),
                            on_cancelled=lambda: seen.append(None))
    return seen


def test_work_worth_watching_shows_the_dock_then_it_hides(make_dock, queue):
    dock = make_dock()
    assert dock.isHidden() and dock.summary.isHidden()  # no job: the page has the room
    release = threading.Event()
    job = queue.submit(held(release), title="Generate music")
    wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing for a job that goes on")
    assert dock.toggle_action.isChecked()
    assert dock.panel.model.row_of(job.id) == 0
    release.set()
    wait_until(lambda: dock.panel.model.row_at(0).state is JobState.FINISHED, WAIT_S, "the end of the job")
    wait_until(dock.isHidden, WAIT_S, "the dock hiding after the job ended")
    assert dock.panel.model.row_of(job.id) == 0  # still listed, for when the dock is opened
    assert not dock.summary.isHidden() and "1 finished" in dock.summary.text()
    dock.summary.click()  # the status bar's summary opens it (pinned)
    assert not dock.isHidden() and dock.pinned


def test_quick_jobs_are_not_kept_failures_are(make_dock, queue):
    dock = make_dock()
    dock.panel.quick_s = dock.WORTH_WATCHING_S = 60.0  # "quick" whatever the machine's load (DESIGN.md §9)
    job = queue.submit(lambda ctx: 1, title="Open x.wav")
    seen = delivered(dock, job)
    wait_until(lambda: seen, WAIT_S, "the job's end")
    wait(50)
    assert dock.panel.model.row_of(job.id) == -1 and dock.panel.model.rowCount() == 0
    assert dock.isHidden() and dock.summary.isHidden()

    failed = queue.submit(boom, title="Load take")
    seen = delivered(dock, failed)
    wait_until(lambda: seen, WAIT_S, "the failure")
    wait(50)
    assert dock.panel.model.job_row(failed.id).state is JobState.FAILED  # listed, however quick
    assert dock.isHidden()  # its page says it; the status bar's summary too
    assert "1 failed" in dock.summary.text() and not dock.summary.isHidden()


def test_a_watched_job_that_fails_keeps_the_dock_open(make_dock, queue):
    dock = make_dock()
    release = threading.Event()

    def fails_later(ctx):
        release.wait(WAIT_S)
        raise RuntimeError("the model fell over")

    queue.submit(fails_later, title="Generate music")
    wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing")
    release.set()
    wait_until(lambda: dock.panel.model.counts()[JobState.FAILED] == 1, WAIT_S, "the failure")
    wait(3 * int(dock.LINGER_S * 1000))
    assert not dock.isHidden()
    dock.panel.clear_finished()
    assert dock.isHidden()


def test_live_transcription_is_listed_without_the_dock(make_dock, queue):
    """It lasts as long as the recording, and the Record page shows it beside the audio."""
    dock = make_dock()
    release = threading.Event()
    live = queue.submit(held(release), kind="live", title="Live transcript of 'Take 1'")
    wait_until(lambda: dock.panel.model.row_of(live.id) == 0, WAIT_S, "the live job listed")
    wait(int(dock.WORTH_WATCHING_S * 1000) + 300)
    assert dock.isHidden() and "1 running" in dock.summary.text()
    release.set()


def test_hidden_by_hand_it_stays_hidden_until_new_work(make_dock, queue):
    dock = make_dock()
    first, second = threading.Event(), threading.Event()
    queue.submit(held(first), title="Transcribe a.wav")
    wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing")
    dock.close()  # its close button
    assert dock.isHidden() and not dock.pinned
    wait(300)
    assert dock.isHidden()  # the job it had when hidden does not bring it back
    assert "1 running" in dock.summary.text() and not dock.summary.isHidden()
    queue.submit(held(second), title="Transcribe b.wav")
    wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing for new work")
    first.set()
    second.set()


def test_view_jobs_pins_the_dock_and_it_is_remembered(make_dock):
    dock = make_dock()
    assert dock.isHidden() and not dock.toggle_action.isChecked()
    dock.toggle_action.trigger()
    assert not dock.isHidden() and dock.pinned
    again = make_dock()  # a restart
    assert again.pinned and not again.isHidden() and again.toggle_action.isChecked()
    again.toggle_action.trigger()
    assert again.isHidden()
    assert not make_dock().pinned


def test_delete_in_the_jobs_list_cancels_even_where_a_page_binds_delete(make_dock, queue, qtbot):
    """The Record page's Delete (delete the take) is window-wide; in the Jobs list, Delete cancels."""
    dock = make_dock()
    host = dock.parentWidget()
    page = QPushButton("a page")
    host.setCentralWidget(page)
    page_delete = []
    QShortcut(QKeySequence("Del"), page, activated=lambda: page_delete.append(1))
    host.activateWindow()
    wait_until(lambda: page.isVisible() and QApplication.activeWindow() is host, WAIT_S, "the window active")
    qtbot.keyClick(page, Qt.Key.Key_Delete)
    assert page_delete == [1]  # the page's key works (the window is active)

    release = threading.Event()
    job = queue.submit(held(release), title="Generate music")
    wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing")
    panel = dock.panel
    panel.view.setCurrentIndex(panel.view_index(job.id))
    host.activateWindow()  # (offscreen, a dock appearing leaves no window active)
    panel.view.setFocus()
    wait_until(lambda: QApplication.activeWindow() is host and panel.view.hasFocus(), WAIT_S, "the focus in the list")
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    wait_until(lambda: panel.model.job_row(job.id).state is JobState.CANCELLED, WAIT_S, "the cancellation")
    assert page_delete == [1]


def test_running_jobs_are_listed_first_and_the_page_keeps_its_height(make_dock, queue, qtbot):
    """Issue #29 item 5: the oldest job was listed first with 3 rows in view, so a running job was
    scrolled out of sight; and the dock took its room from the page."""
    dock = make_dock()
    host = dock.parentWidget()
    page = QTextEdit("the page")  # grows with the window, as the app's pages do
    host.setCentralWidget(page)
    host.resize(900, 400)
    host.move(0, 0)
    wait(0.2)
    page_height = page.height()
    ended = [queue.submit(lambda ctx: "done", title=f"Quick {i}") for i in range(4)]
    for job in ended:
        job.wait(WAIT_S)
    release = threading.Event()
    running = queue.submit(held(release), title="Generate music")
    try:
        wait_until(lambda: not dock.isHidden(), WAIT_S, "the dock showing for a job that goes on")
        panel = dock.panel
        wait_until(lambda: panel.model.row_of(running.id) >= 0, WAIT_S, "the running job listed")
        wait(0.3)
        assert panel.view_rows()[0] == running.id  # first, in view
        assert panel.view.visualRect(panel.view_index(running.id)).top() >= 0
        assert abs(page.height() - page_height) <= 2, (page.height(), page_height)
        queued = queue.submit(lambda ctx: "done", title="Export", lane="gpu")  # waits for the gpu lane
        wait_until(lambda: panel.model.row_of(queued.id) >= 0, WAIT_S, "the queued job listed")
        assert panel.view_rows()[:2] == [running.id, queued.id]
    finally:
        release.set()
    wait_until(lambda: dock.isHidden(), WAIT_S, "the dock hiding again")
    wait(0.2)
    assert abs(page.height() - page_height) <= 2 and abs(host.height() - 400) <= 2
    ids = panel.view_rows()  # ended ones: newest first
    assert ids == sorted(ids, reverse=True)


def test_a_failure_stops_being_red_once_seen(make_dock, queue):
    """Issue #29 item 6: a red '· 1 failed' stayed in the status bar for as long as the app ran."""
    dock = make_dock()

    def fail_quickly():
        job = queue.submit(boom, title="Open file")
        seen = delivered(dock, job)
        wait_until(lambda: seen, WAIT_S, "the failure")
        wait(0.1)
        return job

    first = fail_quickly()
    assert dock.isHidden() and not dock.summary.isHidden()
    assert "1 failed" in dock.summary.text() and "c81e1e" in dock.summary.styleSheet()
    dock.summary.click()  # seen: the panel shows it
    assert not dock.isHidden()
    dock.set_pinned(False)
    wait(0.1)
    assert dock.panel.model.job_row(first.id).state is JobState.FAILED  # still listed in the panel
    assert "failed" not in dock.summary.text() and "c81e1e" not in dock.summary.styleSheet()

    fail_quickly()  # a new one is red again, until the panel is opened from View › Jobs
    assert "1 failed" in dock.summary.text() and "c81e1e" in dock.summary.styleSheet()
    dock.toggle_action.trigger()
    dock.toggle_action.trigger()
    assert dock.isHidden() and "failed" not in dock.summary.text() and "c81e1e" not in dock.summary.styleSheet()
