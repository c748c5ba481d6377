"""Record → Stop through the real audio path: a tone played into a PulseAudio null sink is
captured by the app from the sink's monitor (the default input), as from a microphone."""

import time

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from audio_helpers import active_span, peak_frequency, write_tone

from engine.audio.takes import TakeLibrary
from gui.main_window import MainWindow

pytestmark = pytest.mark.pulse


@pytest.fixture
def window(qtbot, pulse, tmp_path):
    w = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_record_stop_yields_a_take_matching_what_was_played(window, pulse, qtbot, tmp_path):
    view = window.record_view
    assert view.record_button.isEnabled(), view.reason_label.text()
    tone = write_tone(tmp_path / "tone.wav", freq=440.0, seconds=2.0, amplitude=0.5)

    qtbot.mouseClick(view.record_button, Qt.MouseButton.LeftButton)
    assert view.recording
    started = time.monotonic()
    qtbot.wait(300)
    pulse.play(tone)  # blocks while it plays (2 s)
    qtbot.wait(400)
    wall = time.monotonic() - started
    view.toggle_recording()  # what Space does
    assert not view.recording

    takes = window.library.list()
    assert len(takes) == 1
    take = takes[0]
    assert take.duration == pytest.approx(wall, abs=0.35)  # the take covers the whole time recorded
    audio, sr = sf.read(take.path, dtype="float32")
    assert sr == take.sample_rate and len(audio) / sr == pytest.approx(take.duration, abs=1e-3)

    start, end = active_span(audio, sr, threshold=0.1)
    assert end - start == pytest.approx(2.0, abs=0.1)  # the whole tone, nothing dropped
    tone_part = audio[int((start + 0.1) * sr): int((end - 0.1) * sr)]
    rms = float(np.sqrt(np.mean(tone_part ** 2)))
    assert 20 * np.log10(rms / (0.5 / np.sqrt(2))) == pytest.approx(0.0, abs=1.0)  # level within 1 dB
    assert peak_frequency(tone_part, sr) == pytest.approx(440.0, rel=0.01)
    quiet = audio[: int(max(0.0, start - 0.05) * sr)]
    assert len(quiet) == 0 or np.max(np.abs(quiet)) < 0.01

    # the take is listed in the view with its duration
    assert view.takes.topLevelItemCount() == 1
    assert view.takes.topLevelItem(0).text(0) == take.name
    window.grab().save(str(tmp_path / "after-record.png"))


def test_a_device_that_disappears_mid_take_keeps_the_audio_and_says_so(window, pulse, qtbot, tmp_path):
    view = window.record_view
    tone = write_tone(tmp_path / "tone.wav", seconds=1.5, amplitude=0.5)
    assert view.start_recording()
    qtbot.wait(200)
    pulse.play(tone)
    try:
        pulse.remove_sink()  # the microphone is unplugged
        qtbot.waitUntil(lambda: not view.recording, timeout=15000)
    finally:
        pulse.restore_sink()
    assert view.banner.isVisible()
    assert "Recording stopped" in view.banner.label.text()
    assert "was saved" in view.banner.label.text()
    takes = window.library.list()
    assert len(takes) == 1 and window.library.pending_recoveries() == []
    audio, sr = sf.read(takes[0].path, dtype="float32")
    start, end = active_span(audio, sr, threshold=0.1)
    assert end - start == pytest.approx(1.5, abs=0.1)  # everything before the unplug is kept
    # and recording works again once a device is back
    view.refresh_devices(rescan=True)
    assert view.record_button.isEnabled()


def test_space_starts_and_stops_recording(window, pulse, qtbot):
    view = window.record_view
    window.nav.setCurrentRow(0)
    window.activateWindow()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.recording
    qtbot.wait(500)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.recording
    assert len(window.library.list()) == 1


def test_playing_a_take_sounds_on_the_output(window, pulse, qtbot, tmp_path):
    """Play a take through sounddevice; the null sink's monitor hears the tone."""
    import subprocess

    lib = window.library
    take = lib.begin(48000, 1, name="Beep")
    t = np.arange(48000) / 48000
    sf.write(take.path, (0.4 * np.sin(2 * np.pi * 660 * t)).astype(np.float32), 48000, format="WAV", subtype="FLOAT")
    lib.commit(take, 1.0)
    view = window.record_view
    view.refresh_takes(select=take.id)

    heard = tmp_path / "heard.raw"
    with open(heard, "wb") as out:
        listener = subprocess.Popen(["parec", f"--server={pulse.server}", f"--device={pulse.sink}.monitor",
                                     "--format=float32le", "--rate=48000", "--channels=1", "--latency-msec=20"],
                                    stdout=out)
        qtbot.wait(300)
        view.play_selected()
        qtbot.waitUntil(lambda: view._playing_take == take.id, timeout=10000)
        qtbot.wait(1800)
        listener.terminate()
        listener.wait(5)
    audio = np.fromfile(heard, dtype=np.float32)
    start, end = active_span(audio, 48000, threshold=0.1)
    assert end - start == pytest.approx(1.0, abs=0.1)
    part = audio[int((start + 0.1) * 48000): int((end - 0.1) * 48000)]
    assert peak_frequency(part, 48000) == pytest.approx(660, rel=0.01)
    assert float(np.sqrt(np.mean(part ** 2))) == pytest.approx(0.4 / np.sqrt(2), rel=0.12)
