"""The Record page's inputs and level meter against the tests' PulseAudio server (tests/conftest.py)
with two virtual microphones: the inputs by name with the default marked, the chosen one
remembered, and the input level shown before Record is pressed (monitoring), let go when the
page is hidden; an input that cannot be opened says so in the meter's place.

Waits are for what the page shows, bounded generously (DESIGN.md §9)."""

import numpy as np
import pytest
import soundfile as sf
from qt_wait import wait_until

from engine.audio.devices import AudioDevice, AudioUnavailable
from engine.audio.takes import TakeLibrary
from gui.common.settings import Keys, app_settings

pytestmark = pytest.mark.pulse

WAIT_S = 60  # a stream opening and delivering its first audio on a slow, busy machine
FLOOR_DB = -40.0  # the 0.3-amplitude tone is about -13 dBFS RMS; silence is -120


def tone(path, freq, seconds=120.0, rate=48000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


@pytest.fixture
def two_microphones(pulse, tmp_path):
    first = pulse.add_microphone("motet_gui_mic_a", "Studio Mic A", rate=48000)
    second = pulse.add_microphone("motet_gui_mic_b", "Desk Mic B", rate=48000)
    pulse._pactl("set-default-source", "motet_gui_mic_a")
    player = second.play(tone(tmp_path / "b.wav", 1000.0), wait=False)  # only B hears something
    try:
        yield first, second
    finally:
        player.kill()
        player.wait()
        pulse._pactl("set-default-source", f"{pulse.sink}.monitor")
        second.remove()
        first.remove()


def _items(view):
    return [view.device_combo.itemText(i) for i in range(view.device_combo.count())]


def test_inputs_by_name_default_marked_and_the_level_shown_before_recording(two_microphones, record_view_of,
                                                                           tmp_path, qtbot):
    view = record_view_of(TakeLibrary(tmp_path / "lib"))
    view.transcript.enabled_check.setChecked(False)
    view.resize(1000, 600)
    items = _items(view)
    assert "Studio Mic A  ·  48 kHz  (default)" in items
    assert "Desk Mic B  ·  48 kHz" in items
    assert not any("pulse" == t.split()[0] or t.startswith("default ") for t in items)  # no PortAudio names
    assert items.index("Desk Mic B  ·  48 kHz") < min(i for i, t in enumerate(items) if t.startswith("Monitor of"))
    assert view.device_combo.currentText().startswith("Studio Mic A")  # the default is chosen

    wait_until(lambda: view.monitoring, WAIT_S, "monitoring to start when the page is shown")
    assert not view.recording and view.meter.rms_db < FLOOR_DB  # A is silent

    view.device_combo.setCurrentIndex(items.index("Desk Mic B  ·  48 kHz"))
    assert app_settings().value(Keys.AUDIO_INPUT_DEVICE) == "motet_gui_mic_b"  # remembered by the server's name
    wait_until(lambda: view.meter.rms_db > FLOOR_DB, WAIT_S, "B's tone on the meter without Record")
    assert not view.recording and view.meter_box.currentWidget() is view.meter
    view.grab().save(str(tmp_path / "record-monitoring.png"))
    qtbot.wait(1)

    view.hide()  # another page: the input is let go
    assert not view.monitoring
    view.show()
    wait_until(lambda: view.monitoring, WAIT_S, "monitoring again when the page is shown again")

    assert view.start_recording(name="B")  # recording takes over the input
    assert not view.monitoring
    wait_until(lambda: view.session.duration >= 0.5, WAIT_S, "audio recorded")
    take = view.stop_recording()
    assert take is not None and take.sample_rate == 48000
    wait_until(lambda: view.monitoring, WAIT_S, "monitoring after the take")

    view2 = record_view_of(TakeLibrary(tmp_path / "lib2"))  # a restart: the chosen input is remembered
    assert view2.device_combo.currentText() == "Desk Mic B  ·  48 kHz"


def test_an_input_that_cannot_be_opened_shows_why_in_the_meters_place(pulse, record_view_of, tmp_path, monkeypatch):
    view = record_view_of(TakeLibrary(tmp_path / "lib"))
    view.stop_monitoring()
    from gui.record import view as view_module

    class Failing(view_module.CaptureStream):
        def start(self):
            raise AudioUnavailable("could not open Broken Mic for recording: Device unavailable")

    monkeypatch.setattr(view_module, "CaptureStream", Failing)
    view.start_monitoring()
    assert not view.monitoring
    assert view.meter_box.currentWidget() is view.meter_error
    assert "Device unavailable" in view.meter_error.text() and view.meter_error.isVisible()

    monkeypatch.undo()
    view.start_monitoring()
    wait_until(lambda: view.monitoring, WAIT_S, "monitoring")
    view._monitorLost.emit("the audio input stream stopped unexpectedly (device removed?)")  # as PortAudio's thread
    wait_until(lambda: not view.monitoring, WAIT_S, "monitoring stopped")
    assert "device removed" in view.meter_error.text() and view.meter_error.isVisible()
    assert "stopped unexpectedly" in view.meter_error.toolTip()


def test_another_page_lets_the_input_go(pulse, qtbot, tmp_path):
    from gui.shell.main_window import MainWindow

    w = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(w)
    w.show_page("Record")
    w.show()
    try:
        wait_until(lambda: w.record_view.monitoring, WAIT_S, "monitoring on the Record page")
        w.show_page("Transcribe")
        assert not w.record_view.monitoring
        w.show_page("Record")
        wait_until(lambda: w.record_view.monitoring, WAIT_S, "monitoring back on the Record page")
    finally:
        w.close()
    assert not w.record_view.monitoring


def test_a_long_reason_in_the_meters_place_does_not_widen_the_page(pulse, record_view_of, tmp_path):
    view = record_view_of(TakeLibrary(tmp_path / "lib"))
    before = view.minimumSizeHint()
    view._show_meter_error("⚠ Cannot open this input: " + "a very long reason from the sound server " * 8)
    assert view.meter_error.isVisible()
    assert view.minimumSizeHint() == before
