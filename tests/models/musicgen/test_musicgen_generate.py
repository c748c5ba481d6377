"""MusicGen generation without a reference: one guided forward per step, seeds, progress,
cancellation and the arguments it refuses."""

import pytest
import torch

from engine.cancel import Cancelled
from engine.models.common.cuda_graph import graphed_or_eager
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.musicgen.generate import generate
from engine.models.musicgen.model import MusicgenLM


def _lm(channels: int = 1) -> MusicgenLM:
    torch.manual_seed(0)
    config = MusicgenDecoderConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                   ffn_dim=32, num_codebooks=4 * channels, audio_channels=channels,
                                   pad_token_id=32, bos_token_id=32, text_hidden_size=8)
    return MusicgenLM(config).eval()


def _text(batch: int = 2):
    states = torch.randn(batch, 5, 8, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(batch, 5, dtype=torch.long)
    mask[-1, 2:] = 0
    return states, mask


def test_one_forward_per_step_with_both_branches():
    lm = _lm()
    states, mask = _text()
    calls = []
    hidden = lm.hidden

    def spy(codes, *args):
        calls.append(tuple(codes.shape))
        return hidden(codes, *args)

    lm.hidden = spy
    codes = generate(lm, states, mask, 6, seed=0)
    assert codes.shape == (2, 4, 6) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < 32
    assert calls == [(4, 4, 1)] * (6 + 3)  # 2 conditional + 2 unconditional rows, 3 steps of delay
    calls.clear()
    generate(lm, states, mask, 6, guidance_scale=1.0, seed=0)
    assert calls == [(2, 4, 1)] * 9


def test_seeds_reproduce_and_differ():
    lm = _lm(channels=2)
    states, mask = _text()
    first = generate(lm, states, mask, 8, seed=3, temperature=1.5, top_k=0)
    assert first.shape == (2, 8, 8)
    assert torch.equal(first, generate(lm, states, mask, 8, seed=3, temperature=1.5, top_k=0))
    assert not torch.equal(first, generate(lm, states, mask, 8, seed=4, temperature=1.5, top_k=0))
    nucleus = generate(lm, states, mask, 8, seed=3, top_k=0, top_p=1e-6)  # only the likeliest code survives
    assert torch.equal(nucleus, generate(lm, states, mask, 8, top_k=1))


def test_prompt_frames_are_continued_not_repeated():
    lm = _lm()
    states, mask = _text()
    prompt = torch.randint(0, 32, (2, 4, 3))
    codes = generate(lm, states, None, 5, prompt_codes=prompt, seed=1)
    assert codes.shape == (2, 4, 5)
    # the prompt conditions what follows: greedy continuations of different prompts differ
    other = generate(lm, states, None, 5, prompt_codes=(prompt + 1) % 32, top_k=1)
    assert not torch.equal(generate(lm, states, None, 5, prompt_codes=prompt, top_k=1), other)


def test_progress_and_cancel():
    lm = _lm()
    states, mask = _text()
    seen = []
    generate(lm, states, mask, 4, seed=0, progress=seen.append)
    assert len(seen) == 4 + 3 and seen == sorted(seen) and seen[-1] == 1.0
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Cancelled):
        generate(lm, states, mask, 4, seed=0, should_stop=stop)
    assert len(asked) == 3


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(steps=0), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(guidance_scale=float("nan")), "guidance_scale"),
    (dict(temperature=-1.0), "temperature"),
    (dict(top_k=-1), "top_k"),
    (dict(top_p=1.5), "top_p"),
    (dict(prompt_codes=torch.zeros(2, 3, 4, dtype=torch.long)), "prompt codes should be"),
    (dict(prompt_codes=torch.full((2, 4, 4), 32)), "from 0 to 31"),
    (dict(prompt_codes=torch.zeros(2, 4, 4)), "whole numbers"),
])
def test_bad_arguments_are_refused(kwargs, fragment):
    lm = _lm()
    states, mask = _text()
    arguments = dict(steps=3) | kwargs
    with pytest.raises(ValueError, match=fragment):
        generate(lm, states, mask, **arguments)


def test_bad_text_states_are_refused():
    lm = _lm()
    states, mask = _text()
    with pytest.raises(ValueError, match="text states should be"):
        generate(lm, states[..., :6], mask, 3)
    with pytest.raises(ValueError, match="text mask"):
        generate(lm, states, mask[:, :4], 3)


def test_fused_projection_gives_the_same_codes():
    """The loaders fuse the self-attention's query, key and value into one weight (one read per
    step): the same codes as the three apart."""
    apart, fused = _lm(), _lm().fuse_self_attention()
    assert fused.layers[0].self_attn.qkv.weight.shape == (48, 16)
    assert not hasattr(fused.layers[0].self_attn, "q")
    states, mask = _text()
    assert torch.equal(generate(apart, states, mask, 8, seed=3), generate(fused, states, mask, 8, seed=3))


def test_static_steps_run_as_they_are_off_cuda():
    step = lambda codes, position: codes  # noqa: E731
    assert graphed_or_eager(step, (torch.zeros(2, 4, 1, dtype=torch.long), torch.zeros(1, dtype=torch.long))) is step


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_replays_the_steps_exactly():
    """On a GPU the steps after the first are one CUDA graph replayed: the same codes as the
    ordinary cached steps (greedy and seeded), and the graph was really made."""
    from engine.models.common import cuda_graph

    lm = _lm().fuse_self_attention().cuda()
    states, mask = (t.cuda() for t in _text())
    made = []
    real = cuda_graph.GraphedStep.__init__

    def spy(self, *args):
        real(self, *args)
        made.append(self)

    cuda_graph.GraphedStep.__init__ = spy
    try:
        for kwargs in ({"top_k": 1}, {"seed": 4}):
            eager = generate(lm, states, mask, 20, static=False, **kwargs)
            graphed = generate(lm, states, mask, 20, **kwargs)
            assert torch.equal(eager, graphed), kwargs
    finally:
        cuda_graph.GraphedStep.__init__ = real
    assert len(made) == 2
