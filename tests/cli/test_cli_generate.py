"""`motet generate` as a user runs it: files written with the prompt, model and seed in their tags,
variations numbered, the same seed the same music, and one clear line for what cannot be done."""

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")

from engine.audio.generations import GenerationLibrary  # noqa: E402
from engine.cli import run  # noqa: E402


@pytest.fixture(autouse=True)
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # no MusicGen in any cache


def test_generate_writes_tagged_variations_and_keeps_them(tiny_musicgen_folder, tmp_path, capsys):
    out = tmp_path / "jig.flac"
    assert run(["generate", "a lively jig", "--model", str(tiny_musicgen_folder), "--seconds", "0.4", "--seed", "9",
                "--variations", "2", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [str(tmp_path / "jig-1.flac"), str(tmp_path / "jig-2.flac")]
    assert all("seed 9" in line for line in lines)
    for path in (tmp_path / "jig-1.flac", tmp_path / "jig-2.flac"):
        with sf.SoundFile(str(path)) as f:
            assert (f.samplerate, f.channels, f.frames) == (32000, 1, 0.4 * 32000)
            assert f.title == "a lively jig" and "tiny-musicgen" in f.comment and "seed 9" in f.comment
    assert len(GenerationLibrary().list()) == 2  # the Generate page lists them too
    a = sf.read(tmp_path / "jig-1.flac")[0]
    assert run(["generate", "a lively jig", "--model", str(tiny_musicgen_folder), "--seconds", "0.4", "--seed", "9",
                "--variations", "2", "--out", str(tmp_path / "again.flac")]) == 0
    assert np.array_equal(sf.read(tmp_path / "again-1.flac")[0], a)  # the same seed, the same music


def test_default_name_comes_from_the_prompt(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["generate", "Lofi piano, soft drums!", "--model", str(tiny_musicgen_folder), "--seconds", "0.2"]) == 0
    assert (tmp_path / "lofi-piano-soft-drums.wav").is_file()


@pytest.mark.parametrize("args, words", [
    (["--seconds", "400"], "--seconds"),
    (["--cfg", "0"], "--cfg"),
    (["--top-k", "-1"], "--top-k"),
    (["--variations", "9"], "--variations"),
])
def test_options_out_of_range_are_one_line(tiny_musicgen_folder, capsys, args, words):
    with pytest.raises(SystemExit) as info:
        run(["generate", "x", "--model", str(tiny_musicgen_folder), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_what_cannot_be_done_is_said(tiny_musicgen_folder, tmp_path, capsys):
    assert run(["generate", "x"]) == 2
    assert "no MusicGen model is installed" in capsys.readouterr().err
    assert run(["generate", "x", "--model", str(tiny_musicgen_folder), "--out", str(tmp_path / "x.mp3")]) == 2
    assert ".wav or .flac" in capsys.readouterr().err
    import soundfile as sf_

    sf_.write(tmp_path / "tune.wav", np.zeros(16000, dtype=np.float32) + 0.1, 16000)
    assert run(["generate", "x", "--model", str(tiny_musicgen_folder), "--melody", str(tmp_path / "tune.wav")]) == 2
    assert "melody model" in capsys.readouterr().err
    assert run(["generate", "x", "--model", str(tiny_musicgen_folder), "--continue", str(tmp_path / "none.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert "none.wav" in err and len(err.splitlines()) == 1
