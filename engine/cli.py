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
    from engine.audio.takes import TakeLibrary

    try:
        device = find_device(args.device, "input")
        session = RecordingSession(TakeLibrary(), device, channels=args.channels, name=args.name,
                                   on_error=lambda m: print(f"motet: {m}", file=sys.stderr))
        session.start()
    except AudioUnavailable as exc:
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
    print(f"saved '{take.name}': {take.duration:.2f} s -> {take.path}")
    return 1 if session.error else 0


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


COMMANDS = {"devices": cmd_devices, "record": cmd_record, "takes": cmd_takes}


def run(argv: list[str] | None = None) -> int | None:
    """Run a subcommand; returns None when there is none (the caller opens the GUI)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        return None
    return COMMANDS[args.command](args)
