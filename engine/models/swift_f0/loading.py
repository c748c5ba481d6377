"""SwiftF0's weights from the safetensors Motet ships (assets/swift-f0, written by
scripts/convert_swift_f0.py). A missing, damaged or foreign file is one CheckpointError line."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from engine.models.common.checkpoints import assign_weights, check_state_dict, load_safetensors, on_meta
from engine.models.swift_f0.model import SwiftF0Net

ASSET_DIR = Path(__file__).resolve().parents[3] / "assets" / "swift-f0"
WEIGHTS = ASSET_DIR / "model.safetensors"

_lock = threading.Lock()
_cache: dict[tuple[str, str], SwiftF0Net] = {}


def load_model(path: str | Path = WEIGHTS, device: str | torch.device = "cpu") -> SwiftF0Net:
    """SwiftF0 in float32 on ``device`` (a float16 copy would blur its pitch bands' frequencies,
    and the model is small enough for float32 anywhere), in eval mode."""
    path = Path(path)
    tensors = load_safetensors(path)  # missing, not a regular file, damaged: one line naming the file
    model = on_meta(SwiftF0Net)
    expected = {name: t.shape for name, t in model.state_dict().items()}
    check_state_dict(expected, tensors, str(path), "SwiftF0 as scripts/convert_swift_f0.py writes it")
    return assign_weights(model, tensors, str(path), device=device, dtype=torch.float32)


def shared_model(path: str | Path = WEIGHTS, device: str | torch.device = "cpu") -> SwiftF0Net:
    """One loaded copy per file and device, kept for the process (about 1 MB): what note
    extraction uses, so that many files or live blocks do not read the weights again."""
    key = (str(Path(path).resolve()), str(torch.device(device)))
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = _cache[key] = load_model(path, device)
        return model
