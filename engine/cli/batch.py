"""`motet batch transcribe|generate`: many files or prompts, in this process or on a Ray cluster
(``--cluster``), resumable (a manifest in the output folder), with a progress line on stderr and
a JSON summary on stdout (engine/batch)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading

from engine.cli.common import fail, float_in, int_in
from engine.cli.transcribe import language
from engine.models.whisper.options import COMPUTE_TYPES, MAX_BEAM_SIZE

CLUSTER_HELP = ("local: start a Ray cluster on this machine; auto: join the one running here; ray://HOST:PORT: "
                "join a remote one (needs `pip install 'motet[cluster]'`). Without it the batch runs in this process")


def _cluster(text: str) -> str:
    if text in ("local", "auto") or text.startswith("ray://"):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: give local, auto or ray://HOST:PORT")


def _common(p) -> None:
    p.add_argument("--output-dir", required=True, metavar="OUT",
                   help="where the outputs go; its manifest (motet-batch.jsonl) lets a rerun do only what is missing")
    p.add_argument("--model", default=None, help="an installed model name or a folder (on a cluster: as each "
                                                 "node knows it)")
    p.add_argument("--cluster", type=_cluster, default=None, metavar="local|auto|ray://HOST:PORT", help=CLUSTER_HELP)
    p.add_argument("--workers", type=int_in(1, 4096), default=None, metavar="N",
                   help="Ray workers (default, and at most: the cluster's CPUs / threads per worker, as many as "
                        "its memory holds)")
    p.add_argument("--threads-per-worker", type=int_in(1, 256), default=None, metavar="T",
                   help="CPU threads each worker uses (on a cluster default 1; in-process: torch's default)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def add_parsers(sub) -> None:
    from engine.batch.pieces import PIECE_SECONDS
    from engine.cli.generate import add_music_options
    from engine.transcript import FORMATS

    p = sub.add_parser("batch", help="transcribe many files or render many prompts, here or on a Ray cluster")
    kinds = p.add_subparsers(dest="batch_command", metavar="KIND", required=True)
    t = kinds.add_parser("transcribe", help="audio files and folders (searched for audio) to transcripts")
    t.add_argument("inputs", nargs="+", metavar="INPUT")
    t.add_argument("--format", choices=FORMATS, default="txt")
    t.add_argument("--language", type=language, default=None, help="language code (default: detect; English-only models: en)")
    t.add_argument("--beam-size", type=int_in(1, MAX_BEAM_SIZE), default=5)
    t.add_argument("--word-timestamps", action="store_true")
    t.add_argument("--compute-type", choices=COMPUTE_TYPES, default=None, metavar="{float32,int8}")
    t.add_argument("--piece-seconds", type=float_in(30, 24 * 3600), default=PIECE_SECONDS, metavar="S",
                   help=f"files longer than this are cut at silences into pieces that workers share "
                        f"(default {PIECE_SECONDS:g})")
    _common(t)
    g = kinds.add_parser("generate", help="a text file of prompts (one a line) to music with MusicGen")
    g.add_argument("prompts", metavar="PROMPTS.txt")
    add_music_options(g, seed_help="each prompt's seed is made from this and the prompt (default: drawn, and recorded)")
    _common(g)


def _show(state) -> None:
    print(f"\r{state.line()}\033[K", end="", file=sys.stderr, flush=True)


KNOWN_ERRORS = ("BatchInputError", "ClusterError", "CheckpointError", "DeviceError", "ValueError", "WriteError",
                "FileExistsWriteError", "OSError", "PermissionError", "FileNotFoundError", "NotADirectoryError",
                "IsADirectoryError")


def _warn(message: str) -> None:
    """A warning line on stderr (over the progress line, which the next update redraws below it)."""
    print(f"\r\033[Kmotet: {message}" if sys.stderr.isatty() else f"motet: {message}", file=sys.stderr, flush=True)


def cmd_batch(args: argparse.Namespace) -> int:
    from engine.batch.executors import ClusterError
    from engine.batch.inputs import BatchInputError
    from engine.cancel import Cancelled
    from engine.device import DeviceError
    from engine.models.common.errors import CheckpointError

    what = args.batch_command
    arguments = _transcribe(args) if what == "transcribe" else _generate(args)
    try:
        with _stdout_to_stderr(), _ctrl_c() as stop:
            summary = _on_the_queue(what, arguments, stop) if args.cluster is None else _here(what, arguments, stop)
    except (BatchInputError, ClusterError, CheckpointError, DeviceError, ValueError, OSError) as exc:
        return fail(_one_line(exc), after_progress=True)  # OSError: the manifest could not be written
    except (KeyboardInterrupt, Cancelled):
        print(file=sys.stderr)
        fail("stopped; what was finished is kept, and the same command does the rest")
        return 130
    print(file=sys.stderr)
    print(json.dumps(summary.to_dict(), indent=1))
    for name, why in summary.failed.items():
        fail(f"{name}: {why}")
    return 2 if summary.failed else 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def _ctrl_c():
    """Ctrl+C asks the batch to stop (an Event the batch polls: Ray's wait can swallow the
    KeyboardInterrupt); a second Ctrl+C interrupts at once."""
    stop = threading.Event()

    def asked(*_):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, asked)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _on_the_queue(what: str, arguments: dict, stop: threading.Event):
    """Without a cluster: the batch as one job on the job queue, as the app runs it; Ctrl+C
    cancels it between pieces (what is finished stays)."""
    from engine.cancel import Cancelled
    from engine.jobs import JobQueue, JobState
    from engine.tasks.batch import run_batch

    queue = JobQueue()
    try:
        job = queue.submit(run_batch, what, show=_show, warn=_warn, **arguments, kind="batch", title=f"batch {what}")
        while not job.wait(0.2):
            if stop.is_set():
                queue.cancel(job.id)  # ends between pieces; the job then ends cancelled
        if job.state is JobState.CANCELLED:
            raise Cancelled()
        if job.state is JobState.FAILED:
            if job.error_type in KNOWN_ERRORS:
                raise ValueError(job.error_message)
            bug = RuntimeError(job.error)  # a bug of ours: one line here, the job's traceback in the crash log
            bug.add_note(job.traceback or "")
            raise bug
        return job.result
    finally:
        queue.shutdown()


def _here(what: str, arguments: dict, stop: threading.Event):
    """On a cluster: this process is only the driver (Ray's workers do the work), so the batch
    runs directly; Ctrl+C stops it and the cluster drops what it had."""
    from engine.batch.runner import generate_batch, transcribe_batch

    return (transcribe_batch if what == "transcribe" else generate_batch)(**arguments, progress=_show,
                                                                          should_stop=stop.is_set, warn=_warn)


@contextlib.contextmanager
def _stdout_to_stderr():
    """While the batch runs, what anything prints (Ray's raylet does, about a worker that died) goes
    to stderr, so that stdout carries the JSON summary alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _transcribe(args: argparse.Namespace) -> dict:
    from engine.models.whisper.options import TranscribeOptions

    options = TranscribeOptions(language=args.language, beam_size=args.beam_size,
                                word_timestamps=args.word_timestamps)
    return {"inputs": args.inputs, "out_dir": args.output_dir, "fmt": args.format, "model": args.model,
            "options": options, "cluster": args.cluster, "workers": args.workers,
            "threads": args.threads_per_worker, "piece_seconds": args.piece_seconds, "device": args.device,
            "compute_type": args.compute_type}


def _generate(args: argparse.Namespace) -> dict:
    from engine.batch.workers import RenderSettings

    settings = RenderSettings(args.seconds, args.cfg, args.temperature, args.top_k, args.top_p, args.variations,
                              args.compute_type)
    return {"prompts_file": args.prompts, "out_dir": args.output_dir, "model": args.model, "settings": settings,
            "seed": args.seed, "cluster": args.cluster, "workers": args.workers, "threads": args.threads_per_worker,
            "device": args.device}
