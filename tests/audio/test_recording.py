"""Streaming to disk, crash repair, the take library and failure handling (no audio device)."""

import errno
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from engine.audio.files import AudioFileError
from engine.audio.recorder import Recorder
from engine.audio.ringbuffer import RingBuffer
from engine.audio.takes import TakeLibrary, repair_wav_header


def _noise(n, seed=0):
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def test_recorder_writes_every_frame_and_the_file_is_valid(tmp_path):
    ring = RingBuffer(48000 * 4)
    rec = Recorder(ring.reader(), tmp_path / "a.wav", 48000, 1)
    rec.start()
    sent = _noise(48000 * 3)
    for i in range(0, len(sent), 480):
        ring.write(sent[i:i + 480])
    ring.close()
    rec.finish()
    assert rec.error is None and rec.reader.lost_frames == 0
    got, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 48000
    assert np.array_equal(got, sent)  # float WAV: bit-exact


def test_disk_full_stops_with_a_clear_message_and_keeps_what_was_written(tmp_path):
    class FillsUp(sf.SoundFile):
        limit = 48000

        def write(self, data):
            room = self.limit - self.frames
            super().write(data[:room])  # like a real disk: what fits is written, then it fails
            if len(data) > room:
                raise OSError(errno.ENOSPC, "No space left on device")

    def opener(path, sr, ch):
        return FillsUp(str(path), "w", sr, ch, format="WAV", subtype="FLOAT")

    errors = []
    ring = RingBuffer(48000 * 5)
    rec = Recorder(ring.reader(), tmp_path / "b.wav", 48000, 1, on_error=errors.append, open_file=opener)
    rec.start()
    sent = _noise(48000 * 2)
    for i in range(0, len(sent), 4800):
        ring.write(sent[i:i + 4800])
    ring.close()
    rec.finish()
    assert errors and "disk is full" in errors[0]
    frames = repair_wav_header(tmp_path / "b.wav")
    assert frames == 48000  # everything that fitted is kept
    got, _ = sf.read(tmp_path / "b.wav", dtype="float32")
    assert np.array_equal(got, sent[:frames])


def test_an_input_that_stops_delivering_ends_the_recording(tmp_path):
    errors = []
    ring = RingBuffer(1000)
    rec = Recorder(ring.reader(), tmp_path / "c.wav", 8000, 1, stall_timeout=0.3, on_error=errors.append)
    ring.write(_noise(800))  # before the recorder starts: however slow the machine, it has audio first
    rec.start()
    rec.finish(timeout=30)  # the stall (0.3 s) ends it
    assert errors and "stopped delivering audio" in errors[0]
    assert sf.info(str(tmp_path / "c.wav")).frames == 800


