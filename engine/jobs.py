"""The job queue: every piece of engine work the GUI or CLI asks for runs as a Job.

Why it looks like this (DESIGN.md §4):
- Jobs run on *lanes*. Each lane has its own worker threads. The ``gpu`` lane has exactly one
  worker, so it owns the loaded models and serialises GPU work; the ``cpu`` lane runs light work
  (file loading, exports) beside it.
- Within a lane, the waiting job with the highest priority (lowest number) runs next; equal
  priorities run in submission order.
- A long job calls ``ctx.checkpoint()`` between steps. That checks its cancel token and, on a
  lane with one worker, runs any waiting job of *strictly higher* priority inline before
  returning, so live transcription keeps its latency while a generation is running.
- Every event (queued, started, progress, finished, failed, cancelled) goes through one
  dispatcher thread, so listeners see all events in the order they happened, never two at a
  time, and a slow listener never stalls a worker.
- An exception inside a job is captured with its traceback; it never kills a worker.
- ``run_step`` runs one short piece of work on a lane and returns its result: live
  transcription's decoding steps go through it onto the gpu lane at LIVE priority (so they run
  inline at a running job's next checkpoint), without showing up as jobs of their own.
- The ``live`` lane (one worker) holds the long-lived live transcription loop itself, so it
  never takes the gpu or cpu lanes' workers.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.cancel import Cancelled  # noqa: F401 - part of the job API (raised by checkpoint())


class Priority(enum.IntEnum):
    """Lower runs first."""

    LIVE = 0  # live transcription: latency matters most
    INTERACTIVE = 10  # something the user just asked for and is waiting on
    BATCH = 20  # file transcription, generation, training


class EventKind(str, enum.Enum):
    """What happened to a job (a ``str``: ``event.kind == "finished"`` reads as before)."""

    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


class CancelToken:
    """Set by whoever wants the job to stop; checked by the job between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class JobEvent:
    """One thing that happened to a job. ``seq`` increases by one per event of the queue."""

    seq: int
    job_id: int
    kind: EventKind
    title: str
    state: JobState
    progress: float | None = None  # 0..1, or None when unknown
    message: str = ""
    result: Any = None
    error: str | None = None  # "Type: message", for the Jobs panel
    traceback: str | None = None
    error_type: str | None = None  # the exception's class name ("AudioFileError")
    error_message: str | None = None  # its message alone, for a view's banner


@dataclass
class Job:
    """A unit of work. ``fn(ctx, *args, **kwargs)`` is called on a worker thread."""

    id: int
    kind: str
    title: str
    priority: int
    lane: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    token: CancelToken = field(default_factory=CancelToken)
    state: JobState = JobState.QUEUED
    progress: float | None = None
    message: str = ""
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    ended_at: float | None = None
    hidden: bool = False  # a step of another job: no events, not listed
    exception: BaseException | None = field(default=None, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (for the CLI and tests; the GUI never waits)."""
        return self._done.wait(timeout)


class JobContext:
    """What a running job sees: progress reporting, cancellation, cooperative yielding."""

    def __init__(self, queue_: "JobQueue", job: Job, lane: "_Lane") -> None:
        self._queue = queue_
        self.job = job
        self._lane = lane
        self._last_progress_emit = 0.0

    @property
    def cancelled(self) -> bool:
        return self.job.token.cancelled

    def progress(self, fraction: float | None, message: str = "", *, force: bool = False) -> None:
        """Report progress in 0..1. Rate-limited to ~30 events/s unless ``force`` or complete."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        now = time.monotonic()
        complete = fraction is not None and fraction >= 1.0
        if not (force or complete) and now - self._last_progress_emit < 1 / 30:
            self.job.progress, self.job.message = fraction, message or self.job.message
            return
        self._last_progress_emit = now
        self.job.progress = fraction
        if message:
            self.job.message = message
        self._queue._emit(self.job, EventKind.PROGRESS)

    def checkpoint(self) -> None:
        """Call between steps: raises ``Cancelled`` if asked to stop; lets urgent jobs run."""
        self.job.token.raise_if_cancelled()
        self._lane.run_urgent_inline(self.job.priority)
        self.job.token.raise_if_cancelled()


class _Lane:
    """A priority queue of jobs and the worker threads that drain it."""

    def __init__(self, owner: "JobQueue", name: str, workers: int) -> None:
        self.owner = owner
        self.name = name
        self.n_workers = workers
        self._heap: list[tuple[int, int, Job]] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"motet-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def push(self, job: Job) -> None:
        with self._cond:
            heapq.heappush(self._heap, (job.priority, job.id, job))
            self._cond.notify()

    def remove(self, job: Job) -> bool:
        """Take a job out of the waiting heap; False if it is no longer waiting."""
        with self._cond:
            for i, (_, _, j) in enumerate(self._heap):
                if j is job:
                    self._heap.pop(i)
                    heapq.heapify(self._heap)
                    return True
        return False

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _pop_blocking(self) -> Job | None:
        with self._cond:
            while not self._heap and not self._stopping:
                self._cond.wait()
            if self._stopping and not self._heap:
                return None
            return heapq.heappop(self._heap)[2]

    def run_urgent_inline(self, current_priority: int) -> None:
        """Run waiting jobs that outrank ``current_priority`` on this (single-worker) lane."""
        if self.n_workers != 1:
            return  # other workers pick urgent work up themselves
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] >= current_priority:
                    return
                job = heapq.heappop(self._heap)[2]
            self.owner._run(job, self)

    def _work(self) -> None:
        while True:
            job = self._pop_blocking()
            if job is None:
                return
            self.owner._run(job, self)

    def stop(self, timeout: float | None) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)


Listener = Callable[[JobEvent], None]


