"""What the subcommands share: option checks and progress on stderr."""

from __future__ import annotations

import argparse
import math
import sys
import time


def warn(message: str, after_progress: bool = False) -> None:
    """One line on stderr: ``motet: message`` (on a new line when a progress bar was showing)."""
    if after_progress:
        end_progress()
    print(f"motet: {message}", file=sys.stderr, flush=True)


def fail(message: str, status: int = 2, after_progress: bool = False) -> int:
    """``warn`` and the exit status to return: ``return fail("...")``."""
    warn(message, after_progress)
    return status


REDRAW_S = 0.1  # a terminal's progress line is redrawn at most this often


class _Shown:
    """What the progress bars have printed: on a terminal the one line redrawn in place (the
    newest text, drawn or still waiting for its turn), into a log each label's last tenth."""

    drawn_at = -REDRAW_S
    drawn = newest = ""
    tenths: dict[str, int] = {}


def progress_bar(label: str) -> "callable":
    """``show(fraction, detail="")``: on a terminal, one line redrawn in place (at most every
    REDRAW_S); into a file or a pipe (a log, a cluster job's output), a line at each tenth, not one
    per step, for each label apart (a transcription batch runs several files at once)."""
    _Shown.tenths.pop(label, None)

    def show(fraction: float, detail: str = "") -> None:
        if not math.isfinite(fraction):
            return
        fraction = min(max(fraction, 0.0), 1.0)
        detail = f" · {detail}" if detail else ""
        if sys.stderr.isatty():
            _Shown.newest = f"{label} {fraction * 100:5.1f}%{detail}"
            if fraction == 1 or time.monotonic() - _Shown.drawn_at >= REDRAW_S:
                _draw()
            return
        tenth = math.floor(fraction * 10)
        if _Shown.tenths.get(label) != tenth:
            _Shown.tenths[label] = tenth
            print(f"{label} {tenth * 10}%{detail}", file=sys.stderr, flush=True)

    return show


def _draw() -> None:
    _Shown.drawn_at, _Shown.drawn = time.monotonic(), _Shown.newest
    print(f"\r{_Shown.drawn}\033[K", end="", file=sys.stderr, flush=True)  # (ESC[K: the rest of the line cleared)


def end_progress() -> None:
    """Ends a terminal's progress line, showing its newest state (the last redraw may have been
    skipped), so that what is printed next starts on a line of its own."""
    if _Shown.newest:
        if _Shown.newest != _Shown.drawn:
            _draw()
        print(file=sys.stderr, flush=True)
    _Shown.drawn_at, _Shown.drawn, _Shown.newest = -REDRAW_S, "", ""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``motet record: --seconds: must be ...``
    (argparse's usage block is what ``--help`` is for)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _number(kind: type, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_in(low: int, high: int | None = None):
    """An argparse ``type``: a whole number in [low, high] (high None: no upper bound)."""
    def parse(text: str) -> int:
        value = _number(int, text)
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def exact(value: float) -> str:
    """``value`` as short as ``:g`` writes it where that is the same number, else every digit it
    needs (``300.0001``, not ``300``): a bound and the value refused never read alike."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def float_in(low: float, high: float | None = None, low_open: bool = False):
    """An argparse ``type``: a finite number in [low, high] ((low, high] with ``low_open``)."""
    def parse(text: str) -> float:
        value = _number(float, text)
        if value < low or (low_open and value == low) or (high is not None and value > high):
            lower = f"above {exact(low)}" if low_open else f"at least {exact(low)}"
            bound = lower if high is None else f"{lower} and at most {exact(high)}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {exact(value)}")
        return value

    parse.__name__ = "number"
    return parse


def prompt_text(text: str) -> str:
    """An argparse ``type`` for a prompt: text as typed, refused (one line) when the terminal
    passed bytes that are not UTF-8 (``the prompt is not valid text (byte 0xff)``)."""
    from engine.tasks.generate import check_prompt

    try:
        check_prompt(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def printable(text: object) -> str:
    """``str(text)`` safe to print: bytes a file name holds that are not UTF-8 shown as ``\\xff``."""
    text = str(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no byte decoded to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
