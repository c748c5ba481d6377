"""The take library under failure and sharing: a full disk, a second process, a read-only folder,
a bad file among good ones, and the `motet record`/`motet takes` option checks (no audio device).

A second process is a real subprocess; waits are for a line it prints, never a fixed time
(DESIGN.md §9).
"""

import errno
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.atomic import WriteError
from engine.audio.devices import AudioDevice, AudioUnavailable, find_device
from engine.audio.session import RecordingSession
from engine.audio.takes import TakeError, TakeLibrary
from engine.cli import run

WAIT_S = 120  # a Python process starting and importing numpy/soundfile on a slow, busy machine


def _noise(n, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def _session_without_device(lib, rate=16000, **recorder_options):
    """A recording session fed by the test instead of a microphone (its stream is never opened)."""
    session = RecordingSession(lib, None, channels=1, sample_rate=rate, **recorder_options)
    session.recorder.start()
    return session


def _feed(session, audio, block=1600):
    for i in range(0, len(audio), block):
        session.capture.ring.write(audio[i:i + block])


def _crashed_take(root: Path, tid: str, name: str, payload) -> None:
    """What a killed recorder leaves in recovery/: metadata, and a WAV whose header lags."""
    rec = root / "recovery"
    rec.mkdir(parents=True, exist_ok=True)
    meta = {"id": tid, "name": name, "created": "2026-01-01T00:00:00+00:00", "duration": 0.0,
            "sample_rate": 16000, "channels": 1, "device": ""}
    (rec / f"{tid}.json").write_text(json.dumps(meta))
    if isinstance(payload, bytes):
        (rec / f"{tid}.wav").write_bytes(payload)
        return
    with sf.SoundFile(rec / f"{tid}.wav", "w", 16000, 1, format="WAV", subtype="FLOAT") as f:
        f.write(payload)
    with open(rec / f"{tid}.wav", "r+b") as f:
        f.seek(4)
        f.write(b"\0\0\0\0")


def _one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


# -- a full disk --------------------------------------------------------------------------------

def test_a_full_disk_keeps_every_sample_and_the_take_stays_recoverable(tmp_path, monkeypatch):
    class FillsUp(sf.SoundFile):
        def write(self, data):
            room = 16000 - self.frames
            super().write(data[:room])  # what fits is written, then the disk is full
            if len(data) > room:
                raise OSError(errno.ENOSPC, "No space left on device")

    def opener(path, sr, ch):
        return FillsUp(str(path), "w", sr, ch, format="WAV", subtype="FLOAT")

    import engine.audio.takes as takes_module

    real_write_text = takes_module.write_text

    def full_disk(path, text):  # the disk is full now: the take's metadata cannot be written
        raise WriteError(errno.ENOSPC, f"could not save '{Path(path).name}': the disk is full")

    lib = TakeLibrary(tmp_path / "lib")
    errors = []
    session = _session_without_device(lib, on_error=errors.append, open_file=opener)
    sent = _noise(32000)
    _feed(session, sent)
    monkeypatch.setattr(takes_module, "write_text", full_disk)
    with pytest.raises(TakeError) as caught:
        session.stop()
    message = str(caught.value)
    assert errors and "disk is full" in errors[0]
    assert "disk is full" in message and "recover" in message and "\n" not in message

    # nothing half-moved: the take is whole in recovery/, and another process sees it there
    monkeypatch.setattr(takes_module, "write_text", real_write_text)  # room again
    other = TakeLibrary(tmp_path / "lib")
    assert other.list() == [] and not list(other.takes_dir.iterdir())
    [pending] = other.pending_recoveries()
    recovered = other.recover(pending)
    assert recovered.duration == pytest.approx(1.0)
    got, _ = sf.read(recovered.path, dtype="float32")
    assert np.array_equal(got, sent[:16000])  # every sample written before the disk filled
    assert [t.id for t in other.list()] == [recovered.id] and other.pending_recoveries() == []


def _small_tmpfs(folder: Path) -> Path:
    """A 1 MB tmpfs at ``folder`` (unmount it with ``umount -l``); the test is skipped where
    mounting is not permitted."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    return folder


def test_a_real_full_disk_loses_nothing_written(tmp_path):
    """A 1 MB tmpfs filled by a recording: skipped where mounting is not permitted."""
    disk = _small_tmpfs(tmp_path / "disk")
    try:
        lib = TakeLibrary(disk / "lib")
        ballast = disk / "ballast"
        ballast.write_bytes(b"\0" * 256 * 1024)  # freed afterwards, as a user would make room
        errors = []
        session = _session_without_device(lib, on_error=errors.append)
        sent = _noise(16000 * 24)  # 1.5 MB of float samples: more than the disk holds
        _feed(session, sent)
        session.capture.ring.close()
        session.recorder.finish(timeout=WAIT_S)
        assert errors and "disk is full" in errors[0], errors
        try:
            session.stop()
        except TakeError as exc:  # the metadata did not fit either: kept for recovery
            assert "disk is full" in str(exc) and "recover" in str(exc)
        ballast.unlink()
        lib = TakeLibrary(disk / "lib")
        for take in lib.pending_recoveries():
            lib.recover(take)
        [take] = lib.list()
        got, sr = sf.read(take.path, dtype="float32")
        assert sr == 16000 and len(got) / sr > 5  # most of the 768 KB of room, not a stub
        assert np.array_equal(got, sent[:len(got)])
        assert take.duration == pytest.approx(len(got) / sr)
        assert not list(disk.rglob("*.part"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# -- a second process ---------------------------------------------------------------------------

RECORDER = textwrap.dedent("""
    import sys, numpy as np, soundfile as sf
    from engine.audio.takes import TakeLibrary
    lib = TakeLibrary(sys.argv[1])
    take = lib.begin(16000, 1, name="Live")
    f = sf.SoundFile(take.path, "w", 16000, 1, format="WAV", subtype="FLOAT")
    f.write(np.full(8000, 0.25, np.float32))
    f.flush()
    print("recording", flush=True)
    sys.stdin.readline()  # the test says when to stop (or kills this process)
    f.write(np.full(8000, 0.25, np.float32))
    f.close()
    print("saved", lib.commit(take, 1.0).duration, flush=True)
""")


def _start_recorder(root):
    proc = subprocess.Popen([sys.executable, "-c", RECORDER, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "recording", line + proc.stderr.read()
    return proc


def test_a_take_being_recorded_by_another_process_is_never_recovered(tmp_path, capsys):
    root = tmp_path / "data"
    proc = _start_recorder(root)
    try:
        lib = TakeLibrary(root)
        assert lib.pending_recoveries() == []  # it is live, not left by a crash
        assert [t.name for t in lib.in_progress()] == ["Live"]
        [wav] = lib.recovery_dir.glob("*.wav")
        live = lib._load_meta(wav.with_suffix(".json"))
        live.path = str(wav)
        with pytest.raises(TakeError, match="being recorded"):
            lib.recover(live)
        with pytest.raises(TakeError, match="being recorded"):
            lib.discard_recovery(live)

        assert run(["takes", "--recover"]) == 0
        out = capsys.readouterr().out
        assert "recovered" not in out and "left by a crash" not in out
        assert "1 take is being recorded" in out
        assert wav.exists()

        out, err = proc.communicate("stop\n", timeout=WAIT_S)
        assert proc.returncode == 0, err
        assert "saved 1.0" in out  # the recorder files its take: nothing was taken from under it
    finally:
        proc.kill()
    [take] = TakeLibrary(root).list()
    assert take.name == "Live" and sf.info(take.path).frames == 16000


def test_a_killed_recorder_leaves_a_take_that_is_recovered(tmp_path):
    root = tmp_path / "data"
    proc = _start_recorder(root)
    proc.kill()  # SIGKILL: the system drops its lock
    proc.communicate(timeout=WAIT_S)
    lib = TakeLibrary(root)
    assert lib.in_progress() == []
    [pending] = lib.pending_recoveries()
    take = lib.recover(pending)
    assert take.name == "Live (recovered)" and take.duration == pytest.approx(0.5)
    assert not list(lib.recovery_dir.iterdir())  # its metadata and lock file went with it


HOLDER = textwrap.dedent("""
    import sys
    from engine.audio.takes import TakeLibrary
    with TakeLibrary(sys.argv[1]).locked():
        print("held", flush=True)
        sys.stdin.readline()
""")


def test_the_library_lock_keeps_two_processes_from_moving_the_same_files(tmp_path):
    root = tmp_path / "data"
    _crashed_take(root, "20260101-000000-aaaaaa", "Crashed", _noise(16000))
    lib = TakeLibrary(root)
    [pending] = lib.pending_recoveries()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lib.lock_timeout = 0.2  # give up quickly: the other process holds it until told
        with pytest.raises(TakeError, match="busy"):
            lib.recover(pending)
        assert (lib.recovery_dir / "20260101-000000-aaaaaa.wav").exists()  # untouched
        holder.communicate("done\n", timeout=WAIT_S)
    finally:
        holder.kill()
    assert lib.recover(pending).duration == pytest.approx(1.0)


# -- recovery goes on past a bad file -------------------------------------------------------------

def test_takes_recover_goes_on_past_an_unreadable_take(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    monkeypatch.setenv("MOTET_DATA_DIR", str(root))
    _crashed_take(root, "20260101-000000-aaaaaa", "Broken", b"not a wav file at all")
    _crashed_take(root, "20260101-000001-bbbbbb", "Good", _noise(16000))
    assert run(["takes", "--recover"]) == 1
    captured = capsys.readouterr()
    assert "recovered 'Good (recovered)': 1.00 s" in captured.out
    assert "could not recover 'Broken'" in captured.err and _one_line(captured.err)
    assert [t.name for t in TakeLibrary(root).list()] == ["Good (recovered)"]
    assert [t.name for t in TakeLibrary(root).pending_recoveries()] == ["Broken"]  # kept, not lost


# -- a read-only data folder ----------------------------------------------------------------------

@pytest.fixture
def read_only_data(tmp_path):
    """A read-only file system holding a take library (root cannot be kept out by chmod)."""
    disk = _small_tmpfs(tmp_path / "ro")
    try:
        lib = TakeLibrary(disk / "lib")
        _crashed_take(disk / "lib", "20260101-000000-aaaaaa", "Crashed", _noise(1600))
        del lib
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_read_only_library_says_so_in_one_line(read_only_data, tmp_path, monkeypatch, capsys):
    lib = TakeLibrary(read_only_data / "lib")  # reading works
    assert lib.list() == [] and [t.name for t in lib.pending_recoveries()] == ["Crashed"]
    with pytest.raises(OSError) as caught:
        lib.begin(16000, 1)
    assert "permission" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(TakeError) as caught:
        TakeLibrary(read_only_data / "new")
    assert "permission" in str(caught.value)

    monkeypatch.setenv("MOTET_DATA_DIR", str(read_only_data / "new"))
    assert run(["record", "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert _one_line(err) and "permission" in err and str(read_only_data / "new") in err


# -- options and devices --------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--seconds", "nan"], "finite"), (["--seconds", "inf"], "finite"), (["--seconds", "0"], "above 0"),
    (["--seconds", "-3"], "above 0"), (["--seconds", "1e12"], "at most"),
    (["--channels", "0"], "between 1"), (["--channels", "100000"], "between 1"), (["--channels", "two"], "whole"),
    (["--name", "   "], "name"), (["--name", "x" * 1000], "name"),
])
def test_record_options_are_checked_before_anything_happens(args, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        run(["record", *args])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert _one_line(err) and words in err and args[0] in err
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").rglob("*.wav"))


def _fake_inputs(monkeypatch):
    devices = [AudioDevice(0, "Built-in Mic", "ALSA", 2, 0, 48000.0),
               AudioDevice(3, "USB Mic", "ALSA", 1, 0, 44100.0, is_default_input=True)]
    monkeypatch.setattr("engine.audio.devices.input_devices", lambda: devices)


def test_a_device_asked_for_by_name_must_exist(monkeypatch):
    _fake_inputs(monkeypatch)
    with pytest.raises(AudioUnavailable) as caught:
        find_device("nosuchdevice", "input", exact=True)
    message = str(caught.value)
    assert "nosuchdevice" in message and "Built-in Mic" in message and "USB Mic" in message
    assert find_device("Built-in Mic", "input", exact=True).index == 0
    assert find_device("3", "input", exact=True).name == "USB Mic"  # the number `motet devices` shows
    assert find_device(None, "input", exact=True).name == "USB Mic"  # none asked for: the default
    assert find_device("gone", "input").name == "USB Mic"  # the GUI's remembered device: falls back
