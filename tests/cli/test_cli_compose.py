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
