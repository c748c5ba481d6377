"""The model registry: one load per key, a memory budget with least-recently-used eviction,
unload per family or all, and one load when two jobs ask at once. Small real modules, no weights."""

import threading
import time

import torch
from torch import nn

from engine.models.registry import ModelRegistry, size_of


def linear(n: int) -> nn.Module:
    return nn.Linear(n, n, bias=False)  # n*n float32: 4 n^2 bytes


def test_the_same_key_gives_the_same_model_loaded_once():
    reg, calls = ModelRegistry(10 << 20), []
    load = lambda: calls.append(1) or linear(8)  # noqa: E731
    a = reg.get("x", "/m", load)
    assert reg.get("x", "/m", load) is a and len(calls) == 1
    assert reg.get("x", "/m", load, dtype=torch.float16) is not a  # another key, another model
    assert reg.get("x", "/m", load, variant="int8") is not a
    assert len(calls) == 3


def test_the_budget_evicts_the_least_recently_used_first():
    one = size_of(linear(256))  # 256 KiB
    reg = ModelRegistry(2 * one + 100)
    a = reg.get("whisper", "a", lambda: linear(256))
    b = reg.get("music", "b", lambda: linear(256))
    reg.get("whisper", "a", lambda: linear(256))  # a is now the most recent
    reg.get("t5", "c", lambda: linear(256))  # over budget: b goes, a stays
    keys = [e.key[:2] for e in reg.loaded()]
    assert keys == [("t5", "c"), ("whisper", "a")] and reg.used() == 2 * one
    assert reg.get("whisper", "a", lambda: linear(256)) is a
    assert reg.get("music", "b", lambda: linear(256)) is not b  # loaded again


def test_a_model_larger_than_the_budget_still_loads_alone():
    reg = ModelRegistry(1000)
    reg.get("a", "small", lambda: linear(4))
    big = reg.get("b", "big", lambda: linear(64))
    assert [e.model for e in reg.loaded()] == [big]


def test_unload_by_family_and_all():
    reg = ModelRegistry(10 << 20)
    reg.get("whisper", "a", lambda: linear(16))
    reg.get("music", "b", lambda: linear(16))
    assert reg.unload("whisper") == size_of(linear(16))
    assert [e.key[0] for e in reg.loaded()] == ["music"]
    assert reg.unload() == size_of(linear(16)) and reg.loaded() == [] and reg.used() == 0


def test_two_jobs_asking_at_once_load_once():
    reg, calls, results = ModelRegistry(10 << 20), [], []
    second_asks = threading.Event()

    def load():
        calls.append(1)
        second_asks.wait(30)  # the other job asks while this load is still running
        time.sleep(0.1)  # (it passes either way with the lock; without it, this is its chance to load too)
        return linear(8)

    def ask(signal=None):
        if signal:
            signal.set()
        results.append(reg.get("x", "/m", load))

    first = threading.Thread(target=ask)
    first.start()
    while not calls:
        time.sleep(0.01)
    second = threading.Thread(target=ask, args=(second_asks,))
    second.start()
    first.join(60)
    second.join(60)
    assert len(calls) == 1 and len(results) == 2 and results[0] is results[1]


def test_a_pipeline_is_sized_by_its_model():
    class Pipeline:
        model = linear(32)

    assert size_of(Pipeline()) == 32 * 32 * 4 and size_of(object()) == 0


def test_int8_weights_packed_outside_the_parameters_are_counted():
    from engine.models.common.int8 import Int8Linear, int8_backend

    layer = torch.nn.Sequential(Int8Linear(torch.randn(32, 64), None, int8_backend()))
    assert size_of(layer) >= 32 * 64
