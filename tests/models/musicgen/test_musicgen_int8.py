"""int8 compute for MusicGen's language model: the same next-token distributions as float32 within
the bound the Generate job enforces, the same code path for generation, and clear refusals."""

import copy

import pytest
import torch

pytest.importorskip("transformers")

from musicgen_helpers import tiny_musicgen  # noqa: E402

from engine.models.common.int8 import Int8Linear  # noqa: E402
from engine.models.musicgen.generate import generate  # noqa: E402
from engine.models.musicgen.pipeline import MusicGen  # noqa: E402
from engine.models.musicgen.quantize import MAX_KL_NATS, int8_agreement, quantize_lm_int8  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mg")
    tiny_musicgen(folder)
    return MusicGen(folder)


def test_int8_keeps_the_distributions_within_the_bound(model):
    ids, mask = model.tokenizer.encode(["happy rock with drums"])
    with torch.inference_mode():
        states = model.text_encoder(ids, mask)
    quantized = quantize_lm_int8(copy.deepcopy(model.lm))
    assert all(isinstance(layer.self_attn.qkv, Int8Linear) and isinstance(layer.fc1, Int8Linear)
               for layer in quantized.layers)
    kl = int8_agreement(model.lm, quantized, states, mask)
    assert 0 < kl < MAX_KL_NATS
    codes = generate(quantized, states, mask, 8, 3.0, top_k=50, seed=1)
    assert codes.shape == (1, 4, 8) and int(codes.max()) < 64


def test_only_a_float32_cpu_model_is_quantized(model):
    half = copy.deepcopy(model.lm).to(torch.bfloat16)
    with pytest.raises(ValueError, match="float32"):
        quantize_lm_int8(half)


def test_int8_keeps_its_cache_in_bfloat16_and_checks_the_melody_model_too(tmp_path):
    folder = tmp_path / "melody"
    tiny_musicgen(folder, melody=True)
    melody = MusicGen(folder)
    ids, mask = melody.tokenizer.encode(["calm piano"])
    with torch.inference_mode():
        states = melody.text_encoder(ids, mask)
    quantized = quantize_lm_int8(copy.deepcopy(melody.lm))
    assert quantized.new_cache(2, 8).k[0].dtype == torch.bfloat16
    assert melody.lm.new_cache(2, 8).k[0].dtype == torch.float32
    kl = int8_agreement(melody.lm, quantized, states, mask)
    assert 0 < kl < MAX_KL_NATS