class JobQueue:
    """Submit work, watch its events, cancel it. Thread-safe; listeners run on one thread."""

    DEFAULT_LANES = {"gpu": 1, "cpu": 2, "live": 1}

    def __init__(self, lanes: dict[str, int] | None = None) -> None:
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._jobs: dict[int, Job] = {}
        self._listeners: list[Listener] = []
        self._events: queue.SimpleQueue[JobEvent | None] = queue.SimpleQueue()
        self._dispatcher = threading.Thread(target=self._dispatch, name="motet-job-events", daemon=True)
        self._dispatcher.start()
        self._lanes = {name: _Lane(self, name, n) for name, n in (lanes or self.DEFAULT_LANES).items()}
        self._closed = False

    # -- public API ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        kind: str = "task",
        title: str | None = None,
        priority: int = Priority.BATCH,
        lane: str = "gpu",
        **kwargs: Any,
    ) -> Job:
        """Queue ``fn(ctx, *args, **kwargs)``; returns the Job at once."""
        if lane not in self._lanes:
            raise ValueError(f"unknown lane {lane!r}; lanes are {sorted(self._lanes)}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue has been shut down")
            job = Job(
                id=next(self._ids), kind=kind, title=title or kind, priority=int(priority),
                lane=lane, fn=fn, args=args, kwargs=kwargs,
            )
            self._jobs[job.id] = job
            # Emit before the job can start, so "queued" always precedes "started".
            self._emit(job, EventKind.QUEUED)
            # Push while still holding the lock: shutdown() takes it too, so a job it accepted
            # is on its lane (and cancellable) before shutdown looks, never pushed after the
            # lane's workers have stopped, where it would stay queued forever.
            self._lanes[lane].push(job)
        return job

    def run_step(self, fn: Callable[[], Any], *, lane: str = "gpu", priority: int = Priority.LIVE,
                 title: str = "step") -> Any:
        """Run ``fn()`` on ``lane`` at ``priority``, wait for it and return its result (or raise
        its exception). It emits no events and is not listed. Called from that lane's own worker,
        it runs at once (waiting there would deadlock)."""
        target = self._lanes[lane]
        if threading.current_thread() in target._threads:
            return fn()
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue has been shut down")
            job = Job(id=next(self._ids), kind="step", title=title, priority=int(priority), lane=lane,
                      fn=lambda ctx: fn(), hidden=True)
            target.push(job)
        job.wait()
        if job.exception is not None:
            raise job.exception
        if job.state is JobState.CANCELLED:
            raise Cancelled()
        return job.result

    def cancel(self, job_id: int) -> bool:
        """Ask a job to stop. A waiting job ends at once; a running one at its next checkpoint."""
        job = self._jobs.get(job_id)
        if job is None or job.state.done:
            return False
        job.token.cancel()
        if self._lanes[job.lane].remove(job):
            self._finish(job, JobState.CANCELLED, "cancelled")
        return True

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def forget_finished(self) -> None:
        """Drop ended jobs from the table (the GUI's 'Clear finished')."""
        with self._lock:
            for jid in [j.id for j in self._jobs.values() if j.state.done]:
                del self._jobs[jid]

    def shutdown(self, cancel_running: bool = True, timeout: float | None = 5.0) -> None:
        """Cancel what is left and stop the workers and the dispatcher."""
        with self._lock:
            self._closed = True
            pending = list(self._jobs.values())
        for job in pending:
            if not job.state.done and (cancel_running or job.state is JobState.QUEUED):
                self.cancel(job.id)
        for lane in self._lanes.values():
            lane.stop(timeout)
        self._events.put(None)
        self._dispatcher.join(timeout)

    # -- internals -------------------------------------------------------------------------
    def _run(self, job: Job, lane: _Lane) -> None:
        if job.token.cancelled:  # cancelled between pop and start
            if not job.state.done:
                self._finish(job, JobState.CANCELLED, "cancelled")
            return
        job.state = JobState.RUNNING
        job.started_at = time.monotonic()
        self._emit(job, EventKind.STARTED)
        ctx = JobContext(self, job, lane)
        try:
            result = job.fn(ctx, *job.args, **job.kwargs)
        except Cancelled:
            self._finish(job, JobState.CANCELLED, "cancelled")
        except BaseException as exc:  # noqa: BLE001 - a job must never take a worker down
            job.exception = exc if job.hidden else None
            job.error_type, job.error_message = type(exc).__name__, str(exc) or type(exc).__name__
            job.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            job.traceback = traceback.format_exc()
            self._finish(job, JobState.FAILED, "failed")
        else:
            job.result = result
            job.progress = 1.0
            job.message = f"done in {time.monotonic() - job.started_at:.1f} s"
            self._finish(job, JobState.FINISHED, "finished")

    def _finish(self, job: Job, state: JobState, kind: EventKind | str) -> None:
        with self._lock:
            if job.state.done:
                return
            job.state = state
            job.ended_at = time.monotonic()
            self._emit(job, kind)
        job._done.set()

    def _emit(self, job: Job, kind: EventKind | str) -> None:
        if job.hidden:
            return
        with self._lock:
            event = JobEvent(
                seq=next(self._seq), job_id=job.id, kind=EventKind(kind), title=job.title, state=job.state,
                progress=job.progress, message=job.message,
                result=job.result if kind == "finished" else None,
                error=job.error, traceback=job.traceback, error_type=job.error_type,
                error_message=job.error_message,
            )
            self._events.put(event)

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(event)
                except BaseException:  # noqa: BLE001 - a broken listener must not stop the others
                    # BaseException too: a listener's SystemExit/KeyboardInterrupt would otherwise
                    # end this (only) dispatcher thread and every later event would be lost.
                    traceback.print_exc()
