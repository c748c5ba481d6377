"""The delay pattern against transformers' ``build_delay_pattern_mask`` (mono and interleaved
stereo, with and without a prompt), and undoing it against transformers' pad removal."""

import pytest
import torch

from engine.models.musicgen.delay import FREE, codebook_delays, delay_pattern, undo_delay

START = 2048


def test_delays_mono_and_interleaved_stereo():
    assert codebook_delays(4) == [0, 1, 2, 3]
    assert codebook_delays(8, audio_channels=2) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_pattern_by_hand():
    pattern = delay_pattern(torch.tensor([[[10, 11], [20, 21], [30, 31]]]), 4, [0, 1, 2], START)
    S, F = START, FREE
    assert pattern[0].tolist() == [[S, 10, 11, F, F, S, S],
                                   [S, S, 20, 21, F, F, S],
                                   [S, S, S, 30, 31, F, F]]


@pytest.mark.parametrize("channels,codebooks", [(1, 4), (2, 8), (1, 2)])
@pytest.mark.parametrize("given", [0, 1, 3])
@pytest.mark.parametrize("frames", [5, 9])
def test_pattern_and_undo_match_transformers(channels, codebooks, given, frames):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    config = transformers.MusicgenDecoderConfig(vocab_size=2048, hidden_size=8, num_hidden_layers=1,
                                                num_attention_heads=2, ffn_dim=8, num_codebooks=codebooks,
                                                audio_channels=channels)
    ref = transformers.MusicgenForCausalLM(config).eval()
    delays = codebook_delays(codebooks, channels)
    g = torch.Generator().manual_seed(frames * 10 + given)
    batch = 2
    prompt = torch.randint(0, 2048, (batch, codebooks, given), generator=g)
    length = frames + max(delays) + 1
    # transformers' composite generate puts the start token before the prompt, then builds the mask
    start = torch.full((batch * codebooks, 1), START)
    ids, mask = ref.build_delay_pattern_mask(torch.cat([start, prompt.reshape(batch * codebooks, given)], -1),
                                             pad_token_id=START, max_length=length)
    ours = delay_pattern(prompt, frames, delays, START)
    assert torch.equal(mask.reshape(batch, codebooks, length), ours)
    assert torch.equal(ids.reshape(batch, codebooks, -1), ours[..., :given + 1])  # what the first forward reads

    # fill the free positions as a decoder would, then undo the delay both ways
    generated = torch.randint(0, 2048, ours.shape, generator=g)
    filled = torch.where(ours == FREE, generated, ours)
    hf = ref.apply_delay_pattern_mask(filled.reshape(batch * codebooks, length), mask)
    expected = hf[hf != START].reshape(batch, codebooks, -1)
    got = undo_delay(filled, delays, frames)
    assert torch.equal(got, expected)
    assert torch.equal(got[..., :given], prompt)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="delays"):
        delay_pattern(torch.zeros(1, 4, 0, dtype=torch.long), 3, [0, 1], START)
    with pytest.raises(ValueError, match="longer"):
        delay_pattern(torch.zeros(1, 2, 5, dtype=torch.long), 3, [0, 1], START)
    with pytest.raises(ValueError, match="fewer"):
        undo_delay(torch.zeros(1, 2, 4, dtype=torch.long), [0, 1], 3)
