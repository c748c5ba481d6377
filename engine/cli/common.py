"""What the subcommands share: option checks and progress on stderr."""

from __future__ import annotations

import sys


def progress_bar(label: str) -> "callable":
    def show(fraction: float) -> None:
        print(f"\r{label} {fraction * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    return show


def compute_type_ok(compute_type: str | None) -> bool:
    from engine.models.whisper.quantize import COMPUTE_TYPES

    if compute_type is None or compute_type in COMPUTE_TYPES:
        return True
    print(f"motet: --compute-type {compute_type} is not one of {', '.join(COMPUTE_TYPES)}", file=sys.stderr)
    return False
