"""The waits GUI tests use must let other Python threads run (see tests/qt_wait.py)."""

import threading
import time

from qt_wait import wait, wait_until


def steps_per_second(block) -> float:
    """How fast a Python thread counts while ``block()`` runs on this one."""
    count, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        start, t0 = count[0], time.perf_counter()
        block()
        return (count[0] - start) / (time.perf_counter() - t0)
    finally:
        stop.set()
        thread.join()


def test_waits_release_the_python_lock(qtbot):
    """Compared with the same thread during time.sleep in the same run (a ratio, not a speed):
    QTest.qWait gets ~1 %; a wait that runs an event loop gets about all of it."""
    asleep = steps_per_second(lambda: time.sleep(0.5))
    t0 = time.monotonic()
    ours = steps_per_second(lambda: wait(500))
    ours_until = steps_per_second(lambda: wait_until(lambda: time.monotonic() - t0 > 1.5, 10))
    bot = steps_per_second(lambda: qtbot.wait(500))
    t1 = time.monotonic()
    bot_until = steps_per_second(lambda: qtbot.waitUntil(lambda: time.monotonic() - t1 > 0.5, timeout=10000))
    for name, rate in [("wait", ours), ("wait_until", ours_until), ("qtbot.wait", bot),
                       ("qtbot.waitUntil", bot_until)]:
        assert rate > 0.25 * asleep, f"{name} starves other threads: {rate:.0f}/s vs {asleep:.0f}/s asleep"


def test_wait_until_fails_with_a_clear_message(qtbot):
    try:
        wait_until(lambda: False, 0.1, "the impossible")
    except TimeoutError as exc:
        assert "the impossible did not happen within" in str(exc)
    else:
        raise AssertionError("no timeout")
