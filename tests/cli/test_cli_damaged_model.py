"""A damaged model (issue #29): logits that are not numbers are one line, exit 2, no crash log;
for `motet generate` (MusicGen) and `motet compose` (the composer), both drawing through
engine/models/common/sampling.py's sample()."""

import pytest
import torch

pytest.importorskip("transformers")

from composer_helpers import random_composer  # noqa: E402

from engine.cli import run  # noqa: E402
from engine.models.common import sampling  # noqa: E402
from engine.models.common.sampling import DAMAGED, DamagedWeightsError, sample  # noqa: E402


@pytest.fixture(autouse=True)
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


def _poisoned(module, monkeypatch):
    """The model's logits become NaN from the third step (weights gone bad in a way a load check
    cannot see, e.g. finite values that overflow)."""
    calls = []

    def nan_sample(logits, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:
            logits = torch.full_like(logits, float("nan"))
        return sample(logits, *args, **kwargs)

    monkeypatch.setattr(module, "sample", nan_sample)


def test_sample_says_nan_and_inf_are_damage_and_minus_inf_is_a_mask():
    masked = torch.randn(2, 8)
    masked[:, :3] = float("-inf")
    assert sample(masked).shape == (2,)
    for bad in (float("nan"), float("inf")):
        logits = torch.randn(2, 8)
        logits[1, 4] = bad
        with pytest.raises(DamagedWeightsError, match="^" + DAMAGED + "$"):
            sample(logits)
    assert issubclass(DamagedWeightsError, ValueError) and issubclass(sampling.DamagedWeightsError, Exception)


def test_generate_with_damaged_weights_is_one_line(tiny_musicgen_folder, tmp_path, monkeypatch, capsys):
    import engine.models.musicgen.generate as musicgen

    _poisoned(musicgen, monkeypatch)
    code = run(["generate", "a lively jig", "--model", str(tiny_musicgen_folder), "--seconds", "0.4", "--seed", "9",
                "--top-k", "50", "--out", str(tmp_path / "out.wav")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == f"motet: {DAMAGED}" and "Traceback" not in err
    assert not (tmp_path / "out.wav").exists()
    assert not list((tmp_path / "data").glob("logs/crash-*"))


def test_compose_with_damaged_weights_is_one_line(tmp_path, monkeypatch, capsys):
    import engine.models.composer.generate as composer

    model = random_composer(tmp_path / "composer")
    _poisoned(composer, monkeypatch)
    code = run(["compose", "a jig, 2 bars", "--seed", "1", "--model", str(model), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == f"motet: {DAMAGED}" and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.mid")) and not list((tmp_path / "data").glob("logs/crash-*"))
