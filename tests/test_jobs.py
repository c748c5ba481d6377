"""Tests for engine/jobs.py: the job queue (DESIGN.md §4).

Every test builds its own JobQueue through the ``make_queue`` fixture, which shuts it down
afterwards. Nothing here asserts on timing except generous timeouts that keep a broken queue
from hanging the run.
"""

from __future__ import annotations

import threading
import time

import pytest

from engine import jobs as jobs_module
from engine.jobs import Cancelled, Job, JobEvent, JobQueue, JobState, Priority

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0  # seconds: generous, only there so that a broken queue fails instead of hanging


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def make_queue():
    queues: list[JobQueue] = []

    def make(lanes: dict[str, int] | None = None) -> JobQueue:
        q = JobQueue(lanes)
        queues.append(q)
        return q

    yield make
    for q in queues:
        q.shutdown(timeout=WAIT)


class Recorder:
    """A listener that keeps every event, in delivery order, and lets a test wait for some."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: JobEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = WAIT) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.events), timeout)
        assert ok, "timed out waiting for job events"

    def wait_ended(self, jobs: list[Job], timeout: float = WAIT) -> None:
        """Wait until each job's terminal event has been *delivered* (job.wait() is earlier)."""
        terminal = {"finished", "failed", "cancelled"}
        wanted = {j.id for j in jobs}

        def all_ended(events):
            return wanted <= {e.job_id for e in events if e.kind in terminal}

        self.wait_for(all_ended, timeout)

    def for_job(self, job_id: int) -> list[JobEvent]:
        with self._cond:
            return [e for e in self.events if e.job_id == job_id]

    def kinds(self, job_id: int) -> list[str]:
        return [e.kind for e in self.for_job(job_id)]


def recording_queue(make_queue, lanes=None) -> tuple[JobQueue, Recorder]:
    q = make_queue(lanes)
    rec = Recorder()
    q.subscribe(rec)
    return q, rec


def submit_blocker(q: JobQueue, lane: str = "gpu") -> tuple[Job, threading.Event, threading.Event]:
    """Occupy a lane's worker until ``release`` is set (or the job is cancelled).

    Its priority is above every Priority, so its checkpoints never run other jobs inline.
    """
    started, release = threading.Event(), threading.Event()

    def block(ctx):
        started.set()
        deadline = time.monotonic() + WAIT
        while not release.wait(0.005):
            ctx.checkpoint()
            if time.monotonic() > deadline:
                return "blocker timed out"
        return "released"

    job = q.submit(block, kind="blocker", priority=-1, lane=lane)
    assert started.wait(WAIT), "blocker never started"
    return job, started, release


def wait_all(jobs: list[Job]) -> None:
    for j in jobs:
        assert j.wait(WAIT), f"job {j.id} ({j.title}) did not end"


# -- ordering --------------------------------------------------------------------------------