def test_a_killed_writer_leaves_a_file_that_repairs_to_all_its_samples(tmp_path):
    path = tmp_path / "killed.wav"
    script = textwrap.dedent(f"""
        import os, numpy as np, soundfile as sf
        f = sf.SoundFile({str(path)!r}, "w", 16000, 2, format="WAV", subtype="FLOAT")
        x = np.arange(2 * 16000 * 3, dtype=np.float32).reshape(-1, 2) / 1e5
        for i in range(0, len(x), 1600):
            f.write(x[i:i + 1600])
        os.kill(os.getpid(), {int(signal.SIGKILL)})
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    def data_chunk_size():
        raw = path.read_bytes()
        at = raw.index(b"data")
        return int.from_bytes(raw[at + 4:at + 8], "little"), len(raw) - at - 8

    declared, held = data_chunk_size()
    assert declared != held == 48000 * 2 * 4  # every sample is on disk, the header lags behind
    assert repair_wav_header(path) == 48000
    assert data_chunk_size() == (held, held)
    data, sr = sf.read(path, dtype="float32")
    assert sr == 16000 and data.shape == (48000, 2)
    assert np.allclose(data[-1], [2 * 48000 - 2, 2 * 48000 - 1] / np.float32(1e5))


def test_repair_refuses_what_is_not_a_wav(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"hello world, not audio at all")
    with pytest.raises(AudioFileError, match="not a WAV"):
        repair_wav_header(p)


def test_take_library_rename_delete_export_and_recovery(tmp_path):
    lib = TakeLibrary(tmp_path)
    take = lib.begin(16000, 1, device="test", name="First")
    audio = _noise(16000)
    sf.write(take.path, audio, 16000, format="WAV", subtype="FLOAT")
    lib.commit(take, 1.0)
    assert [t.name for t in lib.list()] == ["First"]
    assert lib.pending_recoveries() == []

    lib.rename(take.id, "  Renamed ")
    assert lib.get(take.id).name == "Renamed"
    with pytest.raises(ValueError):
        lib.rename(take.id, "   ")

    out = lib.export(take.id, tmp_path / "out.flac")
    info = sf.info(str(out))
    assert (info.format, info.samplerate, info.frames) == ("FLAC", 16000, 16000)
    got, _ = sf.read(out, dtype="float32")
    assert np.max(np.abs(got - audio)) < 1e-4  # 24-bit FLAC
    wav = lib.export(take.id, tmp_path / "out.wav")
    assert sf.info(str(wav)).subtype == "PCM_16"
    with pytest.raises(AudioFileError):
        lib.export(take.id, tmp_path / "no-such-dir" / "x.wav")
    assert not list((tmp_path).glob("**/*.part"))

    # a take being recorded (its lock held) is not one left by a crash
    live = lib.begin(16000, 1, name="Live")
    assert lib.pending_recoveries() == [] and [t.name for t in lib.in_progress()] == ["Live"]
    lib.discard_recovery(live)
    assert lib.in_progress() == [] and not list(lib.recovery_dir.iterdir())

    # a take left in recovery/ by a process that ended without filing it (a crash) is found,
    # repaired and filed
    began = subprocess.run([sys.executable, "-c", "import sys; from engine.audio.takes import TakeLibrary; "
                            f"print(TakeLibrary({str(tmp_path)!r}).begin(16000, 1, name='Crashed').path)"],
                           capture_output=True, text=True, timeout=120)
    crashed_path = began.stdout.strip()
    assert began.returncode == 0 and crashed_path, began.stderr
    with sf.SoundFile(crashed_path, "w", 16000, 1, format="WAV", subtype="FLOAT") as f:
        f.write(audio)
    with open(crashed_path, "r+b") as f:  # what a killed writer leaves: sizes not filled in
        f.seek(4)
        f.write(b"\0\0\0\0")
    pending = lib.pending_recoveries()
    assert [t.name for t in pending] == ["Crashed"]
    recovered = lib.recover(pending[0])
    assert recovered.name == "Crashed (recovered)" and recovered.duration == pytest.approx(1.0)
    assert lib.pending_recoveries() == []
    assert {t.name for t in lib.list()} == {"Renamed", "Crashed (recovered)"}

    lib.delete(take.id)
    assert [t.name for t in lib.list()] == ["Crashed (recovered)"]
    assert not os.path.exists(take.path)


def test_a_recording_file_that_cannot_be_created_is_named_and_nothing_is_left(tmp_path):
    from engine.atomic import WriteError
    from engine.audio.session import RecordingSession

    def refused(path, sr, ch):
        raise OSError(errno.EACCES, "Permission denied")

    lib = TakeLibrary(tmp_path / "lib")
    session = RecordingSession(lib, None, channels=1, sample_rate=16000, open_file=refused)
    with pytest.raises(WriteError) as caught:
        session.start()  # fails before the input is opened
    assert str(caught.value).startswith(f"could not save '{session.take.id}.wav': no permission")
    assert lib.pending_recoveries() == [] and lib.in_progress() == []
    assert not list(lib.recovery_dir.iterdir())
