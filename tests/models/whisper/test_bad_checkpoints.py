"""Hostile or broken Whisper folders: dimensions that are negative, zero, not whole numbers or
absurdly large are refused by a CheckpointError before anything is allocated; a pickle that
would need code to load is refused in Motet's own words (without torch's advice to disable the
safety)."""

from __future__ import annotations

import json

import pytest
import torch

from engine.models.common.errors import CheckpointError
from engine.models.whisper import model as whisper_model
from engine.models.whisper.loading import load_whisper_model

CONFIG = {"model_type": "whisper", "vocab_size": 300, "d_model": 64, "encoder_layers": 2, "decoder_layers": 2,
          "encoder_attention_heads": 4, "decoder_attention_heads": 4, "num_mel_bins": 80,
          "max_target_positions": 40, "max_source_positions": 1500}


@pytest.fixture
def no_model_built(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("a model was built (memory allocated) for a config that should be refused")

    monkeypatch.setattr(whisper_model.Whisper, "__init__", refuse)


def _folder(tmp_path, **changes):
    from safetensors.torch import save_file

    config = dict(CONFIG, **changes)
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file({"model.decoder.layer_norm.weight": torch.ones(64)}, str(tmp_path / "model.safetensors"))
    return tmp_path


@pytest.mark.parametrize("key, value, message", [
    ("d_model", -64, r"d_model is -64; it must be a whole number from 1 to"),
    ("encoder_layers", 0, r"encoder_layers is 0; it must be a whole number from 1 to"),
    ("num_mel_bins", 80.5, r"num_mel_bins is 80\.5; it must be a whole number"),
    ("vocab_size", "many", r"vocab_size is 'many'; it must be a whole number"),
    ("decoder_layers", True, r"decoder_layers is True; it must be a whole number"),
    ("max_target_positions", 10**9, r"max_target_positions is 1000000000; it must be a whole number from 1 to"),
    ("d_model", 65536, r"d_model is 65536; it must be a whole number from 1 to"),
    ("encoder_attention_heads", -4, r"encoder_attention_heads is -4"),
])
def test_absurd_dimensions_are_refused_before_any_allocation(tmp_path, no_model_built, key, value, message):
    folder = _folder(tmp_path, **{key: value})
    with pytest.raises(CheckpointError, match=message) as err:
        load_whisper_model(folder)
    assert str(folder / "config.json") in str(err.value)


def test_a_model_too_large_in_total_is_refused(tmp_path, no_model_built):
    """Each dimension within its bounds, together far beyond any Whisper (large-v3: 1.55 G parameters)."""
    folder = _folder(tmp_path, d_model=4096, encoder_layers=64, decoder_layers=64, vocab_size=60000)
    with pytest.raises(CheckpointError, match=r"would have about \d+\.\d G parameters"):
        load_whisper_model(folder)


class Payload:
    """Any class outside torch's allow-list: unpickling it would mean importing and running code."""


def test_a_pickle_with_code_is_refused_in_motets_words(tmp_path):
    folder = _folder(tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save({"model.decoder.layer_norm.weight": torch.ones(64), "extra": Payload()},
               folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as err:
        load_whisper_model(folder)
    message = str(err.value)
    assert str(folder / "pytorch_model.bin") in message and "refused" in message
    assert "weights_only" not in message and "\n" not in message, message
