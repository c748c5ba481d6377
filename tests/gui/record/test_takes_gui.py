"""The Record view when a take cannot be filed (the disk filled at Stop): the banner says where the
audio is and Recover files it once there is room. A real input (tests/conftest.py's PulseAudio)."""

import errno
from pathlib import Path

import pytest
from qt_wait import wait_until

import engine.audio.takes as takes_module
from engine.atomic import WriteError
from engine.audio.takes import TakeLibrary
from gui.shell.main_window import MainWindow

pytestmark = pytest.mark.pulse

STREAM_START_S = 30  # an audio stream delivering its first block: no real work, a busy machine


def test_a_take_not_filed_at_stop_is_offered_for_recovery(pulse, qtbot, tmp_path, monkeypatch):
    window = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(window)
    window.show()
    view = window.record_view
    assert view.start_recording(name="Full")
    session = view.session
    wait_until(lambda: session.recorder.frames_written > 0, STREAM_START_S, "audio reaching the take")

    real_write_text = takes_module.write_text

    def full_disk(path, text):
        raise WriteError(errno.ENOSPC, f"could not save '{Path(path).name}': the disk is full")

    monkeypatch.setattr(takes_module, "write_text", full_disk)
    assert view.stop_recording() is None
    assert not view.recording and view.record_button.text() == "● Record"
    assert "not saved" in view.banner.label.text() and "disk is full" in view.banner.label.text()
    if view.transcript.enabled_check.isChecked():  # the live transcript's line says where it went
        assert "waits in recovery/" in view.transcript.status_label.text()
    assert window.library.list() == []

    monkeypatch.setattr(takes_module, "write_text", real_write_text)  # room again
    view.banner.button("Recover").click()
    [take] = window.library.list()
    assert take.name == "Full (recovered)" and take.duration > 0
    assert view.takes.topLevelItemCount() == 1
    window.close()
