"""Start-up time of the app: process start to the main window's first paint, and to the engine ready.

Each run is a fresh child process (`motet` without arguments, through ``gui.shell.main.main``) on
the offscreen platform with its own empty settings and data folders. "Ready" is when the window
says its pages and the compute device are loaded (``MainWindow.ready``). The peer, in the same
run (DESIGN.md §7), is the same command with everything loaded before the window is shown, as
Motet started before the window came first ("eager"). A first run of each warms the disk cache
and is not counted; the medians of the next ``--runs`` (interleaved) are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from gui.shell.app import create_app

stamps = {}

def stamp(name):
    stamps.setdefault(name, time.time())

class Watcher(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "shown" not in stamps:
            window = obj.window() if hasattr(obj, "window") else None
            if window is not None and window.objectName() == "MotetMainWindow":
                stamp("shown")
                ready = getattr(window, "ready", None)
                if ready is None or getattr(window, "is_ready", True):
                    done(window)
                else:
                    ready.connect(lambda: done(window))
        return False

def done(window):
    stamp("ready")
    QTimer.singleShot(0, window.close)

app = create_app()
watcher = Watcher()
app.installEventFilter(watcher)
if sys.argv[1] == "eager":  # the peer: the whole engine and every page before the window shows
    import gui.shell.main_window as mw
    deferred_init = mw.MainWindow.__init__
    mw.MainWindow.__init__ = lambda self, *a, load=True, **k: deferred_init(self, *a, load=True, **k)
    mw.MainWindow.load_after_first_paint = lambda self: None
from gui.shell.main import main
QTimer.singleShot(120_000, app.quit)  # a window that never paints ends the run
main([])
print("STAMPS " + json.dumps(stamps), flush=True)
"""


def one_run(mode: str, timeout_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MOTET_CONFIG_DIR=str(Path(tmp) / "config"),
                   MOTET_DATA_DIR=str(Path(tmp) / "data"))
        start = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True,
                             timeout=timeout_s, cwd=Path(__file__).resolve().parent.parent)
    line = next((x for x in out.stdout.splitlines() if x.startswith("STAMPS ")), None)
    if line is None:
        raise SystemExit(f"startup benchmark: the child printed no times (exit {out.returncode}):\n{out.stderr[-2000:]}")
    stamps = json.loads(line[len("STAMPS "):])
    return {name: t - start for name, t in stamps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each after the warm-up (medians)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one run may take")
    args = parser.parse_args()
    modes = ("deferred", "eager")
    for mode in modes:  # warm-up: file cache, .pyc files
        one_run(mode, args.timeout)
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for _ in range(max(1, args.runs)):
        for mode in modes:
            runs[mode].append(one_run(mode, args.timeout))

    def median(mode: str, stamp: str) -> float:
        return round(statistics.median(r[stamp] for r in runs[mode]), 3)

    print(json.dumps({
        "window_shown_s": median("deferred", "shown"),
        "engine_ready_s": median("deferred", "ready"),
        "eager_window_shown_s": median("eager", "shown"),
        "eager_engine_ready_s": median("eager", "ready"),
        "shown_speedup": round(median("eager", "shown") / median("deferred", "shown"), 2),
        "ready_ratio": round(median("deferred", "ready") / median("eager", "ready"), 2),
        "runs": {mode: [{k: round(v, 3) for k, v in r.items()} for r in rs] for mode, rs in runs.items()},
        "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
