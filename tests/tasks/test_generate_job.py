"""The Generate job without Qt: through the job queue with progress, kept in the library with its
settings, reproducible by its seed, cancellable, and a clear error for what cannot be used."""

import os

import numpy as np
import pytest

pytest.importorskip("transformers")

from engine.audio.generations import GenerationLibrary  # noqa: E402
from engine.jobs import JobQueue, JobState  # noqa: E402
from engine.models.registry import models  # noqa: E402
from engine.tasks.generate import GenerateRequest, generate_music  # noqa: E402


def run_job(fn, *args, **kwargs):
    queue, events = JobQueue(), []
    queue.subscribe(events.append)
    try:
        job = queue.submit(fn, *args, lane="gpu", **kwargs)
        assert job.wait(300)
    finally:
        queue.shutdown()
    return job, events


def test_a_job_stores_each_variation_with_its_settings(tiny_musicgen_folder, tmp_path):
    library = GenerationLibrary(tmp_path)
    request = GenerateRequest("lofi piano", seconds=0.4, seed=11, variations=2, top_k=50)
    job, events = run_job(generate_music, tiny_musicgen_folder, request, library=library)
    assert job.state is JobState.FINISHED, job.error
    stored = job.result
    assert [g.settings["variation"] for g in stored] == [1, 2]
    assert all(g.seed == 11 and g.model == "tiny-musicgen" and g.prompt == "lofi piano" for g in stored)
    assert all(g.seconds == pytest.approx(0.4) and g.sample_rate == 32000 for g in stored)
    assert {g.id for g in GenerationLibrary(tmp_path).list()} == {g.id for g in stored}
    messages = [e.message for e in events if e.kind == "progress"]
    assert messages[0] == "loading MusicGen" and any("steps/s" in m for m in messages)
    assert any(e.key[0] == "musicgen" for e in models.loaded())  # kept for the next job
    # the same request without a job (the CLI) gives the same audio
    again = generate_music(None, tiny_musicgen_folder, request, library=library)
    assert np.array_equal(library.audio(again[0].id)[0], library.audio(stored[0].id)[0])


def test_without_a_seed_one_is_drawn_and_kept(tiny_musicgen_folder, tmp_path):
    [g] = generate_music(None, tiny_musicgen_folder, GenerateRequest("drums", seconds=0.2), library=GenerationLibrary(tmp_path))
    assert isinstance(g.seed, int) and g.seed >= 0


