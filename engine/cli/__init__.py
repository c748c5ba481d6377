"""The headless side of the `motet` command: subcommands that run engine work without Qt.

One module per family of subcommands (audio, transcribe, music, generate, compose, batch, notes), each adding its parsers and
commands; option checks shared by them are in ``common``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import traceback

from engine import __version__
from engine.cli import audio, batch, compose, generate, music, notes, transcribe
from engine.cli.common import Parser, end_progress, printable

COMMANDS = {"devices": audio.cmd_devices, "record": audio.cmd_record, "takes": audio.cmd_takes,
            "transcribe": transcribe.cmd_transcribe, "models": transcribe.cmd_models,
            "train": music.cmd_train, "continue": music.cmd_continue, "generate": generate.cmd_generate, "compose": compose.cmd_compose,
            "batch": batch.cmd_batch, "notes": notes.cmd_notes}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="motet",
        description="Motet, a desktop AI audio studio. Without a command it opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"motet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for family in (audio, transcribe, music, generate, compose, batch, notes):
        family.add_parsers(sub)
    return parser


def run(argv: list[str] | None = None) -> int | None:
    """Run a subcommand; returns None when there is none (the caller opens the GUI)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        return None
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:  # Ctrl+C: one line (generate and compose say themselves what they kept)
        end_progress()
        print(f"motet {args.command}: cancelled", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:  # `motet takes | head -1`: the reader has gone, nothing more to say
        _silence_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line here, the traceback in a file
        where = _save_traceback(args.command)
        print(printable(f"motet {args.command}: unexpected error: {type(exc).__name__}: {exc}"
                        + (f" (details in {where})" if where else "")), file=sys.stderr)
        return 70


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _save_traceback(command: str) -> str | None:
    from engine.atomic import WriteError, write_bytes
    from engine.audio.takes import data_dir

    try:
        folder = data_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{datetime.datetime.now():%Y%m%d-%H%M%S}-{command}.txt"
        write_bytes(path, traceback.format_exc().encode("utf-8", "backslashreplace"))  # a name that is not UTF-8 too
        return str(path)
    except (OSError, WriteError):
        return None
