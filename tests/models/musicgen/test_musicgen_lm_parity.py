"""Our MusicGen language model against transformers' on identical random weights: logits (with a
padded text mask, and step by step through the cache), and whole generations with guidance.

The generation reference is transformers' own ``MusicgenForConditionalGeneration.generate`` on a
tiny composite model (T5 + EnCodec + decoder) saved with ``save_pretrained``: its text encoder
gives the states we feed to ours, and the codes it hands to EnCodec's ``decode`` (recorded by
replacing that method) are the reference. That path includes ``enc_to_dec_proj``, the states
zeroed by the mask, the unconditional branch, the delay pattern and its undoing.

Every test runs twice: the cross-attention through its query and output projections, and folded
into the text's keys and values (``Attention.fold``; by default only for short prompts).
"""


import pytest
import torch
from musicgen_helpers import reference_codes

transformers = pytest.importorskip("transformers")

from engine.models.common.checkpoints import read_hf_weights, read_json  # noqa: E402
from engine.models.musicgen.generate import generate  # noqa: E402
from engine.models.musicgen.loading import build_musicgen_lm  # noqa: E402
from engine.models.musicgen.model import FoldedText, MusicgenLM  # noqa: E402
from engine.models.musicgen.quantize import quantize_lm_int8  # noqa: E402

transformers.logging.set_verbosity_error()  # tiny configs make it warn about token ids

DECODER = dict(vocab_size=2048, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
               max_position_embeddings=64)


@pytest.fixture(autouse=True, params=[False, True], ids=["projected", "folded"])
def fold_text(request, monkeypatch):
    monkeypatch.setattr(MusicgenLM, "fold_text", request.param)
    return request.param


def _decoder_config(channels: int):
    return transformers.MusicgenDecoderConfig(num_codebooks=4 * channels, audio_channels=channels, **DECODER)


def _inputs(codebooks: int, width: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2049, (2, codebooks, 9), generator=g)  # 2048: the start token
    states = torch.randn(2, 6, width, generator=g)
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[1, 3:] = 0
    return codes, states, mask


def _decoders(channels: int):
    """transformers' decoder with weights of about 0.2 (sharper attention, logits of about 5:
    larger than its initialisation) and ours built from its tensors."""
    torch.manual_seed(channels)
    ref = transformers.MusicgenForCausalLM(_decoder_config(channels)).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    weights = {f"decoder.{name}": t.clone() for name, t in ref.state_dict().items()}
    ours = build_musicgen_lm({"decoder": ref.config.to_dict(), "text_encoder": {"d_model": 32}}, weights, "test")
    assert ours.proj is None
    return ref, ours


