"""The headless side of the `motet` command: subcommands that run engine work without Qt.

One module per family of subcommands (audio, transcribe, music), each adding its parsers and
commands; option checks shared by them are in ``common``.
"""

from __future__ import annotations

import argparse

from engine import __version__
from engine.cli import audio, music, transcribe

COMMANDS = {"devices": audio.cmd_devices, "record": audio.cmd_record, "takes": audio.cmd_takes,
            "transcribe": transcribe.cmd_transcribe, "models": transcribe.cmd_models,
            "train": music.cmd_train, "continue": music.cmd_continue}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motet",
        description="Motet, a desktop AI audio studio. Without a command it opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"motet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for family in (audio, transcribe, music):
        family.add_parsers(sub)
    return parser


def run(argv: list[str] | None = None) -> int | None:
    """Run a subcommand; returns None when there is none (the caller opens the GUI)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        return None
    return COMMANDS[args.command](args)
