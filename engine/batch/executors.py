"""Where batch items run: in this process, one after another, or on Ray actors that each load
their model once and take items from the driver's queue.

Ray is optional (``pip install motet[cluster]``); it is imported only when a cluster is asked for.
A worker process that dies (killed, out of memory, its machine gone) fails the items it held;
they go back to the queue for another worker, at most ``MAX_ATTEMPTS`` times each, while Ray
restarts the actor (which loads its model again).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.batch.workers import Outcome
from engine.cancel import Cancelled

MAX_ATTEMPTS = 3  # a worker dying under the same item three times says the item is the problem
IN_FLIGHT = 2  # items queued at each actor: the next is there when one ends
ACTOR_RESTARTS = 4


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster cannot be reached or has no room; ``str()`` says which."""


@dataclass(frozen=True)
class WorkerSpec:
    """How to make a worker (a class from ``engine.batch.workers`` and its arguments): it travels
    to the cluster's processes, where the worker is made."""

    kind: type
    kwargs: dict

    def make(self):
        return self.kind(**self.kwargs)


def _stopping(should_stop: Callable[[], bool] | None) -> bool:
    """Whether to stop; a ``should_stop`` that raises Cancelled (a job's checkpoint) says yes."""
    try:
        return bool(should_stop and should_stop())
    except Cancelled:
        return True


