"""Sampling (greedy, top-k, top-p, masks, seeds) and the sinusoidal tables of each family,
against the formulas their reference implementations use."""

import math

import pytest
import torch

from engine.models.common.positions import sinusoids
from engine.models.common.sampling import mask_tokens, sample, seeded_generator, top_k_filter, top_p_filter


def test_temperature_zero_is_greedy():
    logits = torch.tensor([[0.1, 3.0, 2.0], [5.0, 0.0, 4.0]])
    assert sample(logits, 0.0, top_k=2, top_p=0.1).tolist() == [1, 0]


def test_top_k_keeps_only_the_k_largest():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    kept = top_k_filter(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, True, False]]
    assert torch.equal(top_k_filter(logits, 0), logits)
    draws = {int(sample(logits, 5.0, top_k=2, generator=seeded_generator(s))) for s in range(200)}
    assert draws == {1, 2}
    assert {int(sample(logits, 5.0, top_k=1, generator=seeded_generator(s))) for s in range(20)} == {1}


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert (top_p_filter(probs, 0.7) > 0).tolist() == [[True, True, False, False]]
    assert (top_p_filter(probs, 0.5) > 0).tolist() == [[True, False, False, False]]
    assert torch.equal(top_p_filter(probs, 1.0), probs)


def test_masked_tokens_are_never_drawn():
    logits = mask_tokens(torch.zeros(4, 6), [0, 5])
    draws = sample(logits, 1.0, generator=seeded_generator(1)).tolist()
    assert all(0 < d < 5 for d in draws)


def test_a_seed_reproduces_a_draw_and_matches_a_categorical_sample():
    logits = torch.randn(8, 50, generator=torch.Generator().manual_seed(0))
    a = sample(logits, 0.7, generator=seeded_generator(42))
    b = sample(logits, 0.7, generator=seeded_generator(42))
    assert torch.equal(a, b)
    torch.manual_seed(3)
    ours = sample(logits, 0.7)
    torch.manual_seed(3)
    reference = torch.distributions.Categorical(logits=logits / 0.7).sample()  # openai/whisper's draw
    assert torch.equal(ours, reference)


def test_sample_keeps_leading_dimensions():
    assert sample(torch.randn(2, 3, 10), 1.0, generator=seeded_generator(0)).shape == (2, 3)


def test_whisper_sinusoids_match_the_published_formula():
    length, channels = 7, 16
    increment = math.log(10000) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    assert torch.allclose(sinusoids(length, channels), torch.cat([t.sin(), t.cos()], dim=1), atol=1e-6)


def test_vaswani_sinusoids_are_interleaved():
    table = sinusoids(50, 8, endpoint=False, interleave=True)
    pos, i = 13, 2
    rate = 10000 ** (-2 * i / 8)
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos * rate), abs=1e-5)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos * rate), abs=1e-5)


def test_musicgen_sinusoids_match_transformers():
    musicgen = pytest.importorskip("transformers.models.musicgen.modeling_musicgen")
    reference = musicgen.MusicgenSinusoidalPositionalEmbedding.get_embedding(40, 32)
    assert torch.allclose(sinusoids(40, 32, cos_first=True), reference, atol=1e-6)


def test_an_odd_width_is_refused():
    with pytest.raises(ValueError, match="even"):
        sinusoids(4, 5)