def test_priority_order_within_lane(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    blocker, _, release = submit_blocker(q)
    ran: list[str] = []

    def record(ctx, name):
        ran.append(name)
        return name

    submitted = [
        q.submit(record, "batch-1", priority=Priority.BATCH),
        q.submit(record, "interactive-1", priority=Priority.INTERACTIVE),
        q.submit(record, "live-1", priority=Priority.LIVE),
        q.submit(record, "batch-2", priority=Priority.BATCH),
        q.submit(record, "live-2", priority=Priority.LIVE),
        q.submit(record, "interactive-2", priority=Priority.INTERACTIVE),
    ]
    # Nothing may start while the single gpu worker is busy.
    assert all(j.state is JobState.QUEUED for j in submitted)
    assert ran == []

    release.set()
    wait_all([blocker, *submitted])
    assert ran == ["live-1", "live-2", "interactive-1", "interactive-2", "batch-1", "batch-2"]
    assert all(j.state is JobState.FINISHED for j in submitted)
    assert [j.result for j in submitted] == [
        "batch-1", "interactive-1", "live-1", "batch-2", "live-2", "interactive-2"
    ]

    # The listener saw them start in that same order.
    rec.wait_ended(submitted)
    names = {j.id: j.args[0] for j in submitted}
    started = [names[e.job_id] for e in rec.events if e.kind == "started" and e.job_id in names]
    assert started == ran


def test_equal_priorities_run_fifo(make_queue):
    q = make_queue({"gpu": 1})
    _, _, release = submit_blocker(q)
    ran: list[int] = []

    def record(ctx, n):
        ran.append(n)

    # Several priority levels, including non-enum ints; FIFO inside each level.
    levels = [Priority.BATCH, 5, Priority.INTERACTIVE, Priority.LIVE, 15]
    submitted = [q.submit(record, n, priority=levels[n % len(levels)]) for n in range(40)]
    release.set()
    wait_all(submitted)

    expected = sorted(range(40), key=lambda n: (int(levels[n % len(levels)]), n))
    assert ran == expected


# -- cancellation ----------------------------------------------------------------------------


def test_cancel_queued_job_ends_at_once_and_never_runs(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    blocker, _, release = submit_blocker(q)
    ran = threading.Event()

    def should_not_run(ctx):
        ran.set()
        return "ran"

    job = q.submit(should_not_run, title="victim")
    other = q.submit(lambda ctx: "other")
    assert job.state is JobState.QUEUED

    assert q.cancel(job.id) is True
    # "At once": the worker is still busy with the blocker, yet the job has already ended.
    assert job.state is JobState.CANCELLED
    assert job.wait(0)
    assert job.result is None

    release.set()
    wait_all([blocker, other])
    assert other.result == "other"  # the rest of the lane is unaffected
    assert not ran.is_set()
    assert job.started_at is None
    rec.wait_ended([job, other])
    assert rec.kinds(job.id) == ["queued", "cancelled"]
    assert q.cancel(job.id) is False  # already ended


def test_cancel_running_job_mid_way(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    started = threading.Event()
    steps = [0]

    def long_job(ctx):
        started.set()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            ctx.checkpoint()
            steps[0] += 1
            time.sleep(0.002)
        return "was never cancelled"

    job = q.submit(long_job)
    assert started.wait(WAIT)
    assert job.state is JobState.RUNNING
    assert q.cancel(job.id) is True
    assert job.wait(WAIT)

    assert job.state is JobState.CANCELLED
    assert job.result is None
    assert job.error is None
    rec.wait_ended([job])
    assert rec.kinds(job.id) == ["queued", "started", "cancelled"]
    assert rec.for_job(job.id)[-1].state is JobState.CANCELLED

    # The worker is still alive after a cancellation.
    after = q.submit(lambda ctx: 42)
    assert after.wait(WAIT) and after.result == 42


def test_job_raising_cancelled_itself_ends_cancelled(make_queue):
    q = make_queue({"gpu": 1})

    def gives_up(ctx):
        raise Cancelled()

    job = q.submit(gives_up)
    assert job.wait(WAIT)
    assert job.state is JobState.CANCELLED
    assert job.error is None


def test_cancel_finished_or_unknown_job_returns_false(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    job = q.submit(lambda ctx: "done")
    assert job.wait(WAIT)
    assert job.state is JobState.FINISHED

    assert q.cancel(job.id) is False
    assert job.state is JobState.FINISHED
    assert job.result == "done"
    assert q.cancel(987654) is False

    rec.wait_ended([job])
    time.sleep(0.05)  # give a wrong extra "cancelled" event a chance to show up
    assert rec.kinds(job.id) == ["queued", "started", "finished"]


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc, text",
    [(ValueError("boom 42"), "boom 42"), (SystemExit("bye 7"), "bye 7")],
    ids=["ValueError", "SystemExit"],
)
def test_exception_in_job_is_captured_and_worker_survives(make_queue, exc, text):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    threads: list[str] = []

    def failing_step(ctx):
        threads.append(threading.current_thread().name)
        raise exc

    def next_job(ctx):
        threads.append(threading.current_thread().name)
        return "still alive"

    bad = q.submit(failing_step, title="bad")
    good = q.submit(next_job, title="good")
    wait_all([bad, good])

    assert bad.state is JobState.FAILED
    assert bad.result is None
    assert text in bad.error
    assert type(exc).__name__ in bad.error
    assert "\n" not in bad.error  # one line, for people
    assert bad.traceback is not None
    assert "failing_step" in bad.traceback  # the frame that raised
    assert text in bad.traceback

    assert good.state is JobState.FINISHED
    assert good.result == "still alive"
    assert threads[0] == threads[1]  # the same worker thread ran both: it survived

    rec.wait_ended([bad, good])
    failed = rec.for_job(bad.id)[-1]
    assert failed.kind == "failed"
    assert failed.state is JobState.FAILED
    assert text in failed.error
    assert "failing_step" in failed.traceback


# -- many jobs, event ordering ---------------------------------------------------------------


def test_thousand_jobs_across_lanes_lose_nothing_and_events_are_ordered(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1, "cpu": 2})
    priorities = [Priority.LIVE, Priority.INTERACTIVE, Priority.BATCH]

    def work(ctx, n, steps):
        for i in range(steps):
            # Even steps are forced, odd ones may be rate-limited; the last is complete (1.0).
            ctx.progress((i + 1) / steps, f"step {i + 1}", force=(i % 2 == 0))
            ctx.checkpoint()  # on the gpu lane this may run urgent jobs inline
        return n * n + 1

    submitted = [
        q.submit(
            work, n, n % 4,
            title=f"job {n}",
            lane="gpu" if n % 2 else "cpu",
            priority=priorities[n % 3],
        )
        for n in range(1000)
    ]
    wait_all(submitted)
    rec.wait_ended(submitted)

    for n, job in enumerate(submitted):
        assert job.state is JobState.FINISHED, (n, job.state, job.error)
        assert job.result == n * n + 1
        assert job.progress == 1.0

    events = list(rec.events)
    seqs = [e.seq for e in events]
    # Globally: strictly increasing in delivery order, and since seq grows by one per event
    # and the recorder was subscribed first, consecutive from 1 (so no event was lost).
    assert all(a < b for a, b in zip(seqs, seqs[1:]))
    assert seqs == list(range(1, len(events) + 1))

    by_job: dict[int, list[JobEvent]] = {}
    for e in events:
        by_job.setdefault(e.job_id, []).append(e)
    assert set(by_job) == {j.id for j in submitted}

    for n, job in enumerate(submitted):
        evs = by_job[job.id]
        kinds = [e.kind for e in evs]
        steps = n % 4
        assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "finished", kinds
        assert set(kinds[2:-1]) <= {"progress"}, kinds
        n_progress = len(kinds) - 3
        forced = (steps + 1) // 2
        complete_unforced = 1 if steps and (steps - 1) % 2 == 1 else 0
        assert forced + complete_unforced <= n_progress <= steps, (n, kinds)
        job_seqs = [e.seq for e in evs]
        assert all(a < b for a, b in zip(job_seqs, job_seqs[1:]))
        progress = [e.progress for e in evs if e.kind == "progress"]
        assert all(0.0 <= p <= 1.0 for p in progress)
        assert progress == sorted(progress)
        if steps:
            assert progress[-1] == 1.0
        assert evs[-1].result == n * n + 1
        assert evs[-1].progress == 1.0
        assert all(e.title == f"job {n}" for e in evs)


# -- cooperative yield -----------------------------------------------------------------------


def test_checkpoint_runs_more_urgent_jobs_inline(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    batch_started, stop_batch = threading.Event(), threading.Event()
    batch_thread: list[int] = []

    def long_batch(ctx):
        batch_thread.append(threading.get_ident())
        batch_started.set()
        deadline = time.monotonic() + WAIT
        while not stop_batch.is_set() and time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.002)
        return "batch done"

    def probe(ctx, batch_job):
        return threading.get_ident(), batch_job.state

    batch = q.submit(long_batch, title="generation", priority=Priority.BATCH)
    assert batch_started.wait(WAIT)

    live = q.submit(probe, batch, title="live", priority=Priority.LIVE)
    interactive = q.submit(probe, batch, title="interactive", priority=Priority.INTERACTIVE)
    same_priority = q.submit(probe, batch, title="other batch", priority=Priority.BATCH)

    # The urgent jobs finish while the long BATCH job is still running...
    assert live.wait(WAIT) and interactive.wait(WAIT)
    assert batch.state is JobState.RUNNING
    # ...but a job of equal priority is not run inline: it waits its turn.
    assert same_priority.state is JobState.QUEUED

    stop_batch.set()
    wait_all([batch, same_priority])
    assert batch.result == "batch done"
    assert live.result == (batch_thread[0], JobState.RUNNING)  # inline, on the same thread
    assert interactive.result == (batch_thread[0], JobState.RUNNING)
    assert same_priority.result[1] is JobState.FINISHED

    rec.wait_ended([batch, live, interactive, same_priority])
    order = [(e.job_id, e.kind) for e in rec.events if e.kind in ("started", "finished")]
    pos = {item: i for i, item in enumerate(order)}
    assert pos[(batch.id, "started")] < pos[(live.id, "started")]
    assert pos[(live.id, "finished")] < pos[(interactive.id, "started")]  # LIVE first
    assert pos[(interactive.id, "finished")] < pos[(batch.id, "finished")]
    assert pos[(batch.id, "finished")] < pos[(same_priority.id, "started")]


def test_no_inline_run_on_multi_worker_lane(make_queue):
    # With two workers, the free worker picks up the urgent job; checkpoint must not run it
    # on the busy worker's thread.
    q = make_queue({"cpu": 2})
    started, stop = threading.Event(), threading.Event()
    busy_thread: list[int] = []

    def long_batch(ctx):
        busy_thread.append(threading.get_ident())
        started.set()
        deadline = time.monotonic() + WAIT
        while not stop.is_set() and time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.002)

    batch = q.submit(long_batch, lane="cpu", priority=Priority.BATCH)
    assert started.wait(WAIT)
    live = q.submit(lambda ctx: threading.get_ident(), lane="cpu", priority=Priority.LIVE)
    assert live.wait(WAIT)
    stop.set()
    assert batch.wait(WAIT)
    assert live.result != busy_thread[0]


# -- listeners -------------------------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [RuntimeError, SystemExit], ids=["RuntimeError", "SystemExit"])
def test_raising_listener_does_not_stop_others_or_the_queue(make_queue, capsys, exc_type):
    q = make_queue({"gpu": 1, "cpu": 2})
    calls = [0]

    def broken(event):
        calls[0] += 1
        raise exc_type("listener is broken")

    q.subscribe(broken)
    rec = Recorder()
    q.subscribe(rec)  # subscribed after the broken one: must still get everything

    def work(ctx, n):
        ctx.progress(0.5, force=True)
        return n

    first = [q.submit(work, n, lane="gpu" if n % 2 else "cpu") for n in range(10)]
    wait_all(first)
    rec.wait_ended(first)

    # The queue still works after many listener failures.
    later = q.submit(work, 99)
    assert later.wait(WAIT) and later.result == 99
    rec.wait_ended([later])

    for j in first + [later]:
        assert rec.kinds(j.id) == ["queued", "started", "progress", "finished"]
    assert calls[0] == len(rec.events)
    assert [j.result for j in first] == list(range(10))
    # The failures are reported, not swallowed silently.
    q.shutdown(timeout=WAIT)
    assert "listener is broken" in capsys.readouterr().err


def test_unsubscribe_stops_delivery(make_queue):
    q = make_queue({"gpu": 1})
    kept, dropped = Recorder(), Recorder()
    q.subscribe(kept)
    unsubscribe = q.subscribe(dropped)

    a = q.submit(lambda ctx: "a")
    assert a.wait(WAIT)
    dropped.wait_ended([a])
    unsubscribe()
    unsubscribe()  # harmless twice
    b = q.submit(lambda ctx: "b")
    assert b.wait(WAIT)
    kept.wait_ended([a, b])
    assert dropped.kinds(b.id) == []
    assert kept.kinds(b.id) == ["queued", "started", "finished"]


# -- progress --------------------------------------------------------------------------------


def test_progress_clamped_rate_limited_and_final_is_one(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})
    seen_inside: dict[str, object] = {}

    def job_fn(ctx):
        ctx.progress(-3.0, "below", force=True)  # clamped to 0
        ctx.progress(5.0, "above")  # clamped to 1; complete, so emitted despite the limit
        t0 = time.monotonic()
        for i in range(2000):  # far faster than 30/s: most of these must be dropped
            ctx.progress(0.5 * i / 2000, f"tight {i}")
        elapsed = time.monotonic() - t0
        # A dropped update still shows up on the job itself.
        seen_inside["progress"] = ctx.job.progress
        seen_inside["message"] = ctx.job.message
        seen_inside["elapsed"] = elapsed
        ctx.progress(0.5, "last reported")  # the last report is below 1.0
        return "ok"

    job = q.submit(job_fn)
    assert job.wait(WAIT)
    rec.wait_ended([job])
    assert job.state is JobState.FINISHED

    evs = rec.for_job(job.id)
    progress_events = [e for e in evs if e.kind == "progress"]
    assert progress_events[0].progress == 0.0 and progress_events[0].message == "below"
    assert progress_events[1].progress == 1.0 and progress_events[1].message == "above"
    assert all(0.0 <= e.progress <= 1.0 for e in progress_events)

    tight = [e for e in progress_events if e.message.startswith("tight")]
    # ~30 events/s at most: a bound computed from how long the loop really took, plus slack.
    bound = 2 + 30 * seen_inside["elapsed"] * 1.5
    assert len(tight) <= bound, (len(tight), seen_inside["elapsed"])
    assert len(tight) < 2000

    assert seen_inside["progress"] == pytest.approx(0.5 * 1999 / 2000)
    assert seen_inside["message"] == "tight 1999"

    # Whatever was last reported, a finished job reports 1.0.
    assert job.progress == 1.0
    assert evs[-1].kind == "finished"
    assert evs[-1].progress == 1.0


