"""Piano roll speed, offscreen: a 10,000-note score; repainting the visible view, and each
mouse-move step while dragging 1,000 selected notes. Goal: under 16 ms each (60 fps).

Peer: a naive roll that paints every note of the score on each repaint (what a QWidget piano
roll without a visible-range index does); the ratio is ours / naive for the repaint.

    .venv/bin/python benchmarks/piano_roll.py [--notes 10000] [--drag 1000] [--repeats 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--drag", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()

    import tempfile

    os.environ.setdefault("MOTET_DATA_DIR", tempfile.mkdtemp())
    os.environ.setdefault("MOTET_CONFIG_DIR", tempfile.mkdtemp())
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent, QPainter, QPixmap, QRegion

    from engine.jobs import JobQueue
    from engine.midi.score import Note, Score, Track
    from gui.common.settings import app_settings
    from gui.jobs.bridge import JobsBridge
    from gui.pianoroll.geometry import velocity_colour
    from gui.pianoroll.view import PianoRollView
    from gui.shell.app import create_app

    app = create_app()
    rng = random.Random(0)
    notes = sorted(Note(rng.randrange(0, 480 * 4 * 1250, 60), rng.randrange(36, 96), rng.choice([60, 120, 240, 480]),
                        rng.randrange(40, 127)) for _ in range(args.notes))
    queue = JobQueue()
    bridge = JobsBridge(queue)
    view = PianoRollView(queue, bridge, app_settings())
    view.resize(1280, 800)
    view.show()
    view.doc.load(Score(tracks=[Track(notes=notes)]))
    app.processEvents()
    canvas = view.canvas
    # scroll to the middle of the score and the middle of the notes' range
    view.grid_area.horizontalScrollBar().setValue(int(view.geo.x(480 * 4 * 600)))
    view.grid_area.verticalScrollBar().setValue(view.geo.y(80))
    app.processEvents()
    visible = canvas.visibleRegion().boundingRect()
    pixmap = QPixmap(canvas.size().boundedTo(visible.size().expandedTo(visible.size())))

    def repaint_visible() -> float:
        start = time.perf_counter()
        canvas.render(pixmap, QPoint(), QRegion(visible))
        return (time.perf_counter() - start) * 1000

    repaint = [repaint_visible() for _ in range(args.repeats)]

    def naive_repaint() -> float:
        start = time.perf_counter()
        p = QPainter(pixmap)
        p.translate(-visible.left(), -visible.top())
        for n in notes:  # every note, whether on screen or not
            p.setBrush(velocity_colour(n.velocity, False))
            p.drawRect(canvas.note_rect(n))
        p.end()
        return (time.perf_counter() - start) * 1000

    naive = [naive_repaint() for _ in range(max(5, args.repeats // 5))]

    # drag 1,000 selected notes: select the ones nearest the view, grab one, move step by step
    t0 = view.geo.tick(visible.left())
    chosen = sorted(notes, key=lambda n: abs(n.start - t0))[:args.drag]
    view.doc.select(chosen)
    view.set_tool("select")
    anchor = min(chosen, key=lambda n: (abs(n.start - view.geo.tick(visible.center().x())),
                                        abs(view.geo.y(n.pitch) - visible.center().y())))
    start_pos = QPoint(int(view.geo.x(anchor.start + anchor.duration / 2)), view.geo.y(anchor.pitch) + 3)

    def mouse(kind, pos, buttons):
        return QMouseEvent(kind, QPointF(pos), QPointF(pos), Qt.MouseButton.LeftButton, buttons,
                           Qt.KeyboardModifier.NoModifier)

    canvas.mousePressEvent(mouse(QEvent.Type.MouseButtonPress, start_pos, Qt.MouseButton.LeftButton))
    steps = []
    for i in range(1, args.repeats + 1):
        pos = start_pos + QPoint(3 * i, (i % 7) * 2)
        begin = time.perf_counter()
        canvas.mouseMoveEvent(mouse(QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton))
        canvas.repaint()  # paint now what the step invalidated, as the next frame would
        steps.append((time.perf_counter() - begin) * 1000)
    release = time.perf_counter()
    canvas.mouseReleaseEvent(mouse(QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.NoButton))
    release_ms = (time.perf_counter() - release) * 1000
    moved = len(view.doc.selection)
    view.doc.undo_stack.setClean()
    view.stop()
    bridge.close()
    queue.shutdown()

    def summary(values):
        values = sorted(values)
        return {"median_ms": round(statistics.median(values), 3), "p90_ms": round(values[int(0.9 * (len(values) - 1))], 3)}

    print(json.dumps({
        "benchmark": "piano_roll", "notes": args.notes, "dragged": args.drag, "repeats": args.repeats,
        "view_px": [visible.width(), visible.height()],
        "repaint_visible": summary(repaint),
        "drag_step_with_repaint": summary(steps),
        "drop_1000_notes_ms": round(release_ms, 3), "notes_moved": moved,
        "peer_naive_repaint_all_notes": summary(naive),
        "ratio_repaint_vs_naive": round(statistics.median(repaint) / statistics.median(naive), 3),
        "goal_ms": 16,
    }, indent=1))


if __name__ == "__main__":
    main()