@pytest.mark.parametrize("channels", [1, 2])
def test_logits_and_cache_match_transformers(channels):
    ref, ours = _decoders(channels)
    k = 4 * channels
    codes, states, mask = _inputs(k, 32, seed=channels)
    with torch.no_grad():
        expected = ref(input_ids=codes.reshape(2 * k, 9), encoder_hidden_states=states,
                       encoder_attention_mask=mask).logits.reshape(2, k, 9, -1)
        got = ours(codes, states, mask)
        cache = ours.new_cache(2, capacity=9)
        steps = [ours(codes[..., :4], states, mask, cache)]
        steps += [ours(codes[..., i:i + 1], None, None, cache) for i in range(4, 9)]
    assert got.shape == (2, k, 9, 2048)
    assert (got - expected).abs().max().item() < 1e-5
    assert (torch.cat(steps, dim=2) - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize("rows", [(6, 3, 0, 0), (6, 0, 3, 0), (0, 0, 0, 0), (6, 6, 6, 6)],
                         ids=["text-first", "text-between", "no-text", "all-text"])
def test_rows_without_text_read_zero_wherever_they_are(rows, fold_text):
    """Rows with no text (guidance's unconditional branch, an empty prompt) are left out of the
    cross-attention when they come last, attended evenly over zeros otherwise: transformers'
    logits either way, step by step through the cache too."""
    ref, ours = _decoders(1)
    g = torch.Generator().manual_seed(5)
    codes = torch.randint(0, 2049, (4, 4, 5), generator=g)
    states = torch.randn(4, 6, 32, generator=g)
    mask = torch.tensor([[1] * n + [0] * (6 - n) for n in rows])
    text_rows = sum(n > 0 for n in rows)
    with torch.no_grad():
        expected = ref(input_ids=codes.reshape(16, 5), encoder_hidden_states=states,
                       encoder_attention_mask=mask).logits.reshape(4, 4, 5, -1)
        cross, cross_mask = ours.cross_kv(states, mask)
        cache = ours.new_cache(4, capacity=5)
        steps = [ours(codes[..., :2], states, mask, cache)]
        steps += [ours(codes[..., i:i + 1], None, None, cache) for i in range(2, 5)]
    assert cross[0][0].shape[0] == (4 if rows == (6, 0, 3, 0) else text_rows)
    assert isinstance(cross[0], FoldedText) == (fold_text and text_rows > 0)
    assert (cross_mask is None) == (rows in ((0, 0, 0, 0), (6, 6, 6, 6)))
    assert (torch.cat(steps, dim=2) - expected).abs().max().item() < 1e-5


def test_the_text_is_folded_by_default_where_it_reads_less(monkeypatch):
    """By default a generation folds the cross-attention when its text rows x tokens are at most
    half the head width (here 8: 4), never for int8 projections, and never without text."""
    monkeypatch.setattr(MusicgenLM, "fold_text", None)
    _, ours = _decoders(1)
    assert ours.config.head_dim == 8
    assert [ours.folds_text(rows, length) for rows, length in ((1, 4), (1, 5), (2, 2), (2, 3), (0, 3))] == \
        [True, False, True, False, False]
    states, mask = torch.randn(1, 4, 32), torch.ones(1, 4, dtype=torch.long)
    assert isinstance(ours.cross_kv(states, mask)[0][0], FoldedText)
    quantize_lm_int8(ours)
    monkeypatch.setattr(MusicgenLM, "fold_text", True)
    assert not ours.folds_text(1, 1) and not isinstance(ours.cross_kv(states, mask)[0][0], FoldedText)


def _composite(channels: int, seed: int, folder):
    """A tiny MusicGen saved and read back: (transformers' model in float64, ours in float64)."""
    torch.manual_seed(seed)
    text = transformers.T5Config(vocab_size=99, d_model=24, d_kv=8, d_ff=37, num_layers=2, num_heads=3)
    # a codec Motet accepts (the composite's sizes are checked with the decoder's): 200 frames a
    # second of 4 codebooks of 64 codes
    codec = transformers.EncodecConfig(codebook_size=64, hidden_size=8, num_filters=4, num_residual_layers=1,
                                       sampling_rate=800, upsampling_ratios=[2, 2], codebook_dim=8,
                                       target_bandwidths=[4.8])
    config = transformers.MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(),
                                         decoder=_decoder_config(channels).to_dict())
    ref = transformers.MusicgenForConditionalGeneration(config).eval()
    ref.save_pretrained(folder)
    weights, source = read_hf_weights(folder)
    ours = build_musicgen_lm(read_json(folder / "config.json"), weights, source, dtype=torch.float64)
    assert ours.proj is not None  # T5 width 24, decoder 32: enc_to_dec_proj
    assert all(name.startswith(("text_encoder.", "audio_encoder.")) for name in weights)
    return ref.double(), ours


def _text(ref):
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 99, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 4:] = 0
    with torch.no_grad():
        states = ref.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    return ids, mask, states


@pytest.mark.parametrize("static", [False, True], ids=["cached", "static-shapes"])
@pytest.mark.parametrize("channels", [1, 2])
def test_greedy_generation_with_guidance_matches_transformers(tmp_path, channels, static):
    """``static``: the steps in fixed shapes, as a CUDA graph replays them (``step_at``)."""
    ref, ours = _composite(channels, seed=10 + channels, folder=tmp_path)
    ids, mask, states = _text(ref)
    frames = 12
    expected = reference_codes(ref, channels, input_ids=ids, attention_mask=mask, do_sample=False,
                                guidance_scale=3.0, max_new_tokens=frames + max(ours.delays))
    got = generate(ours, states, mask, frames, guidance_scale=3.0, top_k=1, static=static)
    assert got.shape == expected.shape == (2, 4 * channels, frames)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("static", [False, True], ids=["cached", "static-shapes"])
def test_prompt_continuation_and_no_guidance_match_transformers(tmp_path, static):
    ref, ours = _composite(1, seed=3, folder=tmp_path)
    ids, mask, states = _text(ref)
    prompt = torch.randint(0, 2048, (2, 4, 5), generator=torch.Generator().manual_seed(1))
    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                                decoder_input_ids=prompt.reshape(8, 5), max_new_tokens=10 + 3)
    assert torch.equal(expected[..., :5], prompt)  # transformers returns the prompt too
    got = generate(ours, states, mask, 10, guidance_scale=3.0, top_k=1, prompt_codes=prompt, static=static)
    assert torch.equal(got, expected[..., 5:])

    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=1.0,
                                max_new_tokens=8 + 3)
    assert torch.equal(generate(ours, states, mask, 8, guidance_scale=1.0, temperature=0.0, static=static), expected)


@pytest.mark.parametrize("static", [False, True], ids=["cached", "static-shapes"])
def test_sampling_draws_what_transformers_draws_from_the_same_global_seed(tmp_path, static):
    ref, ours = _composite(1, seed=4, folder=tmp_path)
    ids, mask, states = _text(ref)
    torch.manual_seed(123)
    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, do_sample=True, guidance_scale=3.0,
                                temperature=0.8, top_k=50, max_new_tokens=10 + 3)
    torch.manual_seed(123)
    got = generate(ours, states, mask, 10, guidance_scale=3.0, temperature=0.8, top_k=50, static=static)
    assert torch.equal(got, expected)