def test_progress_none_means_unknown(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1})

    def job_fn(ctx):
        ctx.progress(None, "loading model", force=True)

    job = q.submit(job_fn)
    assert job.wait(WAIT)
    rec.wait_ended([job])
    prog = [e for e in rec.for_job(job.id) if e.kind == "progress"]
    assert len(prog) == 1
    assert prog[0].progress is None and prog[0].message == "loading model"
    assert rec.for_job(job.id)[-1].progress == 1.0


# -- shutdown and validation -----------------------------------------------------------------


def test_shutdown_cancels_pending_and_running_then_rejects_submit(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1, "cpu": 2})
    blocker, _, release = submit_blocker(q)
    ran: list[int] = []
    pending = [q.submit(lambda ctx, n: ran.append(n), n) for n in range(5)]
    assert all(j.state is JobState.QUEUED for j in pending)

    done = threading.Event()
    shutter = threading.Thread(target=lambda: (q.shutdown(timeout=WAIT), done.set()))
    shutter.start()
    shutter.join(WAIT * 2)
    release.set()  # in case shutdown failed to cancel the blocker
    assert done.is_set(), "shutdown did not return"

    assert all(j.state is JobState.CANCELLED for j in pending)
    assert all(j.wait(0) for j in pending)
    assert ran == []
    assert blocker.state is JobState.CANCELLED  # cancel_running=True by default

    # shutdown drained the dispatcher, so every event has been delivered by now.
    for j in pending:
        assert rec.kinds(j.id) == ["queued", "cancelled"]
    assert rec.kinds(blocker.id) == ["queued", "started", "cancelled"]

    with pytest.raises(RuntimeError):
        q.submit(lambda ctx: None)
    with pytest.raises(RuntimeError):
        q.submit(lambda ctx: None, lane="cpu")
    q.shutdown(timeout=WAIT)  # a second shutdown is harmless


