"""Kill a real recording process with SIGKILL, then recover the take on the next start.

The kill comes once the file on disk is seen to hold part of the tone, not after a fixed time,
and what is checked is that everything on disk before the kill is recovered, not how far the
file lagged behind the wall clock (DESIGN.md §9).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import active_span, write_tone

from engine.audio.files import AudioFileError
from engine.audio.takes import TakeLibrary, repair_wav_header
from gui.shell.main_window import MainWindow

pytestmark = pytest.mark.pulse


# The app's own window, recording as if Record had been pressed (offscreen, in a subprocess).
GUI_RECORDER = """
import sys
from gui.shell.app import create_app
from gui.shell.main_window import MainWindow
app = create_app()
window = MainWindow()
window.show()
assert window.record_view.start_recording(name="Doomed")
print("recording from", window.record_view.session.take.path, flush=True)
app.exec()
"""

COMMANDS = {
    "cli": [sys.executable, "-m", "gui.shell.main", "record", "--name", "Doomed"],
    "gui": [sys.executable, "-c", GUI_RECORDER],
}


WAIT_S = 60  # a stream starting, audio reaching the disk: little work, but a slow and busy machine


def on_disk(path: Path, scratch: Path) -> tuple[np.ndarray, int]:
    """The audio a running recorder has written to ``path`` so far, and its rate: read from a copy
    whose header is fixed the way recovery fixes it."""
    shutil.copyfile(path, scratch)
    try:
        frames = repair_wav_header(scratch)
    except AudioFileError:  # the header is not all there yet
        return np.zeros(0, np.float32), 0
    audio, sr = sf.read(scratch, dtype="float32")
    return (audio if frames else np.zeros(0, np.float32)), sr


@pytest.mark.parametrize("recorder", ["cli", "gui"])
def test_sigkill_mid_recording_keeps_everything_written_before_it(recorder, pulse, tmp_path, qtbot, monkeypatch):
    data = tmp_path / "data"
    env = dict(os.environ, MOTET_DATA_DIR=str(data), PULSE_SERVER=pulse.server, QT_QPA_PLATFORM="offscreen",
               MOTET_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.Popen(COMMANDS[recorder], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed once capture has started
    assert "recording from" in line, line + proc.stderr.read()
    [path] = (data / "recovery").glob("*.wav")
    scratch = tmp_path / "on-disk.wav"

    def wait_for(condition, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            assert proc.poll() is None, f"the recorder ended early:\n{proc.stderr.read()}"
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not happen within {WAIT_S} s")
            time.sleep(0.05)

    def tone_on_disk() -> float:
        audio, sr = on_disk(path, scratch)
        start, end = active_span(audio, sr, threshold=0.1) if len(audio) else (0.0, 0.0)
        return end - start

    wait_for(lambda: len(on_disk(path, scratch)[0]) > 0, "audio reaching the file")
    tone = write_tone(tmp_path / "tone.wav", seconds=6.0, amplitude=0.5, lead_silence=0.5)
    player = pulse.play(tone, wait=False)
    # kill while the tone is still playing: 1.5 s of its 6 s are on disk
    wait_for(lambda: tone_on_disk() >= 1.5, "the tone reaching the file")
    written, _ = on_disk(path, scratch)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(WAIT_S)
    player.kill()

    lib = TakeLibrary(data)
    assert lib.list() == []
    pending = lib.pending_recoveries()
    assert [t.name for t in pending] == ["Doomed"]

    # the next start offers the take; Recover files it in the library
    monkeypatch.setenv("MOTET_DATA_DIR", str(data))
    window = MainWindow()
    qtbot.addWidget(window)
    view = window.record_view
    assert view.banner.isVisibleTo(window) and "interrupted" in view.banner.label.text()
    view.banner.button("Recover").click()
    takes = TakeLibrary(data).list()
    assert [t.name for t in takes] == ["Doomed (recovered)"]
    assert view.takes.topLevelItemCount() == 1
    assert TakeLibrary(data).pending_recoveries() == []

    audio, sr = sf.read(takes[0].path, dtype="float32")
    recorded = len(audio) / sr
    # everything on disk before the kill is in the recovered take, sample for sample
    assert len(audio) >= len(written) and np.array_equal(audio[:len(written)], written)
    # the tone was still sounding at the kill: the file holds it to within 1 s of its end
    _, end = active_span(audio, sr, threshold=0.1)
    assert end >= recorded - 1.0
    assert np.sqrt(np.mean(audio[int((end - 0.5) * sr): int(end * sr)] ** 2)) > 0.2
    window.close()
