"""`motet compose` as a user runs it (a small random composer: the shipped one is tested in
tests/models/composer/test_composer_shipped.py): one .mid per variation with the asked meter,
tempo, instrument and bars, what it understood printed, and one clear line for what it refuses."""

import pytest
from composer_helpers import random_composer

from engine.cli import run
from engine.midi.midifile import read_midi


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_composer(tmp_path_factory.mktemp("composer"))


def test_compose_writes_one_file_per_variation(model, tmp_path, capsys):
    assert run(["compose", "a slow waltz in E minor for flute, 6 bars", "--variations", "2", "--seed", "4",
                "--model", str(model), "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    paths = captured.out.split()
    assert [p.rsplit("/", 1)[1] for p in paths] == ["compose-4-1.mid", "compose-4-2.mid"]
    assert "key E minor" in captured.err and "meter 3/4" in captured.err and "no waltzes" in captured.err
    for path in paths:
        score = read_midi(path)
        assert (score.time_signature.numerator, score.time_signature.denominator) == (3, 4)
        assert score.tracks[0].program == 73 and round(score.bpm) == 64  # "slow": 0.8 x the air's 80
        assert 0 < score.end_tick <= 6 * score.ticks_per_bar


def test_compose_refuses_clearly(model, tmp_path, capsys):
    assert run(["compose", "a jig, 1000 bars", "--model", str(model), "--out", str(tmp_path)]) == 2
    assert "1 to 64 bars" in capsys.readouterr().err
    assert run(["compose", "a reel", "--model", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "config.json is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run(["compose", "a reel", "--bars", "0"])
    assert exit_.value.code == 2 and "between 1 and 64" in capsys.readouterr().err


# -- hostile cases (issue #26) -------------------------------------------------------------------

def compose(model, out, *args):
    return run(["compose", "a jig, 2 bars", "--seed", "1", "--model", str(model), "--out", str(out), *args])


def test_a_second_run_with_the_same_seed_takes_free_names(model, tmp_path, capsys):
    assert compose(model, tmp_path) == 0
    first = (tmp_path / "compose-1-1.mid").read_bytes()
    capsys.readouterr()
    assert compose(model, tmp_path) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(tmp_path / "compose-1-1-2.mid")]
    assert "motet: compose-1-1.mid exists; wrote compose-1-1-2.mid" in captured.err.splitlines()
    assert (tmp_path / "compose-1-1.mid").read_bytes() == first
    assert (tmp_path / "compose-1-1-2.mid").read_bytes() == first  # the same seed, the same piece


def test_a_link_under_the_name_is_not_written_through(model, tmp_path, capsys):
    target = tmp_path / "precious.mid"
    target.write_bytes(b"precious")
    (tmp_path / "compose-1-1.mid").symlink_to(target)
    assert compose(model, tmp_path) == 0
    assert target.read_bytes() == b"precious" and (tmp_path / "compose-1-1-2.mid").is_file()


def test_negative_bars_and_tempo_are_said_to_be_ignored(model, tmp_path, capsys):
    assert run(["compose", "a reel, -5 bars, -120 bpm", "--seed", "2", "--model", str(model),
                "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "bars 16" in err and "tempo 120" not in err
    assert "note: '-5 bars' is negative: ignored" in err and "note: '-120 bpm' is negative: ignored" in err
    assert "ignored: -5, bars, -120, bpm" in err


def test_a_prompt_with_a_byte_that_is_not_utf8_is_one_line(model, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        run(["compose", b"a jig \xff".decode("utf-8", "surrogateescape"), "--model", str(model),
             "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1 and "not valid text (byte 0xff" in err
    assert not list(tmp_path.iterdir())


def test_a_full_disk_still_says_the_seed(model, tmp_path, monkeypatch, capsys):
    import errno

    import mido

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mido.MidiFile, "save", full)
    assert compose(model, tmp_path, "--seed", "3") == 1
    err = capsys.readouterr().err
    assert "seed 3" in err.splitlines() and "the disk is full" in err and "--seed 3" in err.splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_ctrl_c_says_what_was_kept(model, tmp_path, monkeypatch, capsys):
    import engine.tasks.compose as task

    compose_piece = task.compose_piece

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(task, "compose_piece", interrupted)
    assert compose(model, tmp_path) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "motet compose: cancelled; nothing was written"
    monkeypatch.setattr(task, "compose_piece", compose_piece)
    import mido

    save, calls = mido.MidiFile.save, []

    def second_interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return save(self, *args, **kwargs)

    monkeypatch.setattr(mido.MidiFile, "save", second_interrupted)
    assert compose(model, tmp_path, "--variations", "2") == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"motet compose: cancelled; kept {tmp_path / 'compose-1-1.mid'}"
    assert [p.name for p in tmp_path.iterdir()] == ["compose-1-1.mid"]  # no half-written file either


# -- issue #29: what is printed is what was composed -----------------------------------------------

@pytest.mark.parametrize("prompt", ["", "heavy metal with screaming guitars, 200 bpm"])
def test_without_a_seed_the_printed_settings_are_those_of_the_file(model, tmp_path, capsys, prompt):
    from engine.midi.instruments import program_name

    for attempt in range(6):  # each run draws its own style: all of them must match their file
        out = tmp_path / str(attempt)
        assert run(["compose", prompt, "--bars", "2", "--model", str(model), "--out", str(out)]) == 0
        captured = capsys.readouterr()
        understood = next(line for line in captured.err.splitlines() if line.startswith("understood: "))
        chips = dict(part.split(" ", 1) for part in understood.removeprefix("understood: ").split(" · "))
        seed = next(line for line in captured.err.splitlines() if line.startswith("seed ")).split()[1]
        (path,) = captured.out.split()
        assert path.endswith(f"compose-{seed}-1.mid")
        score = read_midi(path)
        ts = score.time_signature
        assert chips["meter"] == f"{ts.numerator}/{ts.denominator}"
        assert chips["tempo"] == f"{round(score.bpm)} BPM"
        assert chips["instrument"] == program_name(score.tracks[0].program)
        # and the printed seed makes the same reading again
        assert run(["compose", prompt, "--bars", "2", "--seed", seed, "--model", str(model),
                    "--out", str(tmp_path / f"again{attempt}")]) == 0
        assert understood in capsys.readouterr().err.splitlines()
