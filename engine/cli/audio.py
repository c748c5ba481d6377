"""`motet devices`, `motet record`, `motet takes`: audio devices and the take library."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from engine.cli.common import end_progress, fail, float_in, int_in, progress_bar, warn
from engine.models.whisper.options import COMPUTE_TYPES


def _take_name(text: str) -> str:
    """An argparse ``type``: a take name as the library stores it."""
    from engine.audio.takes import check_name

    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub) -> None:
    p = sub.add_parser("devices", help="list audio inputs/outputs and compute devices")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("record", help="record from an input device into the take library (crash-safe)")
    from engine.audio.capture import MAX_CHANNELS
    from engine.audio.session import MAX_TAKE_SECONDS

    p.add_argument("--device", help="input device: its name or number in `motet devices` "
                                    "(default: the system default input)")
    p.add_argument("--seconds", type=float_in(0, MAX_TAKE_SECONDS, low_open=True), default=None,
                   help=f"stop after this long, at most {MAX_TAKE_SECONDS:g} (default: until Ctrl+C)")
    p.add_argument("--name", type=_take_name, help="name of the take")
    p.add_argument("--channels", type=int_in(1, MAX_CHANNELS), default=1,
                   help=f"input channels, 1 to {MAX_CHANNELS} (at most what the device has; default 1)")
    p.add_argument("--transcribe", action="store_true",
                   help="transcribe live: print each line as it is finished; store it with the take")
    p.add_argument("--model", help="Whisper model name or folder for --transcribe (default: first installed)")
    p.add_argument("--compute-type", choices=COMPUTE_TYPES, metavar="{float32,int8}",
                   help="for --transcribe: float32, or int8 (CPU only: cheaper passes, nearly the same text)")

    p = sub.add_parser("takes", help="list recorded takes; recover takes left by a crash; transcribe one again")
    p.add_argument("--recover", action="store_true", help="recover every take a crash left behind")
    p.add_argument("--retranscribe", metavar="ID",
                   help="transcribe the take ID again and store the new transcript with it (the one it "
                        "replaces is kept: `--undo-transcript ID` brings it back)")
    p.add_argument("--undo-transcript", metavar="ID",
                   help="bring back the transcript of take ID before its last change (again: redo)")
    from engine.cli.transcribe import language
    from engine.models.whisper.options import MAX_BEAM_SIZE

    again = p.add_argument_group("options of --retranscribe (as `motet transcribe`)")
    again.add_argument("--model", help="installed model name (tiny.en, small, openai/whisper-small) or a folder")
    again.add_argument("--language", type=language, help="language code (default: detect; English-only models: en)")
    again.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    again.add_argument("--beam-size", type=int_in(1, MAX_BEAM_SIZE), default=5)
    again.add_argument("--word-timestamps", action="store_true")
    again.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    again.add_argument("--compute-type", choices=COMPUTE_TYPES, metavar="{float32,int8}",
                       help="float32, or int8 (CPU only: faster, nearly the same text)")


def cmd_devices(args: argparse.Namespace) -> int:
    from engine.audio.devices import AudioUnavailable, list_devices, recording_inputs
    from engine.device import available_devices, choose_dtype, describe

    try:
        audio = list_devices()
        audio_error = None
        named = [d for d in recording_inputs() if d.source]  # the sound server's, by name
    except AudioUnavailable as exc:
        audio, audio_error, named = [], str(exc), []
    compute = available_devices()
    if args.json:
        print(json.dumps({
            "audio": [d.__dict__ for d in audio], "audio_error": audio_error,
            "inputs": [d.__dict__ for d in named],
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
    if named:
        print("Sound server inputs (`motet record --device NAME`):")
        for d in named:
            mark = "*" if d.is_default_input else " "
            kind = ", output monitor" if d.is_monitor else ""
            print(f" {mark}      {d.name}  [{d.source}, {d.default_samplerate:.0f} Hz{kind}]")
    print("Compute devices:")
    for i, c in enumerate(compute):
        print(f" {'*' if i == 0 else ' '}      {describe(c, choose_dtype(c))}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from engine.audio.devices import AudioUnavailable, find_device
    from engine.audio.session import RecordingSession
    from engine.audio.takes import TakeError, TakeLibrary, transcript_path

    try:
        library = TakeLibrary()
        device = find_device(args.device, "input", exact=True)
    except (AudioUnavailable, TakeError, OSError) as exc:
        return fail(str(exc))
    model = None
    if args.transcribe:  # before anything is recorded: a model that cannot load stops it here
        try:
            model = _load_live_model(args)
        except Exception as exc:  # noqa: BLE001 - CheckpointError, a damaged or foreign file
            return fail(f"the model for --transcribe cannot be used: {exc}")
    try:
        session = RecordingSession(library, device, channels=args.channels, name=args.name,
                                   on_error=warn)
    except (AudioUnavailable, TakeError, OSError) as exc:  # a read-only or full data folder
        return fail(str(exc))
    live = None
    try:
        live = _start_live(model, session, transcript_path(session.take.path)) if model else None
        session.start()
    except Exception as exc:  # noqa: BLE001 - a bad device, an unwritable file: nothing recorded, nothing left
        if live is not None:
            live[0].shutdown()
        try:
            library.discard_recovery(session.take)
        except (TakeError, OSError):
            pass
        return fail(str(exc))
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"recording from {device.name} at {session.sample_rate} Hz into {session.take.path}", flush=True)
    live_failed = False
    while not done.wait(0.1):
        if args.seconds is not None and session.duration >= args.seconds:
            break
        if session.error:
            break
        if live is not None and not live_failed and live[1].error:  # say so now; the take goes on
            live_failed = True
            warn(f"live transcription failed: {live[1].error}; still recording, the audio is kept")
    try:
        take = session.stop()
    except (TakeError, OSError) as exc:  # not filed (a full disk): the audio waits in recovery/
        warn(str(exc))
        if live is not None:
            live[0].shutdown()
        return 1
    if live is not None:
        queue, job = live
        job.wait()
        queue.shutdown()
        if job.error:
            live_failed = True
            warn(f"live transcription failed: {job.error}")
        elif job.result is not None:
            try:
                library.save_transcript(take.id, job.result)
            except (TakeError, OSError) as exc:
                live_failed = True
                warn(f"the transcript was not saved with the take: {exc}")
    print(f"saved '{take.name}': {take.duration:.2f} s -> {take.path}")
    return 1 if session.error or live_failed else 0


def _load_live_model(args: argparse.Namespace):
    """Resolve and load the Whisper model for ``--transcribe``: (path, device, dtype, compute type)."""
    from engine.device import choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.tasks.live import load_model

    path = str(resolve_model(args.model))
    device = choose_device("cpu" if args.compute_type == "int8" else "auto")  # int8 runs on the CPU
    chosen = (path, str(device.torch_device), choose_dtype(device), args.compute_type)
    load_model(*chosen)
    return chosen


def _start_live(model, session, save_to):
    """Live transcription beside ``motet record``: finished lines go to stdout as they come."""
    from engine.jobs import JobQueue, Priority
    from engine.tasks.live import live_transcribe

    model_path, device, dtype, compute_type = model
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
    job = queue.submit(live_transcribe, queue, session.reader(), session.sample_rate, model_path,
                       device=device, dtype=dtype, on_update=show, save_to=save_to, compute_type=compute_type,
                       kind="live", priority=Priority.LIVE, lane="live")
    return queue, job


def _line_time(seconds: float) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"[{int(minutes):02d}:{seconds:04.1f}]"


def cmd_takes(args: argparse.Namespace) -> int:
    """List the library; with ``--recover``, file every take a crash left, one by one: a take
    that cannot be read is reported and kept, and the others are still recovered. With
    ``--retranscribe ID`` or ``--undo-transcript ID``, that and nothing else."""
    from engine.audio.takes import TakeError, TakeLibrary

    if args.retranscribe and args.undo_transcript:
        return fail("--retranscribe and --undo-transcript go one at a time")
    if args.retranscribe:
        return _retranscribe(args)
    given = [flag for flag, value in (("--model", args.model), ("--language", args.language),
                                      ("--word-timestamps", args.word_timestamps),
                                      ("--compute-type", args.compute_type)) if value]
    if given:
        return fail(f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --retranscribe ID")
    if args.undo_transcript:
        return _undo_transcript(args.undo_transcript)
    try:
        lib = TakeLibrary()
        failed = 0
        if args.recover:
            for take in lib.pending_recoveries():
                try:
                    t = lib.recover(take)
                except Exception as exc:  # noqa: BLE001 - a damaged file, a full disk: the others go on
                    failed += 1
                    warn(f"could not recover '{take.name}': {exc}")
                    continue
                print(f"recovered '{t.name}': {t.duration:.2f} s -> {t.path}")
        for t in lib.list():
            print(f"{t.id}  {t.created}  {t.duration:8.2f} s  {t.name}")
        live = lib.in_progress()
        if live:
            print(f"{len(live)} take{' is' if len(live) == 1 else 's are'} being recorded right now: "
                  + ", ".join(f"'{t.name}'" for t in live))
        pending = lib.pending_recoveries()
    except TakeError as exc:  # the library is missing, unreadable, or held too long by another Motet
        return fail(str(exc))
    if pending:
        print(f"{len(pending)} take(s) left by a crash; run `motet takes --recover`")
    return 1 if failed else 0


def _library_and_take(take_id: str):
    """(library, take) for ``--retranscribe``/``--undo-transcript``, or raises TakeError (one line)."""
    from engine.audio.takes import TakeError, TakeLibrary

    lib = TakeLibrary()
    try:
        return lib, lib.get(take_id)
    except KeyError:
        raise TakeError(f"there is no take {take_id!r} in {lib.takes_dir} (`motet takes` lists them)") from None


def _retranscribe(args: argparse.Namespace) -> int:
    """``motet takes --retranscribe ID``: Whisper on the take with the options `motet transcribe`
    takes; the new transcript replaces the stored one (kept for ``--undo-transcript``) only once
    it is whole: a failure or Ctrl+C leaves the take as it was."""
    from engine.atomic import WriteError
    from engine.audio.files import AudioFileError
    from engine.audio.takes import TakeError
    from engine.cli.transcribe import whisper_from_args
    from engine.models.common.errors import printable

    try:
        lib, take = _library_and_take(args.retranscribe)
        lib.check_audio(take.id)  # before the model loads: an unreadable take costs nothing
    except TakeError as exc:
        return fail(printable(str(exc)))
    loaded = whisper_from_args(args)
    if isinstance(loaded, int):
        return loaded
    pipeline, options = loaded
    bar = progress_bar(take.name)
    try:
        result = pipeline.transcribe(take.path, options, progress=bar)
    except (AudioFileError, OSError, ValueError) as exc:
        return fail(f"could not transcribe '{take.name}': {printable(exc)}; its transcript is unchanged",
                    after_progress=True)
    try:
        path = lib.replace_transcript(take.id, result)
    except (WriteError, TakeError, OSError) as exc:
        return fail(f"the new transcript of '{take.name}' was not stored: {exc}; the earlier one is kept",
                    after_progress=True)
    except KeyError:
        return fail(f"'{take.name}' was deleted meanwhile; nothing stored", after_progress=True)
    end_progress()
    print(f"'{take.name}': {len(result.segments)} lines with {pipeline.info['name']} -> {path}")
    if lib.has_previous_transcript(take.id):
        print(f"the earlier transcript is kept: `motet takes --undo-transcript {take.id}` brings it back")
    return 0


def _undo_transcript(take_id: str) -> int:
    from engine.audio.takes import TakeError

    try:
        lib, take = _library_and_take(take_id)
        result = lib.undo_transcript(take.id)
    except (TakeError, ValueError) as exc:
        return fail(str(exc))
    except KeyError:
        return fail(f"there is no take {take_id!r}")
    print(f"'{take.name}': the earlier transcript is back ({len(result.segments) if result else 0} lines)")
    return 0
