"""The one KV cache every decoder uses: what it keeps through growth, beam reordering, batch
expansion (hypotheses and classifier-free guidance) and truncation."""

import pytest
import torch

from engine.models.common.kv_cache import KVCache


def filled(batch=3, length=5, capacity=8, max_length=None):
    cache = KVCache(2, batch, 2, capacity, 4, torch.float32, "cpu", max_length=max_length)
    values = torch.arange(batch * 2 * length * 4, dtype=torch.float32).view(batch, 2, length, 4)
    cache.reserve(length)
    for layer in range(2):
        k, v = cache.append(layer, values + layer, -values - layer)
        assert k.shape == (batch, 2, length, 4)
    cache.length = length
    return cache, values


def test_append_returns_everything_so_far():
    cache, values = filled()
    step = torch.full((3, 2, 1, 4), 7.0)
    k, v = cache.append(0, step, -step)
    assert k.shape[2] == 6
    assert torch.equal(k[:, :, :5], values) and torch.equal(k[:, :, 5:], step)
    assert torch.equal(v[:, :, 5:], -step)


def test_growth_keeps_the_filled_positions_and_stops_at_the_limit():
    cache, values = filled(capacity=5, max_length=12)
    cache.reserve(6)
    assert cache.capacity == 10  # doubled
    assert torch.equal(cache.k[0][:, :, :5], values) and torch.equal(cache.v[1][:, :, :5], -values - 1)
    cache.reserve(12)
    assert cache.capacity == 12
    with pytest.raises(ValueError, match="at most 12"):
        cache.reserve(13)


def test_reorder_follows_beam_search_and_drops_rows():
    cache, values = filled()
    cache.reorder(torch.tensor([2, 2, 0]))
    assert torch.equal(cache.k[0][:, :, :5], values[[2, 2, 0]])
    cache.reorder(torch.tensor([1]))  # one row left: a copy of the old row 1
    assert cache.batch == 1 and torch.equal(cache.k[1][:, :, :5], values[[2]] + 1)


def test_reorder_from_start_leaves_the_shared_prompt_alone():
    cache, values = filled()
    before = cache.k[0][:, :, :2].clone()
    cache.reorder(torch.tensor([1, 0, 2]), start=2)
    assert torch.equal(cache.k[0][:, :, :2], before)
    assert torch.equal(cache.k[0][:, :, 2:5], values[[1, 0, 2], :, 2:5])


def test_repeat_for_hypotheses_and_for_guidance():
    cache, values = filled(batch=2)
    cache.repeat(2)  # hypotheses: consecutive copies
    assert torch.equal(cache.k[0][:, :, :5], values[[0, 0, 1, 1]])
    cache, values = filled(batch=2)
    cache.repeat(2, interleave=False)  # guidance: the batch, then the batch again
    assert torch.equal(cache.v[0][:, :, :5], -values[[0, 1, 0, 1]])


def test_truncate_forgets_a_suffix_that_the_next_step_overwrites():
    cache, values = filled()
    cache.truncate(3)
    step = torch.ones(3, 2, 1, 4)
    k, _ = cache.append(0, step, step)
    assert k.shape[2] == 4 and torch.equal(k[:, :, :3], values[:, :, :3]) and torch.equal(k[:, :, 3:], step)
    cache.truncate(10)
    assert cache.length == 3


def test_padding_rows_follow_the_reorder():
    cache = KVCache(1, 3, 1, 4, 2, torch.float32, "cpu", pad=torch.tensor([0, 2, 1]))
    assert cache.min_pad == 0
    cache.reorder(torch.tensor([1, 2]))
    assert cache.pad.tolist() == [2, 1] and cache.min_pad == 1


def test_bytes_needed_is_what_is_allocated():
    sizes = (3, 2, 4, 16, 8)
    cache = KVCache(*sizes, torch.float16, "cpu")
    allocated = sum(t.numel() * t.element_size() for t in cache.k + cache.v)
    assert KVCache.bytes_needed(*sizes, torch.float16) == allocated
