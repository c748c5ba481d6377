"""`motet devices`, `motet record`, `motet takes`: audio devices and the take library."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from engine.cli.common import compute_type_ok


def add_parsers(sub) -> None:
    p = sub.add_parser("devices", help="list audio inputs/outputs and compute devices")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("record", help="record from an input device into the take library (crash-safe)")
    p.add_argument("--device", help="input device name (default: the system default input)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl+C)")
    p.add_argument("--name", help="name of the take")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--transcribe", action="store_true",
                   help="transcribe live: print each line as it is finished; store it with the take")
    p.add_argument("--model", help="Whisper model name or folder for --transcribe (default: first installed)")
    p.add_argument("--compute-type", metavar="{float32,int8}",
                   help="for --transcribe: float32, or int8 (CPU only: cheaper passes, nearly the same text)")

    p = sub.add_parser("takes", help="list recorded takes; recover takes left by a crash")
    p.add_argument("--recover", action="store_true", help="recover every take a crash left behind")


def cmd_devices(args: argparse.Namespace) -> int:
    from engine.audio.devices import AudioUnavailable, list_devices
    from engine.device import available_devices, choose_dtype, describe

    try:
        audio = list_devices()
        audio_error = None
    except AudioUnavailable as exc:
        audio, audio_error = [], str(exc)
    compute = available_devices()
    if args.json:
        print(json.dumps({
            "audio": [d.__dict__ for d in audio], "audio_error": audio_error,
            "compute": [{"kind": c.kind, "index": c.index, "name": c.name, "memory_bytes": c.memory_bytes}
                        for c in compute],
        }, indent=1))
        return 0
    for title, kind in (("Audio inputs:", "input"), ("Audio outputs:", "output")):
        print(title)
        listed = [d for d in audio if getattr(d, f"max_{kind}_channels")]
        for d in listed:
            mark = "*" if getattr(d, f"is_default_{kind}") else " "
            channels = getattr(d, f"max_{kind}_channels")
            print(f" {mark} {d.index:>3}  {d.name}  [{d.hostapi}, {channels} ch, {d.default_samplerate:.0f} Hz]")
        if not listed:
            print(f"   none{f' ({audio_error})' if audio_error else ''}")
    print("Compute devices:")
    for i, c in enumerate(compute):
        print(f" {'*' if i == 0 else ' '}      {describe(c, choose_dtype(c))}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from engine.audio.devices import AudioUnavailable, find_device
    from engine.audio.session import RecordingSession
    from engine.audio.takes import TakeLibrary, transcript_path

    if args.transcribe and not compute_type_ok(args.compute_type):
        return 2
    library = TakeLibrary()
    try:
        device = find_device(args.device, "input")
        session = RecordingSession(library, device, channels=args.channels, name=args.name,
                                   on_error=lambda m: print(f"motet: {m}", file=sys.stderr))
    except AudioUnavailable as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    live = None
    try:
        live = _start_live(args, session, transcript_path(session.take.path)) if args.transcribe else None
        session.start()
    except Exception as exc:  # noqa: BLE001 - no model, bad device: nothing recorded, nothing left behind
        if live is not None:
            live[0].shutdown()
        library.discard_recovery(session.take)
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"recording from {device.name} at {session.sample_rate} Hz into {session.take.path}", flush=True)
    while not done.wait(0.1):
        if args.seconds is not None and session.duration >= args.seconds:
            break
        if session.error:
            break
    take = session.stop()
    if live is not None:
        queue, job = live
        job.wait()
        queue.shutdown()
        if job.error:
            print(f"motet: live transcription failed: {job.error}", file=sys.stderr)
        elif job.result is not None:
            library.save_transcript(take.id, job.result)
    print(f"saved '{take.name}': {take.duration:.2f} s -> {take.path}")
    return 1 if session.error else 0


def _start_live(args: argparse.Namespace, session, save_to):
    """Live transcription beside ``motet record``: finished lines go to stdout as they come."""
    from engine.device import choose_device, choose_dtype
    from engine.jobs import JobQueue, Priority
    from engine.models.catalog import resolve_model
    from engine.tasks.live import live_transcribe

    model = resolve_model(args.model)
    device = choose_device("cpu" if args.compute_type == "int8" else "auto")  # int8 runs on the CPU
    printed = 0

    def show(update) -> None:
        """A finished line as it comes; a line revised later (a likelier reading found in a
        pause) is printed again with the same time and a ``~``."""
        nonlocal printed
        for index in update.revised:
            if index < printed:
                print(f"{_line_time(update.segments[index].start)}~ {update.segments[index].text.strip()}",
                      flush=True)
        for segment in update.segments[printed:]:
            print(f"{_line_time(segment.start)} {segment.text.strip()}", flush=True)
        printed = len(update.segments)

    queue = JobQueue()
    job = queue.submit(live_transcribe, queue, session.reader(), session.sample_rate, str(model),
                       device=str(device.torch_device), dtype=choose_dtype(device), on_update=show,
                       save_to=save_to, compute_type=args.compute_type, kind="live", priority=Priority.LIVE, lane="live")
    return queue, job


def _line_time(seconds: float) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"[{int(minutes):02d}:{seconds:04.1f}]"


def cmd_takes(args: argparse.Namespace) -> int:
    from engine.audio.takes import TakeLibrary

    lib = TakeLibrary()
    if args.recover:
        for take in lib.pending_recoveries():
            t = lib.recover(take)
            print(f"recovered '{t.name}': {t.duration:.2f} s -> {t.path}")
    for t in lib.list():
        print(f"{t.id}  {t.created}  {t.duration:8.2f} s  {t.name}")
    pending = lib.pending_recoveries()
    if pending:
        print(f"{len(pending)} take(s) left by a crash; run `motet takes --recover`")
    return 0