def machine_cpus() -> int:
    """The CPUs this process may run on (its affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory free for new work (MemAvailable), or None where it cannot be told."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or failing: the kernel's own figure
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass(frozen=True)
class Fit:
    """Workers and threads that fit, and the warning line when fewer than asked were given."""

    workers: int
    threads: int
    note: str | None = None


def fit_workers(workers: int | None, threads: int, cpus: int, memory: int | None, per_worker: int | None,
                where: str = "this machine has", gpus: int | None = None) -> Fit:
    """Cap ``workers`` x ``threads`` at ``cpus``, ``workers`` at the memory one worker needs
    (``per_worker`` bytes of ``memory``) and at ``gpus`` (when each worker takes one GPU).
    ``workers`` None: as many as fit. ``where``: "this machine has" or "the cluster has"."""
    cpus, asked_threads = max(1, int(cpus)), max(1, int(threads))
    threads = min(asked_threads, cpus)
    limits = [(cpus // threads, f"{where} {cpus} CPU{'s' if cpus != 1 else ''}")]
    if memory is not None and per_worker:
        limits.append((int(memory // per_worker), f"{where} {memory / 2**30:.1f} GB of memory free and a worker "
                                                  f"needs about {per_worker / 2**30:.1f} GB"))
    if gpus is not None:
        limits.append((int(gpus), f"{where} {gpus} GPU{'s' if gpus != 1 else ''}"))
    most, why = min(limits, key=lambda limit: limit[0])
    used = max(1, most) if workers is None else min(workers, max(1, most))
    fewer = workers is not None and used < workers
    if fewer and threads < asked_threads:
        return Fit(used, threads, f"{workers} workers x {asked_threads} threads asked, {used} x {threads} used: {why}")
    if fewer:
        return Fit(used, threads, f"{workers} workers asked, {used} used: {why}")
    if threads < asked_threads:
        return Fit(used, threads, f"{asked_threads} threads per worker asked, {threads} used: {limits[0][1]}")
    return Fit(used, threads)


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


class InProcess:
    """Items one after another on one worker in this process (``--cluster`` not given; the GUI's
    batch job). ``should_stop`` is asked between items and inside them (raises Cancelled)."""

    name = "in-process"

    def __init__(self, spec: WorkerSpec, threads: int | None = None,
                 should_stop: Callable[[], bool] | None = None, workers: int | None = None) -> None:
        cpus, notes = machine_cpus(), []
        if workers and workers > 1:
            notes.append(f"{workers} workers asked, 1 used: without --cluster the batch runs in this process")
        if threads and threads > cpus:
            notes.append(f"{threads} threads asked, {cpus} used: this machine has {cpus} CPU{'s' if cpus != 1 else ''}")
            threads = cpus
        self.spec, self.threads, self.should_stop = spec, threads, should_stop
        self.workers = 1
        self.note = "; ".join(notes) or None

    def start(self) -> None:
        """Make the worker (its model loads, or comes from the registry)."""
        _threads(self.threads)
        self.worker = self.spec.make()

    def run(self, items: Iterable, done: Callable[[Outcome], None]) -> None:
        for item in items:
            if _stopping(self.should_stop):
                raise Cancelled()
            done(self.worker.run(item, self.should_stop))

    def close(self) -> None:
        pass


class _Actor:
    """The Ray actor around a worker (made remote when Ray is imported)."""

    def __init__(self, spec: WorkerSpec, threads: int | None) -> None:
        _threads(threads)
        self.worker = spec.make()

    def pid(self) -> int:
        return os.getpid()

    def run(self, item) -> Outcome:
        return self.worker.run(item)


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed: `pip install 'motet[cluster]'` (or `pip install 'ray[client]'`) "
                           "to run batches on a cluster") from None
    return ray


def _use_token_if_there() -> None:
    """`ray start` turns token authentication on, and a Ray Client sends the token only when told
    to: a user who has the cluster's token (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ~/.ray/auth_token) gets it sent without knowing about ``RAY_AUTH_MODE``.

    Only before Ray is imported: once imported, this process keeps the mode it read, and the
    variable would reach only the processes it starts later (a "local" cluster's GCS would then
    ask for a token this process never sends: "Failed to start GCS")."""
    import sys
    from pathlib import Path

    if "ray" in sys.modules or "RAY_AUTH_MODE" in os.environ:
        return
    if (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or (Path.home() / ".ray" / "auth_token").is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"


class RayCluster:
    """Items spread over ``workers`` Ray actors of ``threads`` CPUs each.

    ``address``: "local" starts a Ray cluster on this machine (stopped at the end); "auto" joins
    the one running here (``ray start --head``); "ray://HOST:PORT" joins a remote one through Ray
    Client. The nodes need Motet installed (same version) and the model available under the
    name given: each worker resolves the model on its own machine.
    """

    def __init__(self, address: str, spec: WorkerSpec, workers: int | None = None, threads: int = 1,
                 should_stop: Callable[[], bool] | None = None, per_worker: int | None = None) -> None:
        if address.startswith("ray://"):
            _use_token_if_there()  # before Ray is imported: it reads its mode once
        ray = _ray()
        self.ray, self.spec, self.threads, self.should_stop = ray, spec, max(1, threads), should_stop
        self.address = address
        self.started_here = False
        self.note = None
        per_worker = per_worker or DEFAULT_WORKER_BYTES
        if not ray.is_initialized():
            try:
                if address == "local":  # Ray is told this machine's real CPUs, never more
                    fit = fit_workers(workers, self.threads, machine_cpus(), available_memory(), per_worker)
                    workers, self.threads, self.note = fit.workers, fit.threads, fit.note
                    ray.init(num_cpus=fit.workers * fit.threads, include_dashboard=False, logging_level="ERROR",
                             log_to_driver=False, configure_logging=False)
                else:
                    ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
            except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
                hint = ("; if the cluster uses token authentication, put its token in ~/.ray/auth_token or "
                        "RAY_AUTH_TOKEN") if address.startswith("ray://") else ""
                raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc}{hint}") from exc
            self.started_here = True
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
        device = str(spec.kwargs.get("device") or "auto")
        # Ray hides the GPUs from an actor that reserves none: a worker that may use one reserves one
        gpu = 1 if device.startswith("cuda") or (device == "auto" and gpus) else 0
        if gpu and not gpus:
            self.close()
            raise ClusterError(f"--device {device}: the cluster has no GPU")
        if cpus < 1:
            self.close()
            raise ClusterError(f"the Ray cluster at {address} has no CPUs for workers")
        memory = resources.get("memory")  # bytes, over all nodes
        fit = fit_workers(workers, self.threads, cpus, int(memory) if memory else None, per_worker,
                          "the cluster has", gpus if gpu else None)
        self.workers, self.threads = fit.workers, fit.threads
        self.note = self.note or fit.note
        actor = ray.remote(num_cpus=self.threads, num_gpus=gpu, max_restarts=ACTOR_RESTARTS)(_Actor)
        self.actors = [actor.remote(spec, self.threads) for _ in range(self.workers)]

    def worker_pids(self) -> list[int]:
        return self.ray.get([a.pid.remote() for a in self.actors])

    def start(self) -> None:
        """Wait until every worker has started and loaded its model (a model that cannot load
        fails here, once, with its own message)."""
        try:
            self.worker_pids()
        except self.ray.exceptions.RayActorError as exc:
            raise ClusterError(f"the workers could not start: {exc}") from exc

    def run(self, items: Iterable, done: Callable[[Outcome], None]) -> None:
        ray = self.ray
        queue = deque((item, 1) for item in items)
        pending: dict = {}  # future -> (actor, item, attempt)
        load = {id(a): 0 for a in self.actors}
        failures = {id(a): 0 for a in self.actors}
        live = list(self.actors)
        resting: dict = {}  # actor id -> a ping: a worker whose process died gets no work until Ray has restarted it
        while queue or pending:
            if _stopping(self.should_stop):
                for a in self.actors:  # a cluster that goes on after this batch must not go on with it
                    ray.kill(a)
                raise Cancelled()
            for a in [a for a in live if id(a) in resting]:
                ready, _ = ray.wait([resting[id(a)]], timeout=0)
                if ready:
                    try:
                        ray.get(ready[0])
                        del resting[id(a)]
                    except ray.exceptions.RayActorError:
                        failures[id(a)] += 1
                        if failures[id(a)] > ACTOR_RESTARTS:
                            live.remove(a)  # Ray has given up restarting it
                        else:
                            resting[id(a)] = a.pid.remote()
            working = [a for a in live if id(a) not in resting]
            for _ in range(IN_FLIGHT):  # one item to each worker in turn: a long file's pieces go to different ones
                for a in working:
                    if queue and load[id(a)] < IN_FLIGHT:
                        item, attempt = queue.popleft()
                        pending[a.run.remote(item)] = (a, item, attempt)
                        load[id(a)] += 1
            if not pending and not resting:
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5) if pending else ([], None)
            if not pending:
                time.sleep(0.1)  # every worker is restarting
            for future in ready:
                a, item, attempt = pending.pop(future)
                load[id(a)] -= 1
                try:
                    outcome = ray.get(future)
                except ray.exceptions.RayActorError:  # its process died: the item goes to another worker
                    if a in live and id(a) not in resting:
                        failures[id(a)] += 1
                        resting[id(a)] = a.pid.remote()
                    if attempt < MAX_ATTEMPTS:
                        queue.appendleft((item, attempt + 1))
                    else:
                        done(Outcome(item, error=f"its worker died {attempt} times while working on it"))
                    continue
                except ray.exceptions.RayTaskError as exc:  # a bug of ours in the worker: say it, go on
                    done(Outcome(item, error=f"the worker failed: {exc.cause if exc.cause else exc}"))
                    continue
                done(outcome)
        while queue:  # every worker gone
            item, _ = queue.popleft()
            done(Outcome(item, error="no worker was left to do it"))

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
            self.started_here = False


def executor(cluster: str | None, spec: WorkerSpec, workers: int | None, threads: int | None,
             should_stop: Callable[[], bool] | None = None, per_worker: int | None = None):
    """``InProcess`` without a cluster address, else ``RayCluster`` (validated here). Workers x
    threads are capped at the CPUs (and workers at the memory, ``per_worker`` bytes each, and
    the GPUs) that this machine or the cluster has; ``.note`` is the warning when they were."""
    if cluster is None:
        return InProcess(spec, threads, should_stop, workers)
    if not (cluster in ("local", "auto") or cluster.startswith("ray://")):
        raise ClusterError(f"--cluster {cluster}: give local, auto or ray://HOST:PORT")
    return RayCluster(cluster, spec, workers, threads or 1, should_stop, per_worker)


WORKER_BYTES = 256 << 20  # a worker process before its model: Python, torch, the audio stack
DEFAULT_WORKER_BYTES = 1 << 30  # when the model's size cannot be told here (a name a remote cluster knows)


def worker_bytes(folder) -> int:
    """The memory one worker needs for the model in ``folder``: 1.5 x its weight files, plus the
    process itself (``DEFAULT_WORKER_BYTES`` when the folder cannot be read)."""
    from pathlib import Path

    try:
        weights = sum(p.stat().st_size for p in Path(folder).iterdir()
                      if p.is_file() and p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt"))
    except (OSError, TypeError):
        return DEFAULT_WORKER_BYTES
    return int(weights * 1.5) + WORKER_BYTES if weights else DEFAULT_WORKER_BYTES

