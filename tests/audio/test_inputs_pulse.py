"""The inputs are the sound server's sources by their names (tests/conftest.py's PulseAudio, with
two more virtual microphones): listed by name, the default marked, monitors of outputs last;
recording from one records that one, at its own sample rate.

Waits are for audio reaching the take, never a fixed time (DESIGN.md §9).
"""

import time

import numpy as np
import pytest
import soundfile as sf

from engine.audio import devices
from engine.audio.session import RecordingSession
from engine.audio.takes import TakeLibrary

pytestmark = pytest.mark.pulse

WAIT_S = 120  # a stream opening and delivering a second of audio on a slow, busy machine


def tone(path, freq, seconds=60.0, rate=48000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def peak_hz(audio, rate):
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return np.fft.rfftfreq(len(mono), 1 / rate)[int(np.argmax(spectrum))]


@pytest.fixture
def two_microphones(pulse):
    first = pulse.add_microphone("motet_mic_a", "Studio Mic A", rate=48000)
    second = pulse.add_microphone("motet_mic_b", "Desk Mic B", rate=48000)
    pulse._pactl("set-default-source", "motet_mic_a")
    try:
        yield first, second
    finally:
        pulse._pactl("set-default-source", f"{pulse.sink}.monitor")
        second.remove()
        first.remove()


def record(device, library, seconds=1.5):
    session = RecordingSession(library, device, channels=1)
    session.start()
    deadline = time.monotonic() + WAIT_S
    while session.duration < seconds:
        assert session.error is None, session.error
        assert time.monotonic() < deadline, "no audio arrived"
        time.sleep(0.05)
    take = session.stop()
    return take, session.sample_rate


def test_inputs_are_listed_by_name_with_the_default_marked_and_monitors_last(two_microphones):
    inputs = devices.input_devices()
    names = [d.name for d in inputs]
    assert "Studio Mic A" in names and "Desk Mic B" in names
    assert [d.name for d in inputs if d.is_default_input] == ["Studio Mic A"]
    monitors = [d.is_monitor for d in inputs]
    assert monitors == sorted(monitors) and any(monitors)  # microphones first, then the monitors
    assert "Monitor of Null Output" in names
    assert devices.find_device("Desk Mic B").source == "motet_mic_b"
    assert devices.find_device("motet_mic_b", exact=True).name == "Desk Mic B"  # the server's name too
    assert devices.find_device(None).name == "Studio Mic A"


def test_recording_from_the_second_input_records_its_signal_at_its_own_rate(pulse, two_microphones, tmp_path):
    first, second = two_microphones
    players = [first.play(tone(tmp_path / "a.wav", 440.0), wait=False),
               second.play(tone(tmp_path / "b.wav", 1250.0), wait=False)]
    try:
        lib = TakeLibrary(tmp_path / "lib")
        by_name = {d.name: d for d in devices.input_devices()}
        assert by_name["Desk Mic B"].default_samplerate == 48000  # the server's rate, not PortAudio's 44.1 kHz
        takes = {}
        for name in ("Desk Mic B", "Studio Mic A"):
            take, rate = record(by_name[name], lib)
            audio, file_rate = sf.read(take.path)
            assert rate == file_rate == 48000
            takes[name] = peak_hz(audio[-file_rate:], file_rate)  # the last second: the tone, whole
    finally:
        for p in players:
            p.kill()
            p.wait()
    assert takes["Desk Mic B"] == pytest.approx(1250.0, abs=10)
    assert takes["Studio Mic A"] == pytest.approx(440.0, abs=10)


def test_motet_devices_lists_the_sound_servers_inputs_by_name(two_microphones):
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "gui.shell.main", "devices"], capture_output=True, text=True,
                         timeout=WAIT_S, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    section = out.stdout.split("Sound server inputs")[1].split("Compute devices:")[0]
    lines = [line for line in section.splitlines() if "Mic" in line]
    assert any(line.startswith(" *") and "Studio Mic A" in line and "48000 Hz" in line for line in lines), section
    assert any("Desk Mic B" in line and "motet_mic_b" in line for line in lines), section
