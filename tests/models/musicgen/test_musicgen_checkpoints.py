"""Building the MusicGen decoder from a folder's tensors: what it takes, what it leaves for the T5
and EnCodec loaders, and one-line CheckpointErrors for every bad tensor or config value."""

import copy

import pytest
import torch

from engine.models.common.errors import CheckpointError
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.musicgen.loading import build_musicgen_lm, hf_name, skeleton

DECODER = dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
               num_codebooks=4, audio_channels=1, max_position_embeddings=32, pad_token_id=64, bos_token_id=64,
               activation_function="gelu", scale_embedding=False, cross_attention_hidden_size=None)


def _config(text_width: int = 12, **decoder) -> dict:
    return {"model_type": "musicgen", "decoder": {**DECODER, **decoder}, "text_encoder": {"d_model": text_width}}


def _weights(config: dict) -> dict[str, torch.Tensor]:
    model = skeleton(MusicgenDecoderConfig.from_composite(config, "config.json"))
    g = torch.Generator().manual_seed(0)
    weights = {hf_name(name): torch.randn(t.shape, generator=g) for name, t in model.state_dict().items()}
    weights["text_encoder.shared.weight"] = torch.zeros(5, 12)
    weights["audio_encoder.quantizer.layers.0.codebook.embed"] = torch.zeros(8, 4)
    return weights


def test_builds_takes_its_tensors_and_leaves_the_others():
    config = _config()
    weights = _weights(config)
    head = weights["decoder.lm_heads.2.weight"].clone()
    lm = build_musicgen_lm(config, weights, "model.safetensors", dtype=torch.float16)
    assert sorted(weights) == ["audio_encoder.quantizer.layers.0.codebook.embed", "text_encoder.shared.weight"]
    assert torch.equal(lm.heads[2].weight, head.half())
    assert lm.proj is not None and lm.proj.weight.shape == (16, 12)
    assert lm.positions.dtype == torch.float16 and not lm.training
    assert {p.dtype for p in lm.parameters()} == {torch.float16}
    assert lm.delays == [0, 1, 2, 3]


def test_no_projection_when_the_widths_agree():
    config = _config(text_width=16)
    lm = build_musicgen_lm(config, _weights(config), "model.safetensors")
    assert lm.proj is None
    weights = _weights(config)
    weights |= {"enc_to_dec_proj.weight": torch.zeros(16, 16), "enc_to_dec_proj.bias": torch.zeros(16)}
    with pytest.raises(CheckpointError, match="unexpected 2 tensors: enc_to_dec_proj"):
        build_musicgen_lm(config, weights, "model.safetensors")


def test_positions_saved_by_old_transformers_are_checked_and_recomputed():
    config = _config()
    weights = _weights(config)
    weights["decoder.model.decoder.embed_positions.weights"] = torch.zeros(32, 16)
    lm = build_musicgen_lm(config, weights, "model.safetensors")
    assert lm.positions.abs().sum() > 0 and "decoder.model.decoder.embed_positions.weights" not in weights
    weights = _weights(config)
    weights["decoder.model.decoder.embed_positions.weights"] = torch.zeros(32, 15)
    _one_line_error(config, weights, "embed_positions.weights is (32, 15), expected (positions, 16)")


def test_stereo_builds_with_interleaved_delays():
    config = _config(num_codebooks=8, audio_channels=2)
    lm = build_musicgen_lm(config, _weights(config), "model.safetensors")
    assert lm.delays == [0, 0, 1, 1, 2, 2, 3, 3] and len(lm.heads) == 8


