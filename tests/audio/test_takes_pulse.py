"""`motet record` against a real input (the private PulseAudio server of tests/conftest.py): a take
being recorded by one process is left alone by `motet takes --recover` in another; a device that
does not exist and a model that does not load stop the command before anything is recorded.

Waits are for what the recorder prints or writes, never a fixed time (DESIGN.md §9).
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.audio.takes import TakeError, TakeLibrary
from engine.cli import run

pytestmark = pytest.mark.pulse

WAIT_S = 120  # a process starting, a stream opening, audio reaching the disk: a slow, busy machine


def test_recover_leaves_a_take_that_is_being_recorded_alone(pulse, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setenv("MOTET_DATA_DIR", str(data))
    env = dict(os.environ, PULSE_SERVER=pulse.server)
    proc = subprocess.Popen([sys.executable, "-m", "gui.shell.main", "record", "--name", "Live"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "recording from" in line, line + proc.stderr.read()
        [wav] = (data / "recovery").glob("*.wav")
        deadline = time.monotonic() + WAIT_S
        while wav.stat().st_size < 16000:  # audio is reaching the file
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)

        assert run(["takes", "--recover"]) == 0  # another process, at the same time
        out = capsys.readouterr().out
        assert "recovered" not in out and "left by a crash" not in out
        assert "1 take is being recorded" in out
        lib = TakeLibrary(data)
        assert lib.pending_recoveries() == [] and lib.list() == []
        [live] = lib.in_progress()
        with pytest.raises(TakeError, match="being recorded"):
            lib.recover(live)
        assert wav.exists()

        proc.send_signal(signal.SIGINT)  # Stop
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "saved 'Live'" in out and "Traceback" not in err
    [take] = TakeLibrary(data).list()
    assert take.name == "Live" and take.duration > 0
    assert not list((data / "recovery").iterdir())


def test_record_from_a_device_that_does_not_exist_fails_before_recording(pulse, capsys, tmp_path):
    assert run(["record", "--seconds", "1", "--device", "nosuchdevice"]) == 2
    captured = capsys.readouterr()
    assert "nosuchdevice" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "recording from" not in captured.out
    assert not list((tmp_path / "data").rglob("*.wav"))


def test_record_with_a_broken_model_fails_before_recording(pulse, capsys, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "model.bin").write_bytes(b"\0" * 64)
    assert run(["record", "--seconds", "3", "--transcribe", "--model", str(broken)]) == 2
    captured = capsys.readouterr()
    assert "recording from" not in captured.out and "saved" not in captured.out
    assert "model" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert not list((tmp_path / "data").rglob("*.wav")) and not list((tmp_path / "data").rglob("*.json"))
