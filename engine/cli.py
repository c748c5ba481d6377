"""The headless side of the `motet` command: subcommands that run engine work without Qt."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from engine import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motet",
        description="Motet, a desktop AI audio studio. Without a command it opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"motet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    p = sub.add_parser("transcribe", help="transcribe audio files with Whisper")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="installed model name (tiny.en, small, openai/whisper-small) or a folder")
    p.add_argument("--language", help="language code (default: detect; English-only models: en)")
    p.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--word-timestamps", action="store_true")
    p.add_argument("--format", choices=("txt", "srt", "vtt", "json"), default="txt")
    p.add_argument("--output-dir", default=".", help="where the transcripts go (default: here)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")

    p = sub.add_parser("models", help="list or download Whisper models")
    models = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    models.add_parser("list", help="installed models with size and format")
    d = models.add_parser("download", help="download openai/whisper-NAME into the Hugging Face cache")
    d.add_argument("name")

    p = sub.add_parser("takes", help="list recorded takes; recover takes left by a crash")
    p.add_argument("--recover", action="store_true", help="recover every take a crash left behind")
    return parser


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
    device = choose_device()
    printed = 0

    def show(update) -> None:
        nonlocal printed
        for segment in update.segments[printed:]:
            minutes, seconds = divmod(segment.start, 60)
            print(f"[{int(minutes):02d}:{seconds:04.1f}] {segment.text.strip()}", flush=True)
        printed = len(update.segments)

    queue = JobQueue()
    job = queue.submit(live_transcribe, queue, session.reader(), session.sample_rate, str(model),
                       device=str(device.torch_device), dtype=choose_dtype(device), on_update=show,
                       save_to=save_to, kind="live", priority=Priority.LIVE, lane="live")
    return queue, job


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


def _progress_bar(label: str) -> "callable":
    def show(fraction: float) -> None:
        print(f"\r{label} {fraction * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    return show


def cmd_transcribe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.audio.files import AudioFileError
    from engine.device import choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.models.whisper.errors import CheckpointError
    from engine.models.whisper.transcribe import TranscribeOptions, WhisperPipeline
    from engine.transcript import write_transcript

    try:
        device = choose_device(args.device)
        folder = resolve_model(args.model)
        pipeline = WhisperPipeline(folder, device=device.torch_device, dtype=choose_dtype(device))
    except (ValueError, CheckpointError) as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    if args.language and not pipeline.model.config.is_multilingual and args.language != "en":
        print(f"motet: {pipeline.info['name']} is English-only; --language {args.language} needs a multilingual model",
              file=sys.stderr)
        return 2
    options = TranscribeOptions(language=args.language, task=args.task, beam_size=args.beam_size,
                                word_timestamps=args.word_timestamps)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in args.files:
        try:
            result = pipeline.transcribe(name, options, progress=_progress_bar(Path(name).name))
            out = write_transcript(result, out_dir / f"{Path(name).stem}.{args.format}", args.format)
        except (AudioFileError, OSError, ValueError) as exc:
            print(f"\nmotet: {exc}", file=sys.stderr)
            failures += 1
            continue
        rtf = result.compute_seconds / result.duration if result.duration else 0.0
        print(f"\r{Path(name).name}: {result.duration:.1f} s of audio in {result.compute_seconds:.1f} s "
              f"(RTF {rtf:.3f}) -> {out}", file=sys.stderr)
    return 2 if failures else 0


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models.catalog import download_model, installed_models
    from engine.models.whisper.errors import CheckpointError

    if args.models_command == "list":
        models = installed_models()
        for m in models:
            print(f"{m.name:32} {m.size_bytes / 2**20:8.0f} MB  {m.format:12} {m.source:20} {m.path}")
        if not models:
            print("no Whisper model installed; try `motet models download tiny.en`")
        return 0
    try:
        path = download_model(args.name, progress=_progress_bar(args.name))
    except CheckpointError as exc:
        print(f"\nmotet: {exc}", file=sys.stderr)
        return 2
    print(f"\rdownloaded {args.name} -> {path}")
    return 0


COMMANDS = {"devices": cmd_devices, "record": cmd_record, "takes": cmd_takes, "transcribe": cmd_transcribe,
            "models": cmd_models}


def run(argv: list[str] | None = None) -> int | None:
    """Run a subcommand; returns None when there is none (the caller opens the GUI)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        return None
    return COMMANDS[args.command](args)