def test_shutdown_without_cancel_running_lets_running_job_finish(make_queue):
    q = make_queue({"gpu": 1})
    started = threading.Event()

    def steady(ctx):
        started.set()
        for _ in range(25):
            ctx.checkpoint()
            time.sleep(0.004)
        return "completed"

    running = q.submit(steady, priority=Priority.LIVE)
    assert started.wait(WAIT)
    queued = q.submit(lambda ctx: "never")
    q.shutdown(cancel_running=False, timeout=WAIT)

    assert running.state is JobState.FINISHED
    assert running.result == "completed"
    assert queued.state is JobState.CANCELLED
    assert queued.result is None


def test_submit_racing_shutdown_never_strands_a_job(make_queue, monkeypatch):
    """A job accepted by submit() must end even if shutdown() runs at the same moment.

    The window between submit's bookkeeping and the push onto the lane is widened on purpose;
    a job pushed after the lane's workers have stopped would stay queued forever.
    """
    original_push = jobs_module._Lane.push
    in_push = threading.Event()

    def slow_push(self, job):
        in_push.set()
        time.sleep(0.2)
        original_push(self, job)

    monkeypatch.setattr(jobs_module._Lane, "push", slow_push)
    q = make_queue({"gpu": 1})
    accepted: list[Job] = []
    rejected: list[BaseException] = []

    def submitter():
        try:
            accepted.append(q.submit(lambda ctx: "ran"))
        except RuntimeError as exc:
            rejected.append(exc)

    t = threading.Thread(target=submitter)
    t.start()
    assert in_push.wait(WAIT)
    q.shutdown(timeout=WAIT)
    t.join(WAIT)
    assert not t.is_alive()

    assert len(accepted) + len(rejected) == 1
    for job in accepted:
        assert job.wait(WAIT), "an accepted job never ended"
        assert job.state.done


