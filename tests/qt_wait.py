"""Waiting in GUI tests without starving the engine's threads.

PySide6's ``QTest.qWait`` holds the Python lock while it waits: a Python thread counting in a
loop made ~0.1 M steps/s during it against ~9 M/s during ``time.sleep`` (2-core machine), so an
engine thread (live transcription, a job) barely runs while a test waits that way.
``QEventLoop.exec`` releases the lock. ``wait`` and ``wait_until`` here run a real event loop;
pytest-qt 4.5's ``qtbot.wait`` and ``waitUntil`` do too (tests/gui/test_waiting.py checks both,
so a pytest-qt that went back to ``qWait`` would be caught).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def wait(ms: int) -> None:
    """Process events for ``ms`` milliseconds, other threads running meanwhile."""
    loop = QEventLoop()
    QTimer.singleShot(max(0, int(ms)), loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str = "the condition",
               poll_ms: int = 20) -> None:
    """Process events until ``condition()`` holds; fail after ``timeout_s`` seconds (a bound
    set from the size of the work, not from how fast one machine did it)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")
        wait(poll_ms)
