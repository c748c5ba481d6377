"""Closing the main window while a take is being recorded (the tests' PulseAudio input): it asks
"A take is being recorded. Stop and save it, or keep recording?"; "Stop and save" saves the take
and closes, "Keep recording" keeps the window and the recording."""

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from qt_wait import wait_until

from engine.audio.takes import TakeLibrary
from gui.shell.main_window import MainWindow

pytestmark = pytest.mark.pulse

WAIT_S = 60  # a stream delivering its first half second on a slow, busy machine


def answer(button_text, seen):
    """Click ``button_text`` in the question box once it is up; note what it said. Returns a
    function that stops looking."""
    stopped = []

    def look():
        if stopped:
            return
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, look)
            return
        box = boxes[0]
        seen.append((box.text(), sorted(b.text() for b in box.buttons())))
        next(b for b in box.buttons() if b.text() == button_text).click()
    QTimer.singleShot(0, look)
    return lambda: stopped.append(True)


@pytest.fixture
def recording_window(pulse, qtbot, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    w = MainWindow(library=lib)
    qtbot.addWidget(w)
    w.show()
    view = w.record_view
    view.transcript.enabled_check.setChecked(False)
    assert view.start_recording(name="Closing")
    wait_until(lambda: view.session.duration >= 0.5, WAIT_S, "audio recorded")
    yield w, lib
    if view.recording:
        view.stop_recording()
    if w.isVisible():
        w.close()


QUESTION = ("A take is being recorded. Stop and save it, or keep recording?", ["Keep recording", "Stop and save"])


def test_keep_recording_keeps_the_window_and_the_recording(recording_window):
    w, lib = recording_window
    seen = []
    answer("Keep recording", seen)
    assert not w.close()  # the close was cancelled
    assert seen == [QUESTION]
    assert w.isVisible() and w.record_view.recording
    assert lib.list() == []
    take = w.record_view.stop_recording()
    assert take is not None and take.duration > 0


def test_stop_and_save_saves_the_take_and_closes(recording_window):
    w, lib = recording_window
    seen = []
    answer("Stop and save", seen)
    assert w.close()
    assert seen == [QUESTION]
    assert not w.isVisible() and not w.record_view.recording
    [take] = lib.list()
    assert take.name == "Closing" and take.duration >= 0.5


def test_closing_when_not_recording_asks_nothing(pulse, qtbot, tmp_path):
    w = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(w)
    w.show()
    seen = []
    stop_looking = answer("Keep recording", seen)
    assert w.close()
    qtbot.wait(100)
    stop_looking()
    assert seen == []