def test_unknown_lane_raises_value_error(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1, "cpu": 2})
    with pytest.raises(ValueError, match="tpu"):
        q.submit(lambda ctx: None, lane="tpu")
    assert q.jobs() == []
    ok = q.submit(lambda ctx: "fine", lane="cpu")
    assert ok.wait(WAIT)
    rec.wait_ended([ok])
    assert {e.job_id for e in rec.events} == {ok.id}  # the rejected submit emitted nothing


def test_default_lanes_and_job_table(make_queue):
    q = make_queue()
    a = q.submit(lambda ctx: 1, kind="load", lane="cpu")
    b = q.submit(lambda ctx: 2, kind="generate", title="Generate motif")
    wait_all([a, b])
    assert (a.kind, a.title, a.lane) == ("load", "load", "cpu")
    assert (b.kind, b.title, b.lane) == ("generate", "Generate motif", "gpu")
    assert q.get(a.id) is a and q.get(b.id) is b
    assert {j.id for j in q.jobs()} == {a.id, b.id}
    q.forget_finished()
    assert q.jobs() == []
    assert q.get(a.id) is None


# -- run_step: live transcription's decoding passes ----------------------------------------------


def test_run_step_runs_inline_in_a_running_job_and_stays_invisible(make_queue):
    q, rec = recording_queue(make_queue, {"gpu": 1, "live": 1})
    started, stop = threading.Event(), threading.Event()
    batch_thread: list[int] = []

    def long_batch(ctx):
        batch_thread.append(threading.get_ident())
        started.set()
        deadline = time.monotonic() + WAIT
        while not stop.is_set() and time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.002)
        return "done"

    batch = q.submit(long_batch, priority=Priority.BATCH)
    assert started.wait(WAIT)
    # from another thread (the live lane), a step gets through while the batch job runs
    assert q.run_step(lambda: threading.get_ident()) == batch_thread[0]
    assert batch.state is JobState.RUNNING
    with pytest.raises(ZeroDivisionError):  # its exception reaches the caller
        q.run_step(lambda: 1 / 0)
    stop.set()
    wait_all([batch])
    rec.wait_ended([batch])
    assert {e.job_id for e in rec.events} == {batch.id}  # steps emit no events
    assert [j.id for j in q.jobs()] == [batch.id]  # and are not listed


