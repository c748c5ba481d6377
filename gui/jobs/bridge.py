"""Job events as Qt signals (DESIGN.md §4).

``JobsBridge`` subscribes to a :class:`engine.jobs.JobQueue`. The queue calls its listeners on
its own dispatcher thread; the bridge only appends the event to a list there and, when that list
was empty, emits an internal signal that reaches the GUI thread through a queued connection.
On the GUI thread it drains the list and re-emits every event, in order, as ``event(object)``
(plus ``finished``/``failed`` conveniences and one ``batch(object)`` per drain). One posted Qt
event per burst instead of one per job event keeps the GUI thread light when a thousand jobs
report at once. Nothing here ever waits on a job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine.jobs import JobEvent, JobQueue

__all__ = ["JobsBridge", "Watch"]


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
