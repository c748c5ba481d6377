"""The piano roll alone, on its own job queue, for the tests of this folder."""

import pytest

from engine.jobs import JobQueue
from gui.common.settings import app_settings
from gui.jobs.bridge import JobsBridge
from gui.pianoroll.view import PianoRollView


@pytest.fixture
def roll(qtbot):
    queue = JobQueue()
    bridge = JobsBridge(queue)
    view = PianoRollView(queue, bridge, app_settings())
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    view.snap_combo.setCurrentIndex(2)  # 1/16 = 120 ticks
    yield view
    view.stop()
    bridge.close()
    queue.shutdown()
