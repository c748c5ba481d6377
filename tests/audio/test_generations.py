"""Generated results kept across restarts, with the prompt, model and seed in the exports' tags."""

import numpy as np
import pytest
import soundfile as sf

from engine.audio.generations import GenerationError, GenerationLibrary


def tone(seconds=0.5, rate=32000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def test_a_result_survives_a_restart_with_its_settings(tmp_path):
    lib = GenerationLibrary(tmp_path)
    g = lib.add(tone(), 32000, "lofi piano", "musicgen-small", 7, {"guidance": 3.0, "top_k": 250})
    again = GenerationLibrary(tmp_path).list()  # a new library object: what a restart sees
    assert [(x.id, x.prompt, x.model, x.seed, x.settings) for x in again] == [
        (g.id, "lofi piano", "musicgen-small", 7, {"guidance": 3.0, "top_k": 250})]
    audio, rate = GenerationLibrary(tmp_path).audio(g.id)
    assert rate == 32000 and audio.shape == (1, 16000)
    assert np.max(np.abs(audio - tone())) < 1e-4  # 24-bit FLAC


def test_newest_first_and_delete(tmp_path):
    lib = GenerationLibrary(tmp_path)
    first = lib.add(tone(), 32000, "one", "m", 1)
    second = lib.add(tone(channels=2), 32000, "two", "m", 2)
    assert [g.prompt for g in lib.list()] == ["two", "one"] and lib.get(second.id).channels == 2
    lib.delete(first.id)
    assert [g.prompt for g in lib.list()] == ["two"]
    with pytest.raises(GenerationError, match="no stored result"):
        lib.get(first.id)


@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_export_carries_prompt_model_and_seed_in_its_tags(tmp_path, suffix):
    lib = GenerationLibrary(tmp_path / "lib")
    g = lib.add(tone(), 32000, "a lively jig", "musicgen-small", 1234, {"guidance": 3.0})
    out = lib.export(g.id, tmp_path / f"jig.{suffix}")
    with sf.SoundFile(str(out)) as f:
        assert f.samplerate == 32000 and f.frames == 16000
        assert f.title == "a lively jig"
        assert "musicgen-small" in f.comment and "seed 1234" in f.comment
    assert not [p for p in (tmp_path).iterdir() if p.name.startswith(".")]  # no temporary left
    with pytest.raises(GenerationError, match="wav or .flac"):
        lib.export(g.id, tmp_path / "jig.mp3")


def test_damaged_audio_is_refused_and_a_broken_sidecar_is_passed_over(tmp_path):
    lib = GenerationLibrary(tmp_path)
    bad = tone()
    bad[0, 10] = np.nan
    with pytest.raises(GenerationError, match="damaged"):
        lib.add(bad, 32000, "x", "m", 1)
    good = lib.add(tone(), 32000, "ok", "m", 1)
    (tmp_path / "zzz.json").write_text("{not json")
    (tmp_path / "orphan.json").write_text('{"id": "orphan"}')
    assert [g.id for g in lib.list()] == [good.id]


# -- hostile cases (issue #26) -------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["wav", "flac"])
@pytest.mark.parametrize("prompt", ["lofi piano with soft drums " * 200, "柔らかいピアノ" * 700, "🎹" * 5000])
def test_a_long_prompt_never_pushes_the_seed_out_of_the_tags(tmp_path, suffix, prompt):
    from engine.audio.generations import write_tagged

    lib = GenerationLibrary(tmp_path / "lib")
    g = lib.add(tone(), 32000, prompt, "musicgen-small", 1234, {"guidance": 3.0, "continued_from": "take.wav"})
    out = write_tagged(*lib.audio(g.id), tmp_path / f"long.{suffix}", g)
    with sf.SoundFile(str(out)) as f:
        assert f.comment.startswith("model musicgen-small, seed 1234, guidance 3.0, continued_from take.wav; prompt: ")
        assert f.comment.endswith("…") and len(f.comment.encode()) <= 1000
        assert prompt.startswith(f.comment.split("; prompt: ", 1)[1][:-1])
        assert f.title and prompt.startswith(f.title[:-1])
    with sf.SoundFile(str(g.path)) as f:  # the library's own copy too
        assert "seed 1234" in f.comment


def test_write_tagged_never_replaces_what_it_did_not_write(tmp_path):
    from engine.audio.generations import OutputExistsError, write_tagged

    lib = GenerationLibrary(tmp_path / "lib")
    g = lib.add(tone(), 32000, "x", "m", 1)
    audio, rate = lib.audio(g.id)
    (tmp_path / "taken.wav").write_bytes(b"someone's")
    target = tmp_path / "target.wav"
    target.write_bytes(b"precious")
    (tmp_path / "link.wav").symlink_to(target)
    for name in ("taken.wav", "link.wav"):
        with pytest.raises(OutputExistsError):
            write_tagged(audio, rate, tmp_path / name, g, replace=False)
    assert (tmp_path / "taken.wav").read_bytes() == b"someone's" and target.read_bytes() == b"precious"
    write_tagged(audio, rate, tmp_path / "link.wav", g)  # replace=True (the GUI's export, asked): the link
    assert not (tmp_path / "link.wav").is_symlink() and target.read_bytes() == b"precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_interrupted_add_leaves_no_audio_without_its_sidecar(tmp_path, monkeypatch):
    import engine.audio.generations as generations

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generations, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        GenerationLibrary(tmp_path).add(tone(), 32000, "x", "m", 1)
    assert list(tmp_path.iterdir()) == []
