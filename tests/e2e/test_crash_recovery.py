"""Kill a real recording process with SIGKILL, then recover the take on the next start."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import active_span, write_tone

from engine.audio.takes import TakeLibrary
from gui.main_window import MainWindow

pytestmark = pytest.mark.pulse


# The app's own window, recording as if Record had been pressed (offscreen, in a subprocess).
GUI_RECORDER = """
import sys
from gui.app import create_app
from gui.main_window import MainWindow
app = create_app()
window = MainWindow()
window.show()
assert window.record_view.start_recording(name="Doomed")
print("recording from", window.record_view.session.take.path, flush=True)
app.exec()
"""

COMMANDS = {
    "cli": [sys.executable, "-m", "gui.main", "record", "--name", "Doomed"],
    "gui": [sys.executable, "-c", GUI_RECORDER],
}


@pytest.mark.parametrize("recorder", ["cli", "gui"])
def test_sigkill_mid_recording_loses_at_most_one_second(recorder, pulse, tmp_path, qtbot, monkeypatch):
    data = tmp_path / "data"
    env = dict(os.environ, MOTET_DATA_DIR=str(data), PULSE_SERVER=pulse.server, QT_QPA_PLATFORM="offscreen",
               MOTET_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.Popen(COMMANDS[recorder], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed once capture has started
    assert "recording from" in line, line + proc.stderr.read()
    started = time.monotonic()

    tone = write_tone(tmp_path / "tone.wav", seconds=6.0, amplitude=0.5, lead_silence=0.5)
    player = pulse.play(tone, wait=False)
    time.sleep(3.5)  # kill while the tone is still playing
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(5)
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
    assert recorded >= (killed - started) - 1.0, (recorded, killed - started)
    # the tone was still sounding at the kill: the file holds it to within 1 s of its end
    _, end = active_span(audio, sr, threshold=0.1)
    assert end >= recorded - 1.0
    assert np.sqrt(np.mean(audio[int((end - 0.5) * sr): int(end * sr)] ** 2)) > 0.2
    window.close()
