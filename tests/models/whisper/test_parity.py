"""Our Whisper against transformers' on identical random weights, through both file formats."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from engine.models.common.errors import CheckpointError  # noqa: E402
from engine.models.whisper.loading import load_whisper_model  # noqa: E402

SMALL = dict(vocab_size=300, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
             decoder_attention_heads=4, encoder_ffn_dim=256, decoder_ffn_dim=256, max_target_positions=40,
             max_source_positions=1500, pad_token_id=0, bos_token_id=1, eos_token_id=2,
             decoder_start_token_id=1)


def _reference(n_mels: int, seed: int):
    torch.manual_seed(seed)
    config = transformers.WhisperConfig(num_mel_bins=n_mels, **SMALL)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    return model


def _inputs(n_mels: int):
    g = torch.Generator().manual_seed(1)
    mel = torch.randn(2, n_mels, 3000, generator=g)
    tokens = torch.randint(3, 300, (2, 12), generator=g)
    return mel, tokens


@pytest.mark.parametrize("n_mels,safe", [(80, True), (128, False)])
def test_hf_logits_match_transformers(tmp_path, n_mels, safe):
    ref = _reference(n_mels, seed=n_mels)
    ref.save_pretrained(tmp_path, safe_serialization=safe)
    ours, info = load_whisper_model(tmp_path)
    assert info["format"] == "huggingface"
    mel, tokens = _inputs(n_mels)
    with torch.no_grad():
        expected = ref(input_features=mel, decoder_input_ids=tokens).logits
        got = ours(mel, tokens)
    assert (got - expected).abs().max().item() < 1e-4

    # incremental decoding with the KV cache gives the same logits as the full pass
    with torch.no_grad():
        cross = ours.decoder.cross_kv(ours.encoder(mel))
        cache = ours.decoder.new_cache(2)
        steps = [ours.decoder(tokens[:, :5], cross, cache)[0]]
        steps += [ours.decoder(tokens[:, i:i + 1], cross, cache)[0] for i in range(5, 12)]
    assert (torch.cat(steps, dim=1) - expected).abs().max().item() < 1e-4


@pytest.mark.parametrize("quantization,tolerance", [("float32", 1e-4), ("float16", 2e-2), ("int8", 0.25)])
def test_ctranslate2_conversion_of_the_same_weights_matches(tmp_path, quantization, tolerance):
    ctranslate2 = pytest.importorskip("ctranslate2")
    ref = _reference(80, seed=3)
    ref.save_pretrained(tmp_path / "hf")
    converter = ctranslate2.converters.TransformersConverter(str(tmp_path / "hf"), load_as_float16=False)
    converter.convert(str(tmp_path / "ct2"), quantization=quantization)
    ours, info = load_whisper_model(tmp_path / "ct2")
    assert info["format"] == "ctranslate2"
    mel, tokens = _inputs(80)
    with torch.no_grad():
        expected = ref(input_features=mel, decoder_input_ids=tokens).logits
        got = ours(mel, tokens)
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() < tolerance * max(scale, 1.0)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    ref = _reference(80, seed=5)
    ref.save_pretrained(tmp_path / "ok")
    weights = (tmp_path / "ok" / "model.safetensors").read_bytes()
    (tmp_path / "cut").mkdir()
    for name in ("config.json", "generation_config.json"):
        (tmp_path / "cut" / name).write_bytes((tmp_path / "ok" / name).read_bytes())
    (tmp_path / "cut" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_whisper_model(tmp_path / "cut")

    # a config that does not fit the weights: names the tensor and both shapes
    import json

    cfg = json.loads((tmp_path / "ok" / "config.json").read_text())
    cfg["d_model"] = 96
    (tmp_path / "ok" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"wrong shape .*expected \(\d+, 96"):
        load_whisper_model(tmp_path / "ok")

    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a Whisper model folder"):
        load_whisper_model(tmp_path / "empty")
