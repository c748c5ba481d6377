"""The main window as a person meets it: navigation, status bar, persistence, bad input."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QLineEdit, QWidget
from qt_wait import wait

from engine.audio import devices as audio_devices
from engine.audio.devices import AudioUnavailable
from engine.jobs import JobState
from gui.shell.main_window import MainWindow


@pytest.fixture
def make_window(qtbot):
    windows = []

    def make(**kwargs):
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def test_window_opens_with_navigation_jobs_panel_and_status(make_window):
    w = make_window()
    assert [w.nav.item(i).text() for i in range(w.nav.count())] == ["Record", "Transcribe", "Piano roll", "Generate"]
    for row in range(4):
        w.nav.setCurrentRow(row)
        assert w.stack.currentIndex() == row
    assert w.is_ready and not w.jobs_dock.isVisible()  # no job yet: the page has the room
    assert "CPU" in w.compute_label.text() or "CUDA" in w.compute_label.text() or "MPS" in w.compute_label.text()
    assert w.input_label.text()


def test_layout_page_and_view_choices_persist_across_restarts(make_window, qtbot):
    w = make_window()
    w.resize(QSize(790, 640))  # the offscreen screen is 800x800 (the pages may need more width)
    size = w.size()
    assert size.height() == 640
    w.nav.setCurrentRow(2)
    w.record_view.spectrogram.scale = "linear"
    w.record_view.spectrogram.db_range = (-80.0, -10.0)
    w.close()

    w2 = make_window()
    assert w2.nav.currentRow() == 2
    assert w2.size() == size
    assert w2.record_view.spectrogram.scale == "linear"
    assert tuple(w2.record_view.spectrogram.db_range) == (-80.0, -10.0)


def test_no_input_device_disables_record_and_says_why(make_window, monkeypatch):
    def no_audio():
        raise AudioUnavailable("the audio library PortAudio could not be loaded")

    monkeypatch.setattr(audio_devices, "list_devices", no_audio)
    w = make_window()
    view = w.record_view
    assert not view.record_button.isEnabled()
    assert view.reason_label.isVisible()
    assert "no audio input device" in view.reason_label.text()
    assert "No audio input" in w.input_label.text()
    view.toggle_recording()  # Space does nothing rather than fail
    assert not view.recording


def _wait_loaded(qtbot, view, path):
    job_id = view.open_file(str(path))
    qtbot.waitUntil(lambda: view._load_job is None, timeout=10000)
    return job_id


def test_open_audio_file_shows_spectrogram_waveform_and_info(make_window, qtbot, tmp_path):
    sr = 44100
    t = np.arange(sr * 2) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 880 * t)], axis=1)
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo, sr)
    w = make_window()
    w.nav.setCurrentRow(1)
    view = w.file_view
    _wait_loaded(qtbot, view, path)
    assert view.audio is not None and view.sample_rate == sr
    assert "stereo.flac" in view.info_label.text() and "44100 Hz" in view.info_label.text()
    assert view.play_button.isEnabled()

    # a corrupt file: a clear message, and the open file stays as it was
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    job_id = _wait_loaded(qtbot, view, bad)
    assert w.queue.get(job_id).state is JobState.FAILED
    assert view.banner.isVisible() and "broken.wav" in view.banner.label.text()
    assert "stereo.flac" in view.info_label.text()
    assert view.sample_rate == sr


def test_a_failing_job_shows_as_failed_and_the_app_goes_on(make_window, qtbot):
    w = make_window()

    def explode(ctx):
        raise RuntimeError("the model file is truncated")

    job = w.queue.submit(explode, title="Doomed job")
    qtbot.waitUntil(lambda: job.state is JobState.FAILED, timeout=5000)
    ok = w.queue.submit(lambda ctx: 42, title="Fine job")
    qtbot.waitUntil(lambda: ok.state is JobState.FINISHED, timeout=5000)
    assert ok.result == 42
    assert w.isVisible()


def test_compute_device_and_precision_choices_persist(make_window):
    w = make_window()
    cpu = next(a for a in w.menus.device_group.actions() if a.data() == "cpu")
    cpu.trigger()
    bf16 = next(a for a in w.menus.dtype_group.actions() if a.data() == "bfloat16")
    bf16.trigger()
    assert w.compute_label.text().endswith("bfloat16")
    w.close()
    w2 = make_window()
    assert w2.compute_device.kind == "cpu"
    assert next(a for a in w2.menus.dtype_group.actions() if a.isChecked()).data() == "bfloat16"
    assert w2.compute_label.text().endswith("bfloat16")


def _check_fits(page: QWidget) -> None:
    """Every shown control lies inside the page at no less than its minimum size."""
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QLabel)
    for child in page.findChildren(QWidget):
        if not child.isVisibleTo(page) or not isinstance(child, kinds) or child.objectName().startswith("qt_"):
            continue  # (qt_*: the inner parts of spin and combo boxes)
        rect = QRect(child.mapTo(page, QPoint(0, 0)), child.size())
        assert page.rect().contains(rect), (type(child).__name__, child.objectName(), rect, page.size())
        hint = child.minimumSizeHint()
        if not (isinstance(child, QLabel) and child.wordWrap()):
            assert child.width() >= hint.width() and child.height() >= hint.height(), (child, child.size(), hint)


@pytest.mark.parametrize("jobs_shown", [False, True])
def test_every_page_fits_at_1024x700(make_window, jobs_shown):
    """The smallest supported window, with the Jobs panel hidden (no work) and shown (work running)."""
    w = make_window()
    w.resize(QSize(1024, 700))
    if jobs_shown:
        w.jobs_dock.set_pinned(True)
    for name, page in w.pages():
        w.show_page(name)
        wait(50)
        assert w.size() == QSize(1024, 700), name  # no page makes the window grow
        hint = page.minimumSizeHint()
        assert hint.width() <= page.width() and hint.height() <= page.height(), (name, hint, page.size())
        _check_fits(page)


def test_view_jobs_keeps_the_jobs_panel_open_across_restarts(make_window):
    w = make_window()
    assert w.jobs_dock.toggle_action in w.menus.view.actions()
    w.jobs_dock.toggle_action.trigger()
    assert w.jobs_dock.isVisible()
    w.close()
    w2 = make_window()
    assert w2.jobs_dock.isVisible() and w2.jobs_dock.toggle_action.isChecked()
    w2.jobs_dock.toggle_action.trigger()
    w2.close()
    assert not make_window().jobs_dock.isVisible()
