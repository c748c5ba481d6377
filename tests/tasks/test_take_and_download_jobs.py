"""The Record view's take jobs and the Transcribe view's download job, without Qt."""

import numpy as np
import pytest
import soundfile as sf

from engine.audio.files import AudioFileError
from engine.audio.takes import TakeLibrary
from engine.jobs import JobQueue, JobState
from engine.tasks import takes as take_jobs
from engine.tasks.downloads import download_whisper


@pytest.fixture
def library(tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    take = lib.begin(16000, 2, name="Duet")
    samples = (np.random.default_rng(0).standard_normal((16000, 2)) * 0.1).astype(np.float32)
    sf.write(take.path, samples, 16000, format="WAV", subtype="FLOAT")
    take = lib.commit(take, 1.0)
    return lib, take, samples


def test_load_and_export_a_take(library, tmp_path):
    lib, take, samples = library
    audio, rate = take_jobs.load_take(None, lib, take.id)
    assert rate == 16000 and np.array_equal(audio, samples)
    out = take_jobs.export_take(None, lib, take.id, tmp_path / "duet.flac")
    data, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == 16000 and data.shape == (16000, 2) and np.abs(data - samples).max() < 1e-4  # 24-bit FLAC
    with pytest.raises(AudioFileError, match="choose WAV or FLAC"):
        take_jobs.export_take(None, lib, take.id, tmp_path / "duet.mp3")


def test_a_take_with_damaged_samples_fails_to_load_clearly(library):
    lib, take, samples = library
    samples[5, 0] = np.nan
    sf.write(take.path, samples, 16000, format="WAV", subtype="FLOAT")
    with pytest.raises(AudioFileError, match="1 sample that is not finite"):
        take_jobs.load_take(None, lib, take.id)


def test_download_offline_fails_as_a_job_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    queue = JobQueue()
    try:
        job = queue.submit(download_whisper, "tiny", lane="cpu")
        assert job.wait(120)
    finally:
        queue.shutdown()
    assert job.state is JobState.FAILED and "cannot reach the Hugging Face Hub" in job.error