def test_run_step_from_the_lane_itself_runs_at_once(make_queue):
    q = make_queue({"gpu": 1})
    job = q.submit(lambda ctx: q.run_step(lambda: "nested"))  # would deadlock if it queued
    assert job.wait(WAIT) and job.result == "nested"


def test_run_step_after_shutdown_raises(make_queue):
    q = make_queue({"gpu": 1})
    q.shutdown()
    with pytest.raises(RuntimeError):
        q.run_step(lambda: None)


def test_a_failed_jobs_event_carries_the_errors_type_and_message_apart():
    q = JobQueue()
    events = []
    q.subscribe(events.append)

    def fail(ctx):
        raise ValueError("'a.wav' cannot be read: permission denied")

    try:
        job = q.submit(fail)
        assert job.wait(30)
    finally:
        q.shutdown()
    failed = [e for e in events if e.kind == "failed"][0]
    assert failed.error_type == "ValueError" and failed.error_message == "'a.wav' cannot be read: permission denied"
    assert failed.error == "ValueError: 'a.wav' cannot be read: permission denied"  # the Jobs panel's line


def test_event_kinds_are_an_enum_that_still_reads_as_text():
    from engine.jobs import EventKind

    q = JobQueue()
    events = []
    q.subscribe(events.append)
    try:
        assert q.submit(lambda ctx: 1).wait(30)
    finally:
        q.shutdown()
    kinds = [e.kind for e in events]
    assert all(isinstance(k, EventKind) for k in kinds)
    assert kinds[0] is EventKind.QUEUED and kinds[-1] is EventKind.FINISHED and kinds[-1] == "finished"
