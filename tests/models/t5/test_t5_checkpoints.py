"""Loading T5 encoders as transformers saves them (a T5 folder, sharded, a full T5 with its
decoder, MusicGen's ``text_encoder.`` tensors), and refusing broken ones with one line that
names the file and what is wrong, before anything is allocated."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from t5_helpers import TINY, batch, reference, write_tokenizer

from engine.models.common.errors import CheckpointError
from engine.models.t5 import model as t5_model
from engine.models.t5.loading import build_t5_encoder, load_t5_encoder
from engine.models.t5.tokenizer import T5Tokenizer

pytest.importorskip("transformers")


def _encoder_out(model, ids, mask):
    with torch.no_grad():
        if isinstance(model, t5_model.T5Encoder):
            return model(ids, mask)
        return model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state


def _same(ours, ref):
    ids, mask = batch()
    assert (_encoder_out(ours, ids, mask) - _encoder_out(ref, ids, mask)).abs().max().item() <= 1e-5


def _folder(tmp_path, proj="relu", **save):
    ref = reference(feed_forward_proj=proj)
    ref.save_pretrained(tmp_path, **save)
    return ref, tmp_path


@pytest.mark.parametrize("proj", ["relu", "gated-gelu"])
def test_a_saved_folder_loads_with_its_tokenizer(tmp_path, proj):
    ref, folder = _folder(tmp_path, proj)
    model, tokenizer = load_t5_encoder(folder)
    assert tokenizer is None and not model.training
    assert sum(p.numel() for p in model.parameters()) == model.config.n_parameters()
    _same(model, ref)
    write_tokenizer(folder / "tokenizer.json")
    assert isinstance(load_t5_encoder(folder)[1], T5Tokenizer)


def test_sharded_weights_load(tmp_path):
    ref, folder = _folder(tmp_path, max_shard_size="20KB")
    assert (folder / "model.safetensors.index.json").is_file()
    _same(load_t5_encoder(folder)[0], ref)


def test_a_full_t5_loads_its_encoder_and_ignores_the_decoder(tmp_path):
    ref = reference(cls_name="T5ForConditionalGeneration")
    ref.save_pretrained(tmp_path)
    _same(load_t5_encoder(tmp_path)[0], ref)


def test_musicgen_prefix_takes_only_the_text_encoder(tmp_path):
    ref = reference(feed_forward_proj="gated-gelu")
    weights = {f"text_encoder.{k}": v.clone() for k, v in ref.state_dict().items()}
    others = {"decoder.model.decoder.layers.0.fc1.weight": torch.ones(2, 2), "audio_encoder.x": torch.ones(1),
              "enc_to_dec_proj.weight": torch.ones(3, 32)}
    weights.update(others)
    model = build_t5_encoder(ref.config.to_dict(), weights, "musicgen/model.safetensors", prefix="text_encoder.")
    _same(model, ref)
    assert set(weights) == set(others)  # the T5 tensors were taken, the rest left for the caller


def test_the_tied_copy_alone_stands_for_shared(tmp_path):
    ref = reference()
    weights = {k: v.clone() for k, v in ref.state_dict().items() if k != "shared.weight"}
    assert "encoder.embed_tokens.weight" in weights
    _same(build_t5_encoder(ref.config.to_dict(), weights, "x"), ref)


def test_float16_keeps_the_output_projections_in_float32(tmp_path):
    _, folder = _folder(tmp_path)
    model, _ = load_t5_encoder(folder, dtype=torch.float16)
    dtypes = {n: p.dtype for n, p in model.named_parameters()}
    assert dtypes["blocks.0.ff.down.weight"] == torch.float32 and dtypes["blocks.0.attn.q.weight"] == torch.float16
    assert _encoder_out(model, *batch()).dtype == torch.float16


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


def _rewrite(folder, change):
    path = folder / "model.safetensors"
    weights = load_file(str(path))
    change(weights)
    save_file(weights, str(path))
    return path


def test_a_missing_tensor_is_named(tmp_path):
    _, folder = _folder(tmp_path)
    path = _rewrite(folder, lambda w: w.pop("encoder.block.1.layer.0.SelfAttention.q.weight"))
    with pytest.raises(CheckpointError) as err:
        load_t5_encoder(folder)
    message = _one_line(err)
    assert str(path) in message and "missing 1 tensors: encoder.block.1.layer.0.SelfAttention.q.weight" in message


def test_a_misshapen_tensor_is_named(tmp_path):
    _, folder = _folder(tmp_path, "gated-gelu")
    name = "encoder.block.2.layer.1.DenseReluDense.wi_1.weight"
    _rewrite(folder, lambda w: w.__setitem__(name, torch.zeros(47, 32)))
    with pytest.raises(CheckpointError, match=rf"{name} is \(47, 32\), expected \(48, 32\)") as err:
        load_t5_encoder(folder)
    _one_line(err)


def test_a_gated_checkpoint_under_a_relu_config_is_refused(tmp_path):
    _, folder = _folder(tmp_path, "gated-gelu")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, feed_forward_proj="relu")))
    with pytest.raises(CheckpointError, match=r"not part of a T5 encoder: .*DenseReluDense\.wi_0") as err:
        load_t5_encoder(folder)
    _one_line(err)


def test_a_position_bias_in_every_layer_is_refused(tmp_path):
    ref = reference()
    weights = {f"text_encoder.{k}": v.clone() for k, v in ref.state_dict().items()}
    weights["text_encoder.encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = torch.ones(8, 4)
    with pytest.raises(CheckpointError, match=r"^m\.st holds 1 tensors that are not part of a T5 encoder: "
                                              r"text_encoder\.encoder\.block\.1\.layer\.0\.SelfAttention"):
        build_t5_encoder(ref.config.to_dict(), weights, "m.st", prefix="text_encoder.")


@pytest.fixture
def no_model_built(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("a model was built for a config that should be refused")

    monkeypatch.setattr(t5_model.T5Encoder, "__init__", refuse)


@pytest.mark.parametrize("key, value, message", [
    ("d_model", -32, r"d_model is -32; it must be a whole number from 1 to 16384"),
    ("num_layers", 0, r"num_layers is 0; it must be a whole number"),
    ("d_kv", 8.5, r"d_kv is 8\.5; it must be a whole number"),
    ("vocab_size", "many", r"vocab_size is 'many'"),
    ("num_heads", True, r"num_heads is True"),
    ("d_ff", 10**9, r"d_ff is 1000000000; it must be a whole number from 1 to"),
    ("feed_forward_proj", "gated-swish", r"feed_forward_proj is 'gated-swish'; Motet's T5 supports relu"),
    ("layer_norm_epsilon", -1e-6, r"layer_norm_epsilon is -1e-06; it must be a number above 0"),
    ("layer_norm_epsilon", "small", r"layer_norm_epsilon is 'small'"),
    ("relative_attention_num_buckets", 2, r"relative_attention_num_buckets is 2; T5 needs at least 4"),
    ("relative_attention_max_distance", 2, r"relative_attention_max_distance 2 must exceed a quarter"),
    ("model_type", "umt5", r"describes a 'umt5' model; expected model_type 't5'"),
])
def test_absurd_config_values_are_refused_before_any_allocation(tmp_path, no_model_built, key, value, message):
    (tmp_path / "config.json").write_text(json.dumps({**TINY, "model_type": "t5", key: value}))
    save_file({"shared.weight": torch.ones(2, 2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=message) as err:
        load_t5_encoder(tmp_path)
    assert _one_line(err).startswith(str(tmp_path / "config.json"))


def test_a_model_too_large_in_total_is_refused(no_model_built):
    config = dict(TINY, d_model=16384, d_ff=262_144, num_layers=100)
    with pytest.raises(CheckpointError, match=r"^text_encoder config: the T5 encoder would have about \d+\.\d G"):
        build_t5_encoder(config, {}, "model.safetensors", config_source="text_encoder config")


def test_a_damaged_weight_file_is_named(tmp_path):
    _, folder = _folder(tmp_path)
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(CheckpointError, match="damaged or truncated") as err:
        load_t5_encoder(folder)
    assert str(path) in _one_line(err)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="is not a folder"):
        load_t5_encoder(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        load_t5_encoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(dict(TINY, model_type="t5")))
    with pytest.raises(CheckpointError, match="has no weights"):
        load_t5_encoder(tmp_path)


def test_a_broken_tokenizer_is_a_checkpoint_error(tmp_path):
    _, folder = _folder(tmp_path)
    (folder / "tokenizer.json").write_text('{"model": "nonsense"')
    with pytest.raises(CheckpointError, match="cannot read the tokenizer") as err:
        load_t5_encoder(folder)
    assert str(folder / "tokenizer.json") in _one_line(err)


def test_a_text_encoder_config_that_is_not_an_object_is_refused(no_model_built):
    with pytest.raises(CheckpointError, match=r"^config\.json: the T5 config should be a JSON object, found list"):
        build_t5_encoder([1, 2], {}, "model.safetensors", config_source="config.json")
    with pytest.raises(CheckpointError, match=r"layer_norm_epsilon is nan"):
        build_t5_encoder(dict(TINY, layer_norm_epsilon=float("nan")), {}, "model.safetensors")
