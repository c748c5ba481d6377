"""The one owner of loaded models, whatever their family (DESIGN.md §4: models stay loaded).

A model is asked for by (family, path, device, dtype, variant): the same key gives the same
object, loaded once even when two jobs ask at the same moment. The registry counts each model's
bytes (parameters and buffers) against a memory budget; loading one that would go over it drops
the least recently used others first. A job that still holds a dropped model keeps it alive until
it ends; the registry only lets go of its own reference. A model larger than the whole budget is
still loaded (alone): refusing it would leave the person with nothing.

The budget is ``$MOTET_MODEL_MEMORY`` (MiB) or 4 GiB: room for Whisper small in float32 beside
the Music Transformer, T5 and EnCodec, and well under the memory of a machine that runs them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_BUDGET = 4 << 30


def default_budget() -> int:
    try:
        mib = float(os.environ.get("MOTET_MODEL_MEMORY", ""))
    except ValueError:
        return DEFAULT_BUDGET
    return int(mib * 2**20) if mib > 0 else DEFAULT_BUDGET


def size_of(model: Any) -> int:
    """Bytes of a model's tensors: an ``nn.Module``'s parameters and buffers, or those of the
    module a pipeline holds as ``.model``, and the int8 weights packed outside them
    (``packed_bytes`` of its modules); 0 for anything else."""
    module = model if hasattr(model, "parameters") else getattr(model, "model", None)
    if module is None or not hasattr(module, "parameters"):
        return 0
    tensors = {id(t): t for t in list(module.parameters()) + list(module.buffers())}
    packed = sum(getattr(m, "packed_bytes", 0) for m in module.modules()) if hasattr(module, "modules") else 0
    return sum(t.numel() * t.element_size() for t in tensors.values()) + packed


@dataclass
class Loaded:
    key: tuple
    model: Any
    bytes: int
    last_used: float


class ModelRegistry:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget = default_budget() if budget_bytes is None else int(budget_bytes)
        self._models: dict[tuple, Loaded] = {}
        self._lock = threading.RLock()  # held while loading: one load at a time, none twice

    def get(self, family: str, path: str, load: Callable[[], Any], device: str = "cpu", dtype: Any = None,
            variant: str = "") -> Any:
        """The loaded model for this key, loading it with ``load()`` if needed."""
        key = (family, str(path), str(device), str(dtype), variant)
        with self._lock:
            entry = self._models.get(key)
            if entry is None:
                model = load()
                size = size_of(model)
                self._make_room(size)
                entry = self._models[key] = Loaded(key, model, size, 0.0)
            entry.last_used = time.monotonic()
            return entry.model

    def _make_room(self, size: int) -> None:
        for entry in sorted(self._models.values(), key=lambda e: e.last_used):
            if self.used() + size <= self.budget:
                break
            del self._models[entry.key]

    def used(self) -> int:
        with self._lock:
            return sum(e.bytes for e in self._models.values())

    def loaded(self) -> list[Loaded]:
        """What is loaded, most recently used first."""
        with self._lock:
            return sorted(self._models.values(), key=lambda e: -e.last_used)

    def unload_all(self) -> int:
        """Let go of every model of every family ("Unload models"); the bytes they held."""
        return self.unload()

    def unload(self, family: str | None = None) -> int:
        """Let go of every model (of one family); the bytes they held."""
        with self._lock:
            gone = [k for k in self._models if family is None or k[0] == family]
            freed = sum(self._models[k].bytes for k in gone)
            for k in gone:
                del self._models[k]
        return freed


models = ModelRegistry()  # the process's registry: the GUI's and the CLI's jobs share it
