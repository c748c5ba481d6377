"""The jobs bridge (queue events -> Qt signals on the GUI thread) and the jobs panel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication

from engine.jobs import JobQueue, JobState, Priority
from gui.jobs.bridge import JobsBridge
from gui.jobs.model import JobsModel
from gui.jobs.panel import JobsPanel

WAIT_MS = 15_000


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def queue():
    q = JobQueue(lanes={"gpu": 1, "cpu": 2})
    yield q
    q.shutdown(cancel_running=True, timeout=5.0)


@pytest.fixture
def bridge(qtbot, queue):
    b = JobsBridge(queue)
    yield b
    b.close()


@pytest.fixture
def panel(qtbot, bridge, queue):
    p = JobsPanel(bridge, queue)
    qtbot.addWidget(p)
    p.resize(820, 360)
    p.show()
    qtbot.waitExposed(p)
    return p


# -- job bodies (run on worker threads) ------------------------------------------------------
def spin_until(release: threading.Event, progress: float | None = None, message: str = ""):
    """A job that loops on ctx.checkpoint() until released (or cancelled)."""

    def fn(ctx):
        if progress is not None or message:
            ctx.progress(progress, message, force=True)
        while not release.is_set():
            ctx.checkpoint()
            time.sleep(0.005)
        return "released"

    return fn


def quick(ctx, x):
    return x * 2


def boom(ctx):
    raise RuntimeError("kaput: the model fell over")


# -- helpers ---------------------------------------------------------------------------------
def row_of(panel: JobsPanel, job_id: int):
    return panel.model.job_row(job_id)


def state_of(panel: JobsPanel, job_id: int) -> JobState | None:
    row = row_of(panel, job_id)
    return None if row is None else row.state


def cell(panel: JobsPanel, job_id: int, col: int, role=Qt.ItemDataRole.DisplayRole):
    m = panel.model
    return m.data(m.index(m.row_of(job_id), col), role)


def click_cancel(qtbot, panel: JobsPanel, job_id: int) -> None:
    rect = panel.cancel_button_rect(job_id)
    assert rect.isValid() and not rect.isEmpty()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


# -- tests -----------------------------------------------------------------------------------
def test_progress_shows_in_the_rows_bar(qtbot, panel, queue):
    release = threading.Event()
    job = queue.submit(spin_until(release, 0.5, "halfway there"), title="Generate motif")
    qtbot.waitUntil(lambda: (r := row_of(panel, job.id)) is not None and r.progress == 0.5, timeout=WAIT_MS)

    m = panel.model
    idx = panel.view_index(job.id, JobsModel.COL_PROGRESS)
    rect = panel.view.visualRect(idx)
    opt = panel.delegate.progress_option(idx, rect, panel.view)
    assert opt is not None
    assert (opt.minimum, opt.maximum, opt.progress) == (0, 1000, 500)
    assert opt.text == "50%"
    assert cell(panel, job.id, JobsModel.COL_TITLE) == "Generate motif"
    assert cell(panel, job.id, JobsModel.COL_STATE) == "Running"
    assert cell(panel, job.id, JobsModel.COL_MESSAGE) == "halfway there"
    panel.view.viewport().repaint()  # paints the bar without errors

    release.set()
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.FINISHED, timeout=WAIT_MS)
    opt = panel.delegate.progress_option(idx, rect, panel.view)
    assert opt.progress == 1000
    assert cell(panel, job.id, JobsModel.COL_STATE) == "Finished"
    assert not cell(panel, job.id, 0, JobsModel.ActiveRole)  # no Cancel button any more


def test_running_job_without_progress_is_indeterminate(qtbot, panel, queue):
    release = threading.Event()
    job = queue.submit(spin_until(release), title="Load model")
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.RUNNING, timeout=WAIT_MS)
    m = panel.model
    idx = panel.view_index(job.id, JobsModel.COL_PROGRESS)
    opt = panel.delegate.progress_option(idx, panel.view.visualRect(idx), panel.view)
    assert opt is not None and opt.maximum == 0  # busy bar
    qtbot.waitUntil(panel._busy_timer.isActive, timeout=WAIT_MS)
    release.set()
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.FINISHED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not panel._busy_timer.isActive(), timeout=WAIT_MS)


def test_cancel_button_cancels_a_running_job(qtbot, panel, queue):
    release = threading.Event()  # never set: only cancelling ends this job
    job = queue.submit(spin_until(release, 0.25, "step 1"), title="Long generation")
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.RUNNING, timeout=WAIT_MS)

    with qtbot.waitSignal(panel.cancelRequested, timeout=WAIT_MS) as sig:
        click_cancel(qtbot, panel, job.id)
    assert sig.args == [job.id]
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.CANCELLED, timeout=WAIT_MS)
    assert job.state is JobState.CANCELLED
    assert cell(panel, job.id, JobsModel.COL_STATE) == "Cancelled"
    assert not cell(panel, job.id, 0, JobsModel.ActiveRole)
    assert "1 cancelled" in panel.counts_text()


def test_cancel_button_cancels_a_queued_job(qtbot, panel, queue):
    release = threading.Event()
    blocker = queue.submit(spin_until(release), title="Blocker")  # holds the one gpu worker
    waiting = queue.submit(quick, 1, title="Waiting")
    qtbot.waitUntil(lambda: state_of(panel, blocker.id) is JobState.RUNNING
                    and state_of(panel, waiting.id) is JobState.QUEUED, timeout=WAIT_MS)
    assert panel.counts_text() == "1 running · 1 queued"

    click_cancel(qtbot, panel, waiting.id)
    qtbot.waitUntil(lambda: state_of(panel, waiting.id) is JobState.CANCELLED, timeout=WAIT_MS)
    assert state_of(panel, blocker.id) is JobState.RUNNING
    release.set()
    qtbot.waitUntil(lambda: state_of(panel, blocker.id) is JobState.FINISHED, timeout=WAIT_MS)
    assert waiting.state is JobState.CANCELLED  # it never ran


def test_delete_key_cancels_selected_jobs(qtbot, panel, queue):
    release = threading.Event()
    job = queue.submit(spin_until(release), title="Spin")
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.RUNNING, timeout=WAIT_MS)
    panel.view.setCurrentIndex(panel.view_index(job.id))
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: state_of(panel, job.id) is JobState.CANCELLED, timeout=WAIT_MS)


def test_failed_job_shows_its_error_and_the_app_keeps_running(qtbot, panel, bridge, queue):
    with qtbot.waitSignal(bridge.failed, timeout=WAIT_MS) as sig:
        bad = queue.submit(boom, title="Transcribe file")
    assert sig.args == [bad.id, "RuntimeError: kaput: the model fell over"]
    qtbot.waitUntil(lambda: state_of(panel, bad.id) is JobState.FAILED, timeout=WAIT_MS)

    assert cell(panel, bad.id, JobsModel.COL_STATE) == "Failed"
    assert cell(panel, bad.id, JobsModel.COL_MESSAGE) == "RuntimeError: kaput: the model fell over"
    red = cell(panel, bad.id, JobsModel.COL_MESSAGE, Qt.ItemDataRole.ForegroundRole).color()
    assert red.red() > 150 and red.green() < 100 and red.blue() < 100
    tip = cell(panel, bad.id, JobsModel.COL_MESSAGE, Qt.ItemDataRole.ToolTipRole)
    assert "Traceback" in tip and "kaput" in tip and "boom" in tip
    assert panel.counts_text() == "1 failed"

    # The queue, the bridge and the GUI all carry on.
    with qtbot.waitSignal(bridge.finished, timeout=WAIT_MS) as sig:
        ok = queue.submit(quick, 21, title="After the failure")
    assert sig.args == [ok.id, 42]
    qtbot.waitUntil(lambda: state_of(panel, ok.id) is JobState.FINISHED, timeout=WAIT_MS)
    assert QApplication.instance() is not None and panel.isVisible()
    assert panel.counts_text() == "1 finished · 1 failed"


def test_200_quick_jobs_all_finish_and_clear_finished_removes_them(qtbot, panel, queue):
    jobs = [queue.submit(quick, i, title=f"quick {i}", lane=("cpu" if i % 2 else "gpu"))
            for i in range(200)]
    qtbot.waitUntil(lambda: all(state_of(panel, j.id) is JobState.FINISHED for j in jobs), timeout=WAIT_MS)
    assert panel.model.rowCount() == 200
    assert panel.model.job_ids() == [j.id for j in jobs]  # submission order
    assert panel.counts_text() == "200 finished"
    assert panel.clear_button.isEnabled()

    # An active job survives the clear.
    release = threading.Event()
    live = queue.submit(spin_until(release), title="still going")
    qtbot.waitUntil(lambda: state_of(panel, live.id) is JobState.RUNNING, timeout=WAIT_MS)

    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.model.rowCount() == 1
    assert panel.model.job_ids() == [live.id]
    assert [j.id for j in queue.jobs()] == [live.id]
    assert panel.counts_text() == "1 running"
    assert not panel.clear_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: state_of(panel, live.id) is JobState.FINISHED, timeout=WAIT_MS)
    panel.clear_finished()
    assert panel.model.rowCount() == 0
    assert panel.counts_text() == "No jobs"


def test_bridge_signals_arrive_on_the_gui_thread_in_order(qtbot, bridge, queue):
    gui = QApplication.instance().thread()
    seen: list[tuple[str, bool, bool]] = []
    seqs: list[int] = []
    done = []

    def on_event(ev):
        seqs.append(ev.seq)
        seen.append(("event", QThread.currentThread() is gui, threading.current_thread() is threading.main_thread()))

    def on_finished(job_id, result):
        seen.append(("finished", QThread.currentThread() is gui, threading.current_thread() is threading.main_thread()))
        done.append((job_id, result))

    def on_failed(job_id, error):
        seen.append(("failed", QThread.currentThread() is gui, threading.current_thread() is threading.main_thread()))
        done.append((job_id, error))

    bridge.event.connect(on_event)
    bridge.finished.connect(on_finished)
    bridge.failed.connect(on_failed)
    a = queue.submit(quick, 5, lane="cpu")
    b = queue.submit(boom, lane="gpu")
    qtbot.waitUntil(lambda: len(done) == 2, timeout=WAIT_MS)
    assert sorted(done) == sorted([(a.id, 10), (b.id, "RuntimeError: kaput: the model fell over")])
    assert {k for k, _, _ in seen} == {"event", "finished", "failed"}
    assert all(on_gui and on_main for _, on_gui, on_main in seen)
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == 6  # queued/started/ended x2


def test_bridge_close_stops_the_signals(qtbot, queue):
    b = JobsBridge(queue)
    got = []
    b.event.connect(got.append)
    queue.submit(quick, 1).wait(5)
    qtbot.waitUntil(lambda: len(got) == 3, timeout=WAIT_MS)
    b.close()
    b.close()  # idempotent
    queue.submit(quick, 2).wait(5)
    qtbot.wait(100)
    assert len(got) == 3
    assert b.closed


def test_deleted_bridge_does_not_break_the_queue(qtbot, queue):
    b = JobsBridge(queue)
    b.deleteLater()
    qtbot.waitUntil(lambda: not queue._listeners, timeout=WAIT_MS)  # unsubscribed on destroy
    assert queue.submit(quick, 3).wait(5)


def test_panel_shows_jobs_that_existed_before_it(qtbot, bridge, queue):
    done = queue.submit(quick, 1, title="earlier")
    assert done.wait(5)
    p = JobsPanel(bridge, queue)
    qtbot.addWidget(p)
    assert p.model.job_ids() == [done.id]
    assert state_of(p, done.id) is JobState.FINISHED
    assert p.counts_text() == "1 finished"


def test_thousand_jobs_update_in_place_and_rows_arrive_in_batches(qtbot, panel, queue):
    """What keeps the GUI responsive under a flood of events: rows updated in place, never a
    model reset, and new rows inserted in batches. How long it takes is the machine's speed
    (DESIGN.md §9), so nothing here is timed."""
    resets, inserts = [], []
    panel.model.modelReset.connect(lambda: resets.append(1))
    panel.model.rowsInserted.connect(lambda *a: inserts.append(1))

    def chatty(ctx, i):
        for k in range(1, 5):
            ctx.progress(k / 5, f"step {k}", force=True)
        return i

    jobs = [queue.submit(chatty, i, title=f"job {i}", lane="cpu",
                         priority=Priority.BATCH if i % 3 else Priority.INTERACTIVE)
            for i in range(1000)]
    qtbot.waitUntil(lambda: all(state_of(panel, j.id) is JobState.FINISHED for j in jobs), timeout=120_000)

    assert panel.model.rowCount() == 1000
    assert panel.counts_text() == "1000 finished"
    assert not resets  # rows are updated in place, never rebuilt
    assert len(inserts) < 1000  # new rows arrive in batches


def test_screenshot_of_a_mixed_panel(qtbot, panel, queue, tmp_path):
    release = threading.Event()
    running = queue.submit(spin_until(release, 0.42, "decoding step 21/50"), title="Generate: calm piano", lane="gpu")
    queued = queue.submit(quick, 1, title="Transcribe take 3", lane="gpu")
    failed = queue.submit(boom, title="Export MIDI", lane="cpu")
    finished = queue.submit(quick, 2, title="Load session", lane="cpu")
    busy = queue.submit(spin_until(release, None, "loading weights"), title="Load model", lane="cpu")
    qtbot.waitUntil(lambda: state_of(panel, running.id) is JobState.RUNNING
                    and (row_of(panel, running.id).progress or 0) > 0.4
                    and state_of(panel, queued.id) is JobState.QUEUED
                    and state_of(panel, failed.id) is JobState.FAILED
                    and state_of(panel, finished.id) is JobState.FINISHED
                    and state_of(panel, busy.id) is JobState.RUNNING, timeout=WAIT_MS)
    panel.view.setColumnWidth(JobsModel.COL_TITLE, 180)
    qtbot.wait(100)
    target = Path(os.environ.get("MOTET_JOBS_SCREENSHOT") or tmp_path / "jobs_panel.png")
    pixmap = panel.grab()
    assert not pixmap.isNull() and pixmap.width() > 0
    assert pixmap.save(str(target))
    assert target.stat().st_size > 0
    assert panel.counts_text() == "2 running · 1 queued · 1 finished · 1 failed"
    release.set()


def test_bridge_and_panel_do_not_leak_references_to_true(qtbot, panel, queue):
    """PySide6 6.12.0 on Python 3.11 drops a reference to True per Signal.emit(); gui.jobs
    gives it back. Without that, a few hundred events abort the interpreter."""
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("bools are immortal from Python 3.12 on")
    jobs = [queue.submit(quick, i, lane="cpu") for i in range(300)]  # ~1,500 emits in gui.jobs
    before = sys.getrefcount(True)
    qtbot.waitUntil(lambda: all(state_of(panel, j.id) is JobState.FINISHED for j in jobs), timeout=WAIT_MS)
    assert sys.getrefcount(True) - before > -200


def test_watch_calls_back_once_per_outcome_on_the_gui_thread(qtbot):
    import threading

    from engine.jobs import JobQueue
    from gui.jobs.bridge import JobsBridge

    queue = JobQueue()
    bridge = JobsBridge(queue)
    seen, threads = [], []
    try:
        ok = queue.submit(lambda ctx: ctx.progress(0.5, "half") or 42)
        bridge.watch(ok.id, on_finished=lambda r: seen.append(("finished", r)) or threads.append(threading.current_thread()),
                     on_progress=lambda f, m: seen.append(("progress", f, m)))
        bad = queue.submit(lambda ctx: (_ for _ in ()).throw(OSError("disk on fire")))
        bridge.watch(bad.id, on_failed=lambda message, ev: seen.append(("failed", message, ev.error_type)))
        qtbot.waitUntil(lambda: len([s for s in seen if s[0] != "progress"]) == 2, timeout=30000)
    finally:
        bridge.close()
        queue.shutdown()
    assert ("finished", 42) in seen and ("failed", "disk on fire", "OSError") in seen
    assert ("progress", 0.5, "half") in seen
    assert threads == [threading.main_thread()]
