"""A Music Transformer folder whose config.json asks for impossible or absurd sizes is refused
with one CheckpointError naming the file and the field, before anything is allocated."""

import json

import pytest

from engine.models.common.errors import CheckpointError
from engine.models.music_transformer import generate
from engine.models.music_transformer.generate import ASSET_DIR, load_model
from engine.models.music_transformer.model import MusicTransformerConfig

SHIPPED = json.loads((ASSET_DIR / "config.json").read_text())


@pytest.fixture
def no_allocation(monkeypatch):
    """Building the model (the allocation) must not be reached."""
    monkeypatch.setattr(generate, "MusicTransformer", lambda cfg: pytest.fail("a model was allocated"))


@pytest.mark.parametrize("change, words", [
    ({"d_model": -192}, "d_model"),
    ({"d_model": 0}, "d_model"),
    ({"d_model": 19.5}, "d_model"),
    ({"d_model": "192"}, "d_model"),
    ({"d_model": True}, "d_model"),
    ({"n_layers": -1}, "n_layers"),
    ({"n_layers": 10**9}, "n_layers"),
    ({"n_heads": 0}, "n_heads"),
    ({"n_heads": 5}, "n_heads"),  # 192 is not divisible by 5
    ({"d_ff": 10**12}, "d_ff"),
    ({"max_len": 10**9}, "max_len"),
    ({"max_len": 0}, "max_len"),
    ({"vocab_size": 10}, "vocab_size"),
    ({"dropout": float("nan")}, "dropout"),
    ({"dropout": 1.5}, "dropout"),
    ({"position": "sideways"}, "position"),
    ({"local_block": 0}, "local_block"),
    ({"d_model": 4096, "d_ff": 16384, "n_layers": 64, "n_heads": 64}, "parameters"),
])
def test_absurd_dimensions_are_refused_before_allocation(tmp_path, no_allocation, change, words):
    (tmp_path / "config.json").write_text(json.dumps({**SHIPPED, **change}))
    (tmp_path / "model.safetensors").write_bytes((ASSET_DIR / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "config.json" in message and words in message and "\n" not in message


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '"d_model"'])
def test_a_config_that_is_not_an_object_is_refused(tmp_path, no_allocation, text):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path)


def test_the_dataclass_itself_refuses_bad_sizes():
    with pytest.raises(ValueError, match="n_heads"):
        MusicTransformerConfig(d_model=256, n_heads=3)
    with pytest.raises(ValueError, match="d_model"):
        MusicTransformerConfig(d_model=-1)
    MusicTransformerConfig(**{k: v for k, v in SHIPPED.items() if k in MusicTransformerConfig.__dataclass_fields__})


def test_the_shipped_model_still_loads():
    assert load_model(ASSET_DIR).cfg.d_model == SHIPPED["d_model"]


@pytest.mark.timeout(60)
def test_a_fifo_or_a_nested_config_is_named_never_waited_on(tmp_path, no_allocation):
    """config.json as a FIFO (reading it would block forever) or nested thousands deep (the
    parser's recursion) is one CheckpointError, from the loader, the folder check and Continue."""
    import os

    from engine.tasks.music import continuation_model

    fifo, nested = tmp_path / "fifo", tmp_path / "nested"
    fifo.mkdir()
    nested.mkdir()
    os.mkfifo(fifo / "config.json")
    (nested / "config.json").write_text("[" * 100000 + "]" * 100000)
    for folder in (fifo, nested):
        (folder / "model.safetensors").write_bytes(b"")
        with pytest.raises(CheckpointError, match="config.json"):
            load_model(folder)
        with pytest.raises(CheckpointError, match="config.json"):
            generate.detect_folder(folder)
        assert continuation_model(folder)[1] == folder  # no hang: the loader names it later
