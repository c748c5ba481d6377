"""Our T5 encoder against transformers' T5EncoderModel on identical random weights: every
feed-forward variant, batches with padding, sequences longer than the bias's max distance, and
half precision (where T5's activations outgrow float16)."""

from __future__ import annotations

import pytest
import torch
from t5_helpers import batch, reference

from engine.models.t5.loading import build_t5_encoder
from engine.models.t5.model import relative_buckets

transformers = pytest.importorskip("transformers")


def _ours(ref, dtype=torch.float32):
    weights = {k: v.clone() for k, v in ref.state_dict().items()}
    return build_t5_encoder(ref.config.to_dict(), weights, "reference", dtype=dtype)


def _max_diff(a, b, mask):
    return ((a.float() - b.float()).abs() * mask[..., None]).max().item()


@pytest.mark.parametrize("proj", ["relu", "gated-gelu", "gated-silu", "gelu"])
def test_hidden_states_match_transformers(proj):
    ref = reference(feed_forward_proj=proj)
    ours = _ours(ref)
    ids, mask = batch()
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
    assert got.shape == expected.shape and got.dtype == torch.float32
    diff = _max_diff(got, expected, mask)
    print(f"{proj}: max abs diff {diff:.2e} (values up to {expected.abs().max():.2f})")
    assert diff <= 1e-5
    # padded positions attend to the tokens as transformers' do: equal there too
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
    # and a text alone is encoded as in the padded batch
    with torch.no_grad():
        alone = ours(ids[2:3, :3], mask[2:3, :3])
    assert torch.allclose(alone, got[2:3, :3], atol=1e-5, rtol=0)


def test_sequences_past_the_max_distance_and_without_a_mask():
    ref = reference(relative_attention_num_buckets=32, relative_attention_max_distance=24, num_layers=2)
    ours = _ours(ref)
    ids, _ = batch(lengths=(70, 70))
    with torch.no_grad():
        expected = ref(input_ids=ids).last_hidden_state
        got = ours(ids)
    assert (got - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("buckets, distance, length", [(32, 128, 700), (8, 20, 60), (6, 7, 30), (33, 50, 90)])
def test_buckets_are_transformers(buckets, distance, length):
    from transformers.models.t5.modeling_t5 import T5Attention

    positions = torch.arange(length)
    relative = positions[None, :] - positions[:, None]
    expected = T5Attention._relative_position_bucket(relative, True, buckets, distance)
    assert torch.equal(relative_buckets(length, buckets, distance, torch.device("cpu")), expected)


def test_a_fully_padded_row_is_not_nan():
    ours = _ours(reference())
    ids, mask = batch(lengths=(5, 4))
    mask[1] = 0
    with torch.no_grad():
        assert torch.isfinite(ours(ids, mask)).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("proj", ["relu", "gated-gelu"])
def test_half_precision_is_as_close_to_float32_as_transformers(tmp_path, proj, dtype):
    ref = reference(feed_forward_proj=proj)
    with torch.no_grad():
        for p in ref.parameters():
            if p.dim() > 1:
                p.mul_(0.25)
    ref.save_pretrained(tmp_path)
    ids, mask = batch()
    with torch.no_grad():
        truth = ref(input_ids=ids, attention_mask=mask).last_hidden_state
        theirs = transformers.T5EncoderModel.from_pretrained(tmp_path, dtype=dtype).eval()
        their_error = _max_diff(theirs(input_ids=ids, attention_mask=mask).last_hidden_state, truth, mask)
        ours = _ours(ref, dtype)
        got = ours(ids, mask)
    assert got.dtype == dtype
    downs = {p.dtype for n, p in ours.named_parameters() if n.endswith("ff.down.weight")}
    assert downs == {torch.float32 if dtype == torch.float16 else dtype}
    our_error = _max_diff(got, truth, mask)
    print(f"{proj} {dtype}: ours {our_error:.2e}, transformers {their_error:.2e}")
    assert our_error <= 1.5 * their_error + 1e-3


def test_activations_beyond_float16_range_stay_finite():
    """A feed-forward output of ~9e4 (above float16's 65504): the float32 residual stream and
    output projection keep the float16 model finite and right."""
    ref = reference()
    with torch.no_grad():
        for p in ref.parameters():
            if p.dim() > 1:
                p.mul_(0.25)
        ref.encoder.block[0].layer[1].DenseReluDense.wo.weight.mul_(1e5)
    ids, mask = batch()
    with torch.no_grad():
        out = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        assert out.hidden_states[1].abs().max() > 65504
        got = _ours(ref, torch.float16)(ids, mask)
    assert torch.isfinite(got).all()
    assert _max_diff(got, out.last_hidden_state, mask) < 0.05


def test_bad_inputs_are_value_errors():
    ours = _ours(reference())
    with pytest.raises(ValueError, match="token ids should lie in 0..98"):
        ours(torch.tensor([[5, 99]]))
    with pytest.raises(ValueError, match="batch, length"):
        ours(torch.tensor([5, 6]))
    with pytest.raises(ValueError, match="attention_mask"):
        ours(torch.tensor([[5, 6]]), torch.ones(1, 3))
