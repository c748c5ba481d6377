"""What the GUI tests share."""

import pytest

from engine.jobs import JobQueue
from gui.jobs import JobsBridge
from gui.record_view import RecordView
from gui.settings import app_settings


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