def test_continuing_a_file(tiny_musicgen_folder, tmp_path):
    import soundfile as sf

    t = np.arange(32000) / 32000
    sf.write(tmp_path / "take.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 32000)
    request = GenerateRequest("more", seconds=0.2, seed=1, continue_from=str(tmp_path / "take.wav"),
                              continue_start=0.5)
    [g] = generate_music(None, tiny_musicgen_folder, request, library=GenerationLibrary(tmp_path / "lib"))
    assert g.seconds == pytest.approx(0.7)  # the half second used, and the new 0.2 s
    assert g.settings["continued_from"] == "take.wav"
    with pytest.raises(ValueError, match="shorter than 0.1 s"):
        generate_music(None, tiny_musicgen_folder, GenerateRequest("x", seconds=0.2, continue_from=str(tmp_path / "take.wav"),
                                                     continue_start=0.99), library=GenerationLibrary(tmp_path))


def test_cancel_leaves_no_result(tiny_musicgen_folder, tmp_path):
    library = GenerationLibrary(tmp_path)
    queue = JobQueue()
    try:
        job = queue.submit(generate_music, tiny_musicgen_folder, GenerateRequest("long", seconds=20), library=library, lane="gpu")
        while job.progress is None or job.progress < 0.02:
            if job.wait(0.05):
                break
        queue.cancel(job.id)
        assert job.wait(120)
    finally:
        queue.shutdown()
    assert job.state is JobState.CANCELLED and library.list() == []


@pytest.mark.parametrize("request_, words", [
    (GenerateRequest("x", seconds=0), "seconds"),
    (GenerateRequest("x", guidance=50), "guidance"),
    (GenerateRequest("x", variations=9), "variations"),
])
def test_bad_requests_are_named(tiny_musicgen_folder, tmp_path, request_, words):
    job, _ = run_job(generate_music, tiny_musicgen_folder, request_, library=GenerationLibrary(tmp_path))
    assert job.state is JobState.FAILED and words in job.error_message


def test_a_folder_that_is_not_musicgen_fails_in_one_line(tmp_path):
    job, _ = run_job(generate_music, tmp_path, GenerateRequest("x", seconds=0.2), library=GenerationLibrary(tmp_path))
    assert job.state is JobState.FAILED and job.error_type == "CheckpointError"
    assert "config.json is missing" in job.error_message and "\n" not in job.error_message


def test_int8_is_checked_then_used_and_kept_apart_from_float32(tiny_musicgen_folder, tmp_path):
    request = GenerateRequest("drums", seconds=0.2, seed=2, compute_type="int8")
    [g] = generate_music(None, tiny_musicgen_folder, request, library=GenerationLibrary(tmp_path))
    assert g.settings["compute"] == "int8"
    variants = {e.key[4] for e in models.loaded() if e.key[0] == "musicgen"}
    assert "int8" in variants
    with pytest.raises(ValueError, match="CPU only"):
        generate_music(None, tiny_musicgen_folder, GenerateRequest("x", seconds=0.2, compute_type="int8"), device="cuda",
                       library=GenerationLibrary(tmp_path))


def test_no_prompt_is_unconditional_and_a_long_one_is_truncated_with_a_notice(tiny_musicgen_folder, tmp_path):
    library = GenerationLibrary(tmp_path)
    [g] = generate_music(None, tiny_musicgen_folder, GenerateRequest("", seconds=0.2, seed=1), library=library)
    assert g.settings["unconditional"] and "unconditional" in g.description
    seen = []
    long_prompt = " ".join(["happy rock with drums"] * 200)
    [g] = generate_music(None, tiny_musicgen_folder, GenerateRequest(long_prompt, seconds=0.2, seed=1), library=library,
                         report=lambda fraction, message: seen.append(message))
    assert g.settings["prompt_truncated_to_tokens"] == 512 and any("reads the first 512" in m for m in seen)


def test_a_silent_part_is_not_continued(tiny_musicgen_folder, tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "quiet.wav", np.zeros(32000, dtype=np.float32), 32000)
    with pytest.raises(ValueError, match="silent"):
        generate_music(None, tiny_musicgen_folder, GenerateRequest("x", seconds=0.2, continue_from=str(tmp_path / "quiet.wav")),
                       library=GenerationLibrary(tmp_path))


# -- hostile cases (issue #26): only the part of a file that is used is read ----------------------

class Stop(Exception):
    """Raised where the model would load: what was read by then is all a job reads."""


@pytest.fixture
def reads(monkeypatch):
    """Every soundfile.read as (file name, start, stop); the job stops before its model loads."""
    import soundfile as sf

    import engine.tasks.generate as task

    seen, read = [], sf.read

    def spy(file, *args, **kwargs):
        name = os.fsdecode(file) if isinstance(file, (bytes, str, os.PathLike)) else str(file)  # libsndfile gets bytes
        seen.append((name.rsplit("/", 1)[-1], kwargs.get("start", 0), kwargs.get("stop")))
        return read(file, *args, **kwargs)

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(sf, "read", spy)
    monkeypatch.setattr(task, "musicgen", stop)
    return seen


def noise_file(path, seconds, rate=8000, channels=1):
    import soundfile as sf

    rng = np.random.default_rng(0)
    sf.write(path, (0.3 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32), rate)
    return path


def test_continuing_reads_only_the_last_20_s_of_the_part(tmp_path, reads):
    take = noise_file(tmp_path / "take.wav", 60, channels=2)
    for start, end, first, last in [(5, None, 40, 60), (5, 30, 10, 30), (0, 12, 0, 12), (50, 1e6, 50, 60)]:
        reads.clear()
        with pytest.raises(Stop):
            generate_music(None, tmp_path, GenerateRequest("more", seconds=0.2, continue_from=str(take),
                                                           continue_start=start, continue_end=end))
        assert reads == [("take.wav", first * 8000, last * 8000)], (start, end)


def test_a_file_too_long_to_load_whole_can_still_be_continued(tmp_path, reads, monkeypatch):
    import engine.audio.files as files

    take = noise_file(tmp_path / "long.wav", 60)
    monkeypatch.setattr(files, "MAX_DECODED_BYTES", 30 * 8000 * 4)  # 30 s of it at most at once
    with pytest.raises(Stop):
        generate_music(None, tmp_path, GenerateRequest("more", seconds=0.2, continue_from=str(take)))
    assert reads == [("long.wav", 40 * 8000, 60 * 8000)]


@pytest.mark.parametrize("seconds, used", [(0.4, 31), (30, 31), (45, 76)])
def test_a_melody_is_read_only_as_far_as_the_piece_reaches(tmp_path, reads, seconds, used):
    tune = noise_file(tmp_path / "tune.wav", 100)
    with pytest.raises(Stop):
        generate_music(None, tmp_path, GenerateRequest("x", seconds=seconds, melody_from=str(tune)))
    assert reads == [("tune.wav", 0, used * 8000)]


def test_the_melody_read_gives_each_window_the_chroma_of_the_whole_file():
    """MusicGen's windows read the reference from their start, wrapping around past its end: cut
    at ``melody_seconds``, a longer reference gives every window the same chromagram."""
    import types

    import torch

    from engine.models.musicgen.options import STRIDE_SECONDS, WINDOW_SECONDS
    from engine.models.musicgen.pipeline import MusicGen, melody_seconds

    rate, frame_rate, seconds = 8000, 50, 95
    rng = np.random.default_rng(1)
    full = (0.3 * rng.standard_normal((2, 200 * rate))).astype(np.float32)
    cut = full[:, :round(melody_seconds(seconds) * rate)]
    model = types.SimpleNamespace(device="cpu")
    wanted, window = seconds * frame_rate, round(WINDOW_SECONDS * frame_rate)
    made, starts = 0, []
    while made < wanted:  # MusicGen.generate's windows
        starts.append(made / frame_rate)
        made += min(wanted - made, window - (0 if made == 0 else round((WINDOW_SECONDS - STRIDE_SECONDS) * frame_rate)))
    assert len(starts) > 2
    for start in starts:
        assert torch.equal(MusicGen._chroma(model, (full, rate), start), MusicGen._chroma(model, (cut, rate), start))


def test_a_melody_cut_to_what_is_used_makes_the_same_music(tmp_path):
    from musicgen_helpers import tiny_musicgen

    from engine.tasks.generate import musicgen

    folder = tmp_path / "tiny-melody"
    tiny_musicgen(folder, melody=True)
    tune = noise_file(tmp_path / "tune.wav", 50)
    [g] = generate_music(None, folder, GenerateRequest("x", seconds=0.4, seed=3, melody_from=str(tune)),
                         library=GenerationLibrary(tmp_path / "lib"))
    import soundfile as sf

    whole, rate = sf.read(tune, dtype="float32", always_2d=True)
    expected = musicgen(folder).generate(["x"], 0.4, seed=3, melody=(whole.T, rate))
    assert np.max(np.abs(GenerationLibrary(tmp_path / "lib").audio(g.id)[0] - expected[0])) < 1e-4  # 24-bit FLAC


def test_a_prompt_that_is_not_text_fails_in_one_line(tiny_musicgen_folder, tmp_path):
    prompt = b"drums \xff".decode("utf-8", "surrogateescape")
    job, _ = run_job(generate_music, tiny_musicgen_folder, GenerateRequest(prompt, seconds=0.2),
                     library=GenerationLibrary(tmp_path))
    assert job.state is JobState.FAILED and "not valid text (byte 0xff" in job.error_message
    from engine.tasks.compose import ComposeRequest, compose_piece

    with pytest.raises(ValueError, match="not valid text"):
        compose_piece(None, ComposeRequest("a jig \ud800"))


def test_a_result_the_library_cannot_keep_names_its_seed(tiny_musicgen_folder, tmp_path):
    from engine.audio.generations import GenerationError

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(GenerationError, match="seed 8: the same seed"):
        generate_music(None, tiny_musicgen_folder, GenerateRequest("x", seconds=0.2, seed=8),
                       library=GenerationLibrary(blocked / "generations"))
