"""libasound's complaints ("ALSA lib pcm.c:…") stay off the user's terminal: once Motet has
loaded sounddevice, what libasound says is counted and logged instead of printed; and playback
(through the tests' PulseAudio server) prints nothing of ALSA's either.

Each case runs in a fresh process, since libasound's handler is one per process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 120  # a Python process importing numpy and PortAudio on a slow, busy machine

BOGUS = """
import ctypes
from engine.audio import devices
devices._sd()  # what every audio path does first
pcm = ctypes.c_void_p()
rc = ctypes.CDLL("libasound.so.2").snd_pcm_open(ctypes.byref(pcm), b"motet_no_such_device", 0, 0)
print("rc", rc, "counted", devices.alsa_messages.total, flush=True)
"""


def run(code, **env):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S,
                          env=dict(os.environ, **env))
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def _libasound():
    import ctypes

    try:
        ctypes.CDLL("libasound.so.2")
    except OSError:
        pytest.skip("libasound is not installed")


def test_an_alsa_error_is_counted_not_printed():
    _libasound()
    out, err = run(BOGUS)
    assert "ALSA lib" not in err
    rc, counted = int(out.split()[1]), int(out.split()[3])
    assert rc < 0 and counted >= 1  # libasound did complain, to the handler


def test_without_the_handler_the_same_error_reaches_stderr():
    """The check above can fail: libasound does print this line when nobody catches it."""
    _libasound()
    out, err = run(BOGUS, MOTET_ALSA_STDERR="1")
    assert "ALSA lib" in err and "motet_no_such_device" in err
    assert out.split()[3] == "0"


@pytest.mark.pulse
def test_playback_prints_nothing_of_alsa(pulse):
    _libasound()
    code = """
import time
import numpy as np
from engine.audio.devices import find_device
from engine.audio.playback import PLAYBACK_LATENCY_S, Player
done = []
player = Player(find_device(None, "output"))
t = np.arange(24000) / 48000
player.play((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000, on_finished=lambda: done.append(1))
latency = player._stream.latency
deadline = time.monotonic() + 60
while not done and time.monotonic() < deadline:
    time.sleep(0.05)
player.stop()
print("finished", bool(done), "latency", latency >= PLAYBACK_LATENCY_S - 0.01, flush=True)
"""
    out, err = run(code, PULSE_SERVER=pulse.server)
    assert out.split() == ["finished", "True", "latency", "True"]
    assert "ALSA lib" not in err, err
