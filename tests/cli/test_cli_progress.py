"""The subcommands' progress on stderr: a line redrawn in place on a terminal, a line per tenth
in a log (a step of a thousand-step generation must not write a thousand lines there)."""

import io
import sys

from engine.cli import common


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_into_a_log_a_line_at_each_tenth(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    show = common.progress_bar("generating 10 s")
    for step in range(501):
        show(step / 500)
    common.end_progress()
    assert err.getvalue().splitlines() == [f"generating 10 s {p}%" for p in range(0, 101, 10)]


def test_on_a_terminal_redrawn_at_most_every_tenth_of_a_second_and_ended(monkeypatch):
    err, clock = Terminal(), [100.0]
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(common.time, "monotonic", lambda: clock[0])
    show = common.progress_bar("composing")
    for step in range(101):  # 10 ms a step: one second
        show(step / 100)
        clock[0] += 0.01
    common.warn("done", after_progress=True)
    text = err.getvalue()
    frames = text.split("\r")[1:]
    assert 10 <= len(frames) <= 12 and frames[0] == "composing   0.0%"
    assert text.endswith("\rcomposing 100.0%\nmotet: done\n")  # the last always shown, then a line of its own
    err2 = Terminal()
    monkeypatch.setattr(sys, "stderr", err2)
    common.warn("nothing was showing", after_progress=True)
    assert err2.getvalue() == "motet: nothing was showing\n"