def _one_line_error(config: dict, weights: dict, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        build_musicgen_lm(config, weights, "/m/model.safetensors")
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_misshapen_and_unexpected_tensors_are_named_as_in_the_file():
    config = _config()
    weights = _weights(config)
    del weights["decoder.model.decoder.layers.1.encoder_attn.v_proj.weight"]
    weights["decoder.lm_heads.0.weight"] = torch.zeros(63, 16)
    weights["decoder.model.decoder.layers.7.fc1.weight"] = torch.zeros(32, 16)
    before = set(weights)
    _one_line_error(config, weights, "/m/model.safetensors",
                    "missing 1 tensors: decoder.model.decoder.layers.1.encoder_attn.v_proj.weight",
                    "decoder.lm_heads.0.weight is (63, 16), expected (64, 16)",
                    "unexpected 1 tensors: decoder.model.decoder.layers.7.fc1.weight")
    assert set(weights) == before  # nothing taken from a folder that failed the check


@pytest.mark.parametrize("change,fragment", [
    ({"hidden_size": -16}, "decoder.hidden_size is -16"),
    ({"hidden_size": 16.5}, "decoder.hidden_size is 16.5"),
    ({"hidden_size": 10 ** 9}, "decoder.hidden_size is 1000000000"),
    ({"num_hidden_layers": True}, "decoder.num_hidden_layers is True"),
    ({"num_attention_heads": "2"}, "decoder.num_attention_heads is '2'"),
    ({"num_codebooks": 0}, "decoder.num_codebooks is 0"),
    ({"vocab_size": None}, "decoder.vocab_size is None"),
    ({"ffn_dim": [32]}, "decoder.ffn_dim is [32]"),
    ({"audio_channels": 3}, "decoder.audio_channels is 3"),
    ({"audio_channels": True}, "decoder.audio_channels is True"),
    ({"audio_channels": 2, "num_codebooks": 5}, "num_codebooks 5 is odd"),
    ({"activation_function": "relu"}, "activation_function is 'relu'"),
    ({"scale_embedding": "yes"}, "scale_embedding is 'yes'"),
    ({"num_attention_heads": 3}, "hidden_size 16 is not divisible by decoder.num_attention_heads 3"),
    ({"hidden_size": 2, "num_attention_heads": 1}, "hidden_size 2 must be even and at least 4"),
    ({"pad_token_id": 5000}, "decoder.pad_token_id is 5000"),
    ({"bos_token_id": -1}, "decoder.bos_token_id is -1"),
    ({"cross_attention_hidden_size": 0}, "cross_attention_hidden_size is 0"),
    ({"cross_attention_hidden_size": 13}, "cross_attention_hidden_size 13 differs from the text encoder's width"),
    ({"cross_attention_hidden_size": 12}, "cross_attention_hidden_size 12 differs from decoder.hidden_size 16"),
    ({"vocab_size": 65536, "hidden_size": 8192, "num_codebooks": 64, "pad_token_id": 0, "bos_token_id": 0},
     "G parameters"),
])
def test_absurd_decoder_configs_are_one_line_errors(change, fragment):
    good = _config()
    weights = _weights(good)
    bad = copy.deepcopy(good)
    bad["decoder"].update(change)
    _one_line_error(bad, weights, "config.json", fragment)


@pytest.mark.parametrize("config,fragment", [
    ({"model_type": "musicgen_melody", "decoder": DECODER, "text_encoder": {"d_model": 12}}, "'musicgen_melody'"),
    ({"model_type": "musicgen", "text_encoder": {"d_model": 12}}, "has no decoder section"),
    ({"model_type": "musicgen", "decoder": [1], "text_encoder": {"d_model": 12}}, "decoder should be a JSON object"),
    ({"model_type": "musicgen", "decoder": DECODER}, "has no text_encoder section"),
    ({"model_type": "musicgen", "decoder": DECODER, "text_encoder": {"d_model": -1}}, "text_encoder.d_model is -1"),
    ({"model_type": "musicgen", "decoder": {k: v for k, v in DECODER.items() if k != "ffn_dim"},
      "text_encoder": {"d_model": 12}}, "lacks decoder.ffn_dim"),
])
def test_malformed_composite_configs_are_one_line_errors(config, fragment):
    _one_line_error(config, _weights(_config()), "config.json", fragment)


def test_defaults_follow_transformers():
    decoder = {k: DECODER[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                        "ffn_dim", "num_codebooks")}
    decoder["vocab_size"] = 2048
    cfg = MusicgenDecoderConfig.from_hf(decoder, "config.json")
    assert (cfg.audio_channels, cfg.pad_token_id, cfg.bos_token_id, cfg.max_position_embeddings) == (1, 2048, 2048,
                                                                                                       2048)
    assert cfg.cross_attention_hidden_size is None and not cfg.has_projection
    # JSON numbers written as floats, and a config without a padding token
    cfg = MusicgenDecoderConfig.from_hf(decoder | {"audio_channels": 2.0, "num_codebooks": 8.0, "pad_token_id": None},
                                        "config.json")
    assert cfg.audio_channels == 2 and type(cfg.audio_channels) is int and cfg.pad_token_id is None
