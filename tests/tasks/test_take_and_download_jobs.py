"""The Record view's take jobs and the Transcribe view's download job, without Qt."""

from pathlib import Path

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


# -- Transcribe again (issue #27 item 5) --------------------------------------------------------

@pytest.fixture
def spoken_take(tmp_path):
    """A take of one espeak sentence in the default library, with a broken stored transcript."""
    from speech import espeak

    from engine.transcript import Segment, TranscriptionResult

    lib = TakeLibrary()
    audio = espeak("The quick brown fox jumps over the lazy dog.", "en-us", tmp_path / "fox.wav")
    take = lib.begin(16000, 1, name="Fox")
    sf.write(take.path, audio, 16000)
    take = lib.commit(take, len(audio) / 16000)
    broken = TranscriptionResult("en", 1.0, take.duration, [Segment(0, 0, 0.0, 1.0, " zzz broken", [], 0, 0, 0, 0)])
    lib.save_transcript(take.id, broken)
    return lib, take


def _tiny():
    from engine.models.catalog import resolve_model

    try:
        return str(resolve_model("tiny.en"))
    except ValueError as exc:
        pytest.skip(f"tiny.en is not installed: {exc}")


def test_transcribe_again_replaces_the_transcript_and_undo_brings_the_old_one_back(spoken_take):
    from engine.models.whisper.options import TranscribeOptions

    lib, take = spoken_take
    queue = JobQueue()
    try:
        job = queue.submit(take_jobs.retranscribe_take, lib, take.id, _tiny(), TranscribeOptions(beam_size=1),
                           compute_type="int8", lane="gpu")
        assert job.wait(300), "the job did not end"
    finally:
        queue.shutdown()
    assert job.state is JobState.FINISHED, job.error
    stored = lib.load_transcript(take.id)
    assert "lazy dog" in stored.text.lower() and "broken" not in stored.text and stored.text == job.result.text
    assert lib.undo_transcript(take.id).text == "zzz broken"


def test_a_failed_transcribe_again_leaves_the_old_transcript(spoken_take, tmp_path):
    from engine.models.whisper.options import TranscribeOptions

    lib, take = spoken_take
    queue = JobQueue()
    try:
        bad_model = queue.submit(take_jobs.retranscribe_take, lib, take.id, str(tmp_path / "no-model"),
                                 TranscribeOptions(), lane="gpu")
        assert bad_model.wait(120)
        Path(take.path).write_bytes(b"RIFF but not really")
        bad_audio = queue.submit(take_jobs.retranscribe_take, lib, take.id, _tiny(), TranscribeOptions(), lane="gpu")
        assert bad_audio.wait(120)
    finally:
        queue.shutdown()
    assert bad_model.state is JobState.FAILED
    assert bad_audio.state is JobState.FAILED and "the audio of 'Fox' cannot be read" in bad_audio.error
    assert lib.load_transcript(take.id).text == "zzz broken" and not lib.has_previous_transcript(take.id)


def test_cli_retranscribe_and_undo(spoken_take, capsys):
    from engine.cli import run

    lib, take = spoken_take
    assert run(["takes", "--retranscribe", take.id, "--model", "tiny.en", "--compute-type", "int8",
                "--beam-size", "1"]) == 0
    out = capsys.readouterr().out
    assert "'Fox'" in out and "--undo-transcript" in out
    assert "lazy dog" in lib.load_transcript(take.id).text.lower()
    assert run(["takes", "--undo-transcript", take.id]) == 0
    assert lib.load_transcript(take.id).text == "zzz broken"


@pytest.mark.parametrize("argv, message", [
    (["takes", "--retranscribe", "20991231-000000-abcdef"], "there is no take '20991231-000000-abcdef'"),
    (["takes", "--undo-transcript", "nope"], "there is no take 'nope'"),
    (["takes", "--retranscribe", "../../elsewhere"], "there is no take '../../elsewhere'"),
    (["takes", "--model", "tiny.en"], "--model goes with --retranscribe ID"),
])
def test_cli_a_missing_take_is_one_line(argv, message, capsys):
    from engine.cli import run

    assert run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_a_take_whose_audio_cannot_be_read_is_one_line_and_keeps_its_transcript(spoken_take, capsys):
    from engine.cli import run

    lib, take = spoken_take
    Path(take.path).write_bytes(b"garbage")
    assert run(["takes", "--retranscribe", take.id, "--model", "tiny.en"]) == 2
    err = capsys.readouterr().err
    assert "the audio of 'Fox' cannot be read" in err and err.count("\n") == 1
    assert lib.load_transcript(take.id).text == "zzz broken"


def test_cli_a_model_that_cannot_be_found_is_one_line_and_keeps_the_transcript(spoken_take, capsys, tmp_path):
    from engine.cli import run

    lib, take = spoken_take
    assert run(["takes", "--retranscribe", take.id, "--model", str(tmp_path / "no-such-model")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("motet: ") and err.count("\n") == 1
    assert lib.load_transcript(take.id).text == "zzz broken"


def test_a_take_deleted_during_transcribe_again_is_said_so(spoken_take, monkeypatch):
    from engine.models.whisper.options import TranscribeOptions
    from engine.tasks import transcribe as transcribe_tasks

    lib, take = spoken_take

    def transcribe_then_gone(ctx, path, *args, **kwargs):
        lib.delete(take.id)
        return lib.load_transcript  # never stored: any result

    monkeypatch.setattr(transcribe_tasks, "transcribe_file", transcribe_then_gone)
    queue = JobQueue()
    try:
        job = queue.submit(take_jobs.retranscribe_take, lib, take.id, "model", TranscribeOptions(), lane="gpu")
        assert job.wait(60)
    finally:
        queue.shutdown()
    assert job.state is JobState.FAILED and "'Fox' was deleted meanwhile" in job.error
