"""The subcommands' progress on stderr: a line redrawn in place on a terminal, a line per tenth
in a log (a step of a thousand-step generation must not write a thousand lines there)."""

import io
import sys

import pytest

from engine.cli import common


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(common.time, "monotonic", lambda: now[0])
    yield now
    common.end_progress()


def test_into_a_log_a_line_at_each_tenth(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    show = common.progress_bar("generating 10 s")
    for step in range(501):
        show(step / 500)
    show(float("nan"))  # ignored, as are fractions outside 0..1 (clamped)
    show(1.5)
    common.end_progress()
    assert err.getvalue().splitlines() == [f"generating 10 s {p}%" for p in range(0, 101, 10)]


def test_interleaved_bars_keep_their_own_tenths_with_their_details(monkeypatch):
    """A transcription batch reports several files in turn: each still writes a line a tenth."""
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bars = [common.progress_bar(f"[{i}/3] take{i}.wav") for i in (1, 2, 3)]
    for step in range(21):
        for bar in bars:
            bar(step / 20)
    common.progress_bar("parsing")(0.45, "120 pieces")  # the dataset builders pass a detail
    lines = err.getvalue().splitlines()
    assert len(lines) == 3 * 11 + 1 and lines[-1] == "parsing 40% · 120 pieces"
    assert [line for line in lines if line.startswith("[2/3]")] == [f"[2/3] take2.wav {p}%" for p in range(0, 101, 10)]


def test_on_a_terminal_redrawn_at_most_every_tenth_of_a_second_and_ended(monkeypatch, clock):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    show = common.progress_bar("composing")
    for step in range(101):  # 10 ms a step: one second
        show(step / 100)
        clock[0] += 0.01
    common.warn("done", after_progress=True)
    text = err.getvalue()
    frames = text.split("\r")[1:]
    assert 10 <= len(frames) <= 12 and frames[0] == "composing   0.0%\033[K"
    assert text.endswith("\rcomposing 100.0%\033[K\nmotet: done\n")  # the last always shown, then a line of its own
    err2 = Terminal()
    monkeypatch.setattr(sys, "stderr", err2)
    common.warn("nothing was showing", after_progress=True)
    assert err2.getvalue() == "motet: nothing was showing\n"


def test_a_bar_ended_early_shows_its_newest_state(monkeypatch, clock):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    show = common.progress_bar("composing")
    show(0.2)
    show(0.37, "2 of 3")  # within REDRAW_S of the last: not drawn yet
    assert err.getvalue() == "\rcomposing  20.0%\033[K"
    common.end_progress()
    assert err.getvalue() == "\rcomposing  20.0%\033[K\rcomposing  37.0% · 2 of 3\033[K\n"
