"""The Generate job without Qt: through the job queue with progress, kept in the library with its
settings, reproducible by its seed, cancellable, and a clear error for what cannot be used."""

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
