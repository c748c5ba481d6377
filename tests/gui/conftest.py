"""What the GUI tests share."""

import pytest

from engine.jobs import JobQueue
from gui.common.settings import app_settings
from gui.jobs.bridge import JobsBridge
from gui.record.view import RecordView


@pytest.fixture
def record_view_of(qtbot):
    """``record_view_of(library)``: a shown Record view on that take library, shut down after."""
    made = []

    def make(library):
        queue = JobQueue()
        bridge = JobsBridge(queue)
        view = RecordView(library, queue, bridge, app_settings())
        qtbot.addWidget(view)
        view.show()
        made.append((view, bridge, queue))
        return view

    yield make
    for view, bridge, queue in made:
        view.shutdown()
        bridge.close()
        queue.shutdown()
