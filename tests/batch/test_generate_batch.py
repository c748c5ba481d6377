"""`motet batch generate` with a small random MusicGen: one tagged WAV per prompt line (and per
variation), seeds that follow from --seed and the prompt, a rerun that renders nothing again."""

import json

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")

from engine.batch.inputs import BatchInputError  # noqa: E402
from engine.batch.runner import generate_batch  # noqa: E402
from engine.batch.workers import RenderSettings  # noqa: E402
from engine.cli import run  # noqa: E402


def _prompts(tmp_path, *lines):
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_prompt_becomes_tagged_files_and_a_rerun_renders_nothing(tiny_musicgen_folder, tmp_path, capsys):
    prompts = _prompts(tmp_path, "# my list", "a lively jig", "", "slow piano", "a lively jig")
    out = tmp_path / "out"
    args = ["batch", "generate", str(prompts), "--output-dir", str(out), "--model", str(tiny_musicgen_folder), "--seconds", "0.3",
            "--seed", "5", "--variations", "2"]
    assert run(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == ["a lively jig", "slow piano", "a lively jig (#2)"] and summary["failed"] == {}
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["a-lively-jig-1.wav", "a-lively-jig-2-1.wav", "a-lively-jig-2-2.wav", "a-lively-jig-2.wav",
                     "slow-piano-1.wav", "slow-piano-2.wav"]
    seeds = set()
    for name in names:
        with sf.SoundFile(str(out / name)) as f:
            assert (f.samplerate, f.frames) == (32000, round(0.3 * 32000))
            assert f.title in ("a lively jig", "slow piano") and "tiny-musicgen" in f.comment
            seeds.add(f.comment.split("seed ")[1].split()[0].rstrip(",;"))
    assert len(seeds) == 3  # one per line: the repeated line is another piece, not a copy
    first = sf.read(out / "a-lively-jig-1.wav")[0]
    assert not np.array_equal(first, sf.read(out / "a-lively-jig-2-1.wav")[0])
    assert run(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["done"] == [] and len(again["skipped"]) == 3
    np.testing.assert_array_equal(sf.read(out / "a-lively-jig-1.wav")[0], first)


def test_the_same_seed_gives_the_same_music_whatever_the_order(tiny_musicgen_folder, tmp_path):
    settings = RenderSettings(seconds=0.3)
    one = generate_batch(_prompts(tmp_path, "a lively jig", "slow piano"), tmp_path / "one", str(tiny_musicgen_folder), settings, 7)
    two = generate_batch(_prompts(tmp_path, "slow piano", "a lively jig"), tmp_path / "two", str(tiny_musicgen_folder), settings, 7)
    assert len(one.done) == len(two.done) == 2
    for name in ("a-lively-jig.wav", "slow-piano.wav"):
        np.testing.assert_array_equal(sf.read(tmp_path / "one" / name)[0], sf.read(tmp_path / "two" / name)[0])


def test_a_file_without_prompts_is_refused(tiny_musicgen_folder, tmp_path):
    with pytest.raises(BatchInputError, match="has no prompts"):
        generate_batch(_prompts(tmp_path, "# nothing", ""), tmp_path / "out", str(tiny_musicgen_folder))
    with pytest.raises(BatchInputError, match="cannot read the prompts"):
        generate_batch(tmp_path / "missing.txt", tmp_path / "out", str(tiny_musicgen_folder))


def test_on_a_ray_worker_the_prompts_render_as_in_this_process(tiny_musicgen_folder, tmp_path):
    pytest.importorskip("ray")
    prompts = _prompts(tmp_path, "a lively jig", "slow piano")
    settings = RenderSettings(seconds=0.3, top_k=1)  # greedy: the same tokens whatever the thread count
    here = generate_batch(prompts, tmp_path / "here", str(tiny_musicgen_folder), settings, 3)
    there = generate_batch(prompts, tmp_path / "there", str(tiny_musicgen_folder), settings, 3, cluster="local", workers=1, threads=2)
    assert there.workers == 1 and here.done == there.done == ["a lively jig", "slow piano"]
    for name in ("a-lively-jig.wav", "slow-piano.wav"):
        np.testing.assert_allclose(sf.read(tmp_path / "there" / name)[0], sf.read(tmp_path / "here" / name)[0],
                                   atol=1e-4)


def test_a_full_disk_is_reported_and_the_batch_goes_on(tiny_musicgen_folder, tmp_path, monkeypatch):
    import errno

    import engine.audio.generations as generations

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(generations, "atomic_path", full)
    summary = generate_batch(_prompts(tmp_path, "a lively jig", "slow piano"), tmp_path / "out", str(tiny_musicgen_folder),
                             RenderSettings(seconds=0.3), 1)
    assert summary.done == [] and sorted(summary.failed) == ["a lively jig", "slow piano"]
    assert all("No space left" in why for why in summary.failed.values())
    assert not list((tmp_path / "out").glob("*.wav"))
