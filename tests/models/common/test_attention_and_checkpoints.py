"""Attention against its naive definition; checkpoint reading: names in the file's own terms,
nothing left on the meta device, sharded files, refused pickles."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from engine.models.common.attention import attend_grouped, attention, merge_heads, split_heads
from engine.models.common.checkpoints import (
    assign_weights,
    check_state_dict,
    on_meta,
    read_hf_weights,
    stored_dtype,
)
from engine.models.common.errors import CheckpointError

g = torch.Generator().manual_seed(0)


def naive(q, k, v, mask=None):
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return merge_heads(scores.softmax(-1) @ v), scores


def test_split_and_merge_are_inverse():
    x = torch.randn(2, 5, 12, generator=g)
    assert split_heads(x, 3).shape == (2, 3, 5, 4)
    assert torch.equal(merge_heads(split_heads(x, 3)), x)


def test_attention_matches_the_definition_with_and_without_scores():
    q, k, v = (torch.randn(2, 3, 4, 8, generator=g) for _ in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool).tril()
    expected, expected_scores = naive(q, k, v, mask)
    out, scores = attention(q, k, v, mask)
    assert scores is None and torch.allclose(out, expected, atol=1e-5)
    out, scores = attention(q, k, v, mask, need_scores=True)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(scores.masked_fill(~mask, 0), expected_scores.masked_fill(~mask, 0), atol=1e-5)


def test_grouped_attention_equals_expanding_the_keys():
    n, groups, heads, dh = 2, 3, 2, 4
    q = torch.randn(n * groups, 5, heads * dh, generator=g)
    k, v = (torch.randn(n, heads, 7, dh, generator=g) for _ in range(2))
    expected, _ = naive(split_heads(q, heads), k.repeat_interleave(groups, 0), v.repeat_interleave(groups, 0))
    assert torch.allclose(attend_grouped(q, k, v), expected, atol=1e-5)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.register_buffer("table", torch.arange(3, dtype=torch.float32), persistent=False)


def weights():
    return {"proj.weight": torch.randn(3, 4, generator=g), "proj.bias": torch.randn(3, generator=g),
            "norm.weight": torch.ones(3), "norm.bias": torch.zeros(3)}


def expected_shapes():
    return {name: t.shape for name, t in on_meta(Tiny).state_dict().items()}


def test_on_meta_allocates_no_parameters_but_computes_fixed_buffers():
    model = on_meta(Tiny)
    assert all(p.is_meta for p in model.parameters())
    assert model.table.tolist() == [0.0, 1.0, 2.0]


def test_assign_weights_fills_every_tensor_in_the_dtype_asked():
    sd = weights()
    expected = {k: v.clone() for k, v in sd.items()}
    model = assign_weights(on_meta(Tiny), sd, "tiny", dtype=torch.float64)
    assert sd == {}  # consumed
    assert not model.training
    assert model.proj.weight.dtype == torch.float64 and model.table.dtype == torch.float64
    assert torch.equal(model.proj.weight.float(), expected["proj.weight"])


def test_check_state_dict_speaks_in_the_files_names():
    sd = weights()
    del sd["norm.bias"]
    sd["proj.weight"] = torch.zeros(4, 4)
    sd["stray"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        check_state_dict(expected_shapes(), sd, "m.safetensors", "a tiny model", file_name=lambda n: "model." + n)
    message = str(info.value)
    assert message.startswith("m.safetensors does not fit a tiny model")
    assert "missing 1 tensors: model.norm.bias" in message
    assert "unexpected 1 tensors: model.stray" in message
    assert "model.proj.weight is (4, 4), expected (3, 4)" in message


def test_sharded_safetensors_are_read_through_their_index(tmp_path):
    sd = weights()
    save_file({k: sd[k] for k in ("proj.weight", "proj.bias")}, tmp_path / "a.safetensors")
    save_file({k: sd[k] for k in ("norm.weight", "norm.bias")}, tmp_path / "b.safetensors")
    index = {"weight_map": {"proj.weight": "a.safetensors", "proj.bias": "a.safetensors",
                            "norm.weight": "b.safetensors", "norm.bias": "b.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(__import__("json").dumps(index))
    read, source = read_hf_weights(tmp_path)
    assert source.endswith("model.safetensors.index.json")
    assert set(read) == set(sd) and torch.equal(read["proj.weight"], sd["proj.weight"])
    assert stored_dtype(read) == "float32"


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"w": torch.zeros(1), "x": Payload()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="refused"):
        read_hf_weights(tmp_path)


def test_a_folder_without_weights_says_what_it_expected(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        read_hf_weights(tmp_path)
