"""Record → Stop through the real audio path: a tone played into a PulseAudio null sink is
captured by the app from the sink's monitor (the default input), as from a microphone.

Nothing here depends on how fast the machine is (DESIGN.md §9): a tone is played once the
recording is seen to receive audio, and Stop (or the unplug) comes once the whole tone is seen to
have been captured, never after a fixed time; no duration is compared with the wall clock.
"""

import time

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import active_span, peak_frequency, write_tone
from PySide6.QtCore import Qt
from qt_wait import wait_until

from engine.audio.takes import TakeLibrary
from gui.shell.main_window import MainWindow

pytestmark = pytest.mark.pulse

STREAM_START_S = 30  # an audio stream delivering its first block: no real work, a busy machine
HEARD_S = 30  # beyond the tone's own length, for it to pass through PulseAudio to the app
QUIET_AFTER = 0.3  # seconds of silence that show a tone has ended


def tone_over(audio: np.ndarray, sample_rate: int) -> bool:
    """The tone is in ``audio`` and ``QUIET_AFTER`` seconds of silence follow it."""
    start, end = active_span(audio, sample_rate, threshold=0.1)
    return end > start and len(audio) / sample_rate >= end + QUIET_AFTER


class Captured:
    """What the recording has captured so far, read beside the recorder from the start of its ring."""

    def __init__(self, session) -> None:
        self.session = session
        self.reader = session.capture.ring.reader(from_start=True)
        self.blocks: list[np.ndarray] = []

    def audio(self) -> np.ndarray:
        block = self.reader.read()
        if len(block):
            self.blocks.append(block.mean(axis=1))
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)

    def wait_for_audio(self) -> None:
        wait_until(lambda: self.session.capture.ring.frames_written > 0, STREAM_START_S,
                   "the recording's first audio")

    def wait_for_tone(self, seconds: float) -> None:
        wait_until(lambda: tone_over(self.audio(), self.session.sample_rate), seconds + HEARD_S,
                   "the whole tone reaching the recording")


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

    before_start = time.monotonic()
    qtbot.mouseClick(view.record_button, Qt.MouseButton.LeftButton)
    assert view.recording
    session = view.session
    captured = Captured(session)
    captured.wait_for_audio()  # the input delivers: nothing of the tone can be missed
    pulse.play(tone)  # blocks while it plays (2 s)
    captured.wait_for_tone(2.0)
    view.toggle_recording()  # what Space does
    wall = time.monotonic() - before_start
    assert not view.recording

    takes = window.library.list()
    assert len(takes) == 1
    take = takes[0]
    audio, sr = sf.read(take.path, dtype="float32")
    assert sr == take.sample_rate and len(audio) / sr == pytest.approx(take.duration, abs=1e-3)
    # the take holds every frame captured, from Record to Stop (no more than real time allows)
    assert len(audio) == session.capture.ring.frames_written
    assert 2.0 + QUIET_AFTER <= take.duration <= wall + 0.1

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
    captured = Captured(view.session)
    captured.wait_for_audio()
    pulse.play(tone)
    try:
        captured.wait_for_tone(1.5)  # all of it reached the app: now the unplug
        pulse.remove_sink()  # the microphone is unplugged
        # the stream ends, or the recorder sees no audio for its stall timeout (3 s)
        wait_until(lambda: not view.recording, 60, "the recording stopping after the unplug")
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


def read_raw(path) -> np.ndarray:
    """The float32 samples a listener has written so far (a partial sample at the end left out)."""
    data = path.read_bytes()
    return np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)


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
        wait_until(lambda: heard.stat().st_size > 0, STREAM_START_S, "the listener's first audio")
        view.play_selected()
        qtbot.waitUntil(lambda: view._playing_take == take.id, timeout=30000)
        stream = view.player._stream
        # the output stream has played all of it (and stopped), and the listener has heard it end
        wait_until(lambda: not stream.active and tone_over(read_raw(heard), 48000), 1.0 + HEARD_S,
                   "the take's tone on the output")
        listener.terminate()
        listener.wait(5)
    # All of the take is heard, at its pitch and level. A starved machine can make the output
    # underrun, which puts silence between parts of it: count the loud time, not first to last.
    audio = read_raw(heard)
    windows = audio[: len(audio) // 480 * 480].reshape(-1, 480)  # 10 ms each
    rms = np.sqrt((windows ** 2).mean(axis=1))
    loud = rms > 0.1
    assert loud.sum() * 0.01 == pytest.approx(1.0, abs=0.1)
    assert float(np.median(rms[loud])) == pytest.approx(0.4 / np.sqrt(2), rel=0.12)
    runs = np.split(np.flatnonzero(loud), np.flatnonzero(np.diff(np.flatnonzero(loud)) > 1) + 1)
    longest = max(runs, key=len)  # the whole tone when nothing underran
    part = windows[longest[0] + 10: longest[-1] - 9].ravel()  # 0.1 s in from each end
    assert peak_frequency(part, 48000) == pytest.approx(660, rel=0.01)
