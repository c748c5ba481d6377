"""`motet generate` as a user runs it: files written with the prompt, model and seed in their tags,
variations numbered, the same seed the same music, and one clear line for what cannot be done."""

import os

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


# -- hostile cases (issue #26) -------------------------------------------------------------------

def tone_file(path, seconds=1.0, rate=32000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)], axis=1)
    sf.write(path, audio.astype(np.float32), rate)
    return path


def gen(folder, *args):
    return run(["generate", *args[:1], "--model", str(folder), "--seconds", "0.2", *args[1:]])


def test_an_input_named_as_out_is_refused_and_left_as_it_is(tiny_musicgen_folder, tmp_path, capsys):
    take = tone_file(tmp_path / "take.wav", seconds=3)
    before = take.read_bytes()
    assert gen(tiny_musicgen_folder, "more", "--continue", str(take), "--out", str(take)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("motet") and "--continue" in err and "input" in err
    assert take.read_bytes() == before


def test_an_existing_out_is_refused_before_any_work(tiny_musicgen_folder, tmp_path, capsys):
    old = tmp_path / "song.wav"
    old.write_bytes(b"not mine to replace")
    assert gen(tiny_musicgen_folder, "x", "--out", str(old)) == 2
    err = capsys.readouterr().err.strip()
    assert "exists already" in err and len(err.splitlines()) == 1
    assert old.read_bytes() == b"not mine to replace"
    (tmp_path / "jig-2.flac").write_bytes(b"a variation's name")  # one of the names the variations take
    assert gen(tiny_musicgen_folder, "x", "--variations", "2", "--out", str(tmp_path / "jig.flac")) == 2
    assert "jig-2.flac exists already" in capsys.readouterr().err
    assert not (tmp_path / "jig-1.flac").exists()


def test_an_out_that_is_a_symlink_is_not_written_through(tiny_musicgen_folder, tmp_path, capsys):
    target = tmp_path / "precious.wav"
    target.write_bytes(b"precious")
    (tmp_path / "link.wav").symlink_to(target)
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    assert gen(tiny_musicgen_folder, "x", "--out", str(tmp_path / "link.wav")) == 2
    assert gen(tiny_musicgen_folder, "x", "--out", str(tmp_path / "dangling.wav")) == 2
    assert target.read_bytes() == b"precious" and not (tmp_path / "nowhere.wav").exists()


def test_a_default_name_that_exists_becomes_a_free_one(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "interview.wav").write_bytes(b"an interview")
    (tmp_path / "interview-3.wav").symlink_to(tmp_path / "elsewhere.wav")  # a link is a name taken too
    assert gen(tiny_musicgen_folder, "Interview", "--seed", "1") == 0
    captured = capsys.readouterr()
    assert "motet: interview.wav exists; wrote interview-2.wav" in captured.err.splitlines()
    assert captured.out.split()[0] == "interview-2.wav"
    assert gen(tiny_musicgen_folder, "Interview", "--seed", "1") == 0
    assert "wrote interview-4.wav" in capsys.readouterr().err
    assert (tmp_path / "interview.wav").read_bytes() == b"an interview"
    assert sf.info(str(tmp_path / "interview-2.wav")).frames == sf.info(str(tmp_path / "interview-4.wav")).frames
    assert not (tmp_path / "elsewhere.wav").exists()


def test_a_file_made_meanwhile_under_out_is_kept(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    import engine.tasks.generate as task

    out = tmp_path / "mine.wav"
    make = task.make_music

    def make_then_someone_writes(*args, **kwargs):
        made = make(*args, **kwargs)
        out.write_bytes(b"written by someone else meanwhile")
        return made

    monkeypatch.setattr(task, "make_music", make_then_someone_writes)
    assert gen(tiny_musicgen_folder, "x", "--out", str(out)) == 0
    assert "mine.wav exists; wrote mine-2.wav" in capsys.readouterr().err
    assert out.read_bytes() == b"written by someone else meanwhile" and (tmp_path / "mine-2.wav").is_file()


def test_a_full_data_folder_still_writes_out_and_says_the_seed(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "data-is-a-file"
    blocked.write_text("the data folder cannot be made here")
    monkeypatch.setenv("MOTET_DATA_DIR", str(blocked))
    out = tmp_path / "kept.wav"
    assert gen(tiny_musicgen_folder, "x", "--out", str(out)) == 0
    err = capsys.readouterr().err
    seed = next(int(line.split()[1]) for line in err.splitlines() if line.startswith("seed "))
    assert "could not store the result" in err and "kept.wav is the only copy" in err
    with sf.SoundFile(str(out)) as f:
        assert f"seed {seed}" in f.comment
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    assert gen(tiny_musicgen_folder, "x", "--seed", str(seed), "--out", str(tmp_path / "again.wav")) == 0
    assert np.array_equal(sf.read(out)[0], sf.read(tmp_path / "again.wav")[0])  # the seed said makes it again


def test_an_out_that_cannot_be_written_is_kept_in_the_library(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    import engine.audio.generations as generations

    def full_disk(audio, rate, dest, g, replace=True):
        raise generations.GenerationError(f"could not save '{dest.name}': the disk is full")

    monkeypatch.setattr(generations, "write_tagged", full_disk)
    assert gen(tiny_musicgen_folder, "x", "--seed", "5", "--out", str(tmp_path / "lost.wav")) == 1
    err = capsys.readouterr().err
    assert "seed 5" in err.splitlines() and "the disk is full" in err
    [g] = GenerationLibrary().list()
    assert f"kept in the generation library: {g.path}" in err and g.seed == 5


def test_ctrl_c_says_what_was_kept(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    import engine.audio.generations as generations
    import engine.tasks.generate as task

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(task, "make_music", interrupted)
    assert gen(tiny_musicgen_folder, "x", "--out", str(tmp_path / "a.wav")) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "motet generate: cancelled; nothing was written"
    monkeypatch.undo()
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    write = generations.write_tagged
    calls = []

    def second_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(generations, "write_tagged", second_interrupted)
    assert gen(tiny_musicgen_folder, "x", "--variations", "2", "--out", str(tmp_path / "b.wav")) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"motet generate: cancelled; kept {tmp_path / 'b-1.wav'}"
    assert sorted(p.name for p in tmp_path.glob("b*")) == ["b-1.wav"]


def test_any_command_says_it_was_cancelled(monkeypatch, capsys):
    import engine.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "takes", interrupted)
    assert run(["takes"]) == 130
    assert capsys.readouterr().err.strip() == "motet takes: cancelled"


def test_a_prompt_with_a_byte_that_is_not_utf8_is_one_line(tiny_musicgen_folder, tmp_path, capsys):
    prompt = b"caf\xe9 jazz".decode("utf-8", "surrogateescape")  # what Python makes of such an argv
    with pytest.raises(SystemExit) as info:
        gen(tiny_musicgen_folder, prompt, "--out", str(tmp_path / "x.wav"))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("motet generate")
    assert "not valid text (byte 0xe9" in err
    assert not list(tmp_path.glob("*.wav"))


def test_a_bound_and_the_value_refused_never_read_alike(capsys):
    with pytest.raises(SystemExit):
        run(["generate", "x", "--seconds", "300.0001"])
    err = capsys.readouterr().err
    assert "at most 300, not 300.0001" in err


def test_an_out_name_that_is_not_utf8_is_printed(tiny_musicgen_folder, tmp_path, capsys):
    out = str(tmp_path / b"caf\xe9.wav".decode("utf-8", "surrogateescape"))
    assert gen(tiny_musicgen_folder, "x", "--out", out) == 0
    assert "caf\\xe9.wav" in capsys.readouterr().out
    assert b"caf\xe9.wav" in os.listdir(bytes(tmp_path))


def test_a_name_too_long_is_refused_and_a_long_prompt_gives_a_short_default(tiny_musicgen_folder, tmp_path,
                                                                             monkeypatch, capsys):
    assert gen(tiny_musicgen_folder, "x", "--out", str(tmp_path / ("n" * 250 + ".wav"))) == 2
    err = capsys.readouterr().err.strip()
    assert "the file name is too long" in err and len(err.splitlines()) == 1
    monkeypatch.chdir(tmp_path)
    assert gen(tiny_musicgen_folder, "0" * 900) == 0
    assert [p.name for p in tmp_path.glob("*.wav")] == ["0" * 60 + ".wav"]
