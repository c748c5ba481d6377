"""Reading checkpoints into models, for every family: Hugging Face weight files (safetensors,
sharded with an index, or PyTorch's pickles read without running code), a model built on the
meta device (no memory until the checkpoint's tensors are assigned), and ``check_state_dict``,
which names every problem in the file's own names before anything is allocated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from engine.models.common.errors import CheckpointError, first_few
from engine.models.common.torch_files import DamagedFile, RefusedFile, load_safely

M = TypeVar("M", bound=nn.Module)


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; CheckpointError when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing") from exc
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} should hold a JSON object, found {type(data).__name__}")
    return data


def load_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is damaged or truncated ({path.stat().st_size} bytes): {exc}") from exc


def load_torch_weights(path: Path) -> dict[str, Tensor]:
    """Named tensors of a PyTorch pickle (``.bin``/``.pt``), refused if it holds anything that only
    running code could rebuild (DESIGN.md §8). A ``{"state_dict": ...}`` wrapper is unwrapped."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    try:
        data = load_safely(path)
    except RefusedFile as exc:
        raise CheckpointError(f"{exc}; use the model's model.safetensors instead") from None
    except DamagedFile as exc:
        raise CheckpointError(str(exc)) from exc
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, Tensor) for v in data.values()):
        raise CheckpointError(f"{path} does not hold a dictionary of named tensors")
    return data


def _shards(folder: Path, index_name: str) -> list[Path]:
    weight_map = read_json(folder / index_name).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{folder / index_name} has no weight_map")
    return [folder / name for name in sorted(set(weight_map.values()))]


HF_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                   "pytorch_model.bin")


def read_hf_weights(folder: Path) -> tuple[dict[str, Tensor], str]:
    """Every tensor of a Hugging Face folder (the file's names) and the file they came from.

    Safetensors are preferred to pickles, an index (sharded weights) to a single file."""
    for name in HF_WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        load = load_safetensors if ".safetensors" in name else load_torch_weights
        if name.endswith(".index.json"):
            weights: dict[str, Tensor] = {}
            for shard in _shards(folder, name):
                weights.update(load(shard))
            return weights, str(path)
        return load(path), str(path)
    raise CheckpointError(f"{folder} has no weights: expected model.safetensors (or model.safetensors.index.json "
                          f"with its shards) or pytorch_model.bin")


def stored_dtype(weights: Mapping[str, Tensor]) -> str:
    """The floating dtype holding most of the parameters, as stored (``float16``, ...)."""
    counts: dict[torch.dtype, int] = {}
    for t in weights.values():
        if t.is_floating_point():
            counts[t.dtype] = counts.get(t.dtype, 0) + t.numel()
    return str(max(counts, key=counts.get)).removeprefix("torch.") if counts else "unknown"


class _ParametersOnMeta(TorchFunctionMode):
    """Allocate parameters (``torch.empty`` without a device) on the meta device and skip their
    random initialisation (every value comes from the checkpoint): no memory, no work. Unlike
    ``with torch.device("meta")`` this leaves other factories alone, so fixed buffers (sinusoids)
    are computed normally; and random initialisers on the meta device would import torch's
    decomposition and compiler machinery (seconds, once per process)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.empty and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        elif getattr(func, "__module__", None) == "torch.nn.init":
            tensor = args[0] if args else kwargs.get("tensor")
            if getattr(tensor, "is_meta", False):
                return tensor
        return func(*args, **kwargs)


def on_meta(build: Callable[[], M]) -> M:
    """``build()``'s model with every parameter on the meta device, ready for
    ``load_state_dict(assign=True)`` (``assign_weights``)."""
    with _ParametersOnMeta():
        return build()


def check_state_dict(expected: Mapping[str, torch.Size], state_dict: Mapping[str, Tensor], source: str,
                     model: str, file_name: Callable[[str], str] = str) -> None:
    """CheckpointError listing (the first few) missing, unexpected and misshapen tensors.

    ``expected`` maps our names to shapes (``model.state_dict()`` of a meta-device model);
    ``model`` says what the checkpoint should have been ("a Whisper model of its own config (…)");
    ``file_name`` turns our name into the checkpoint's, so the message speaks of what the person
    can see in their file.
    """
    missing = [file_name(k) for k in expected if k not in state_dict]
    extra = [file_name(k) for k in state_dict if k not in expected]
    wrong = [f"{file_name(k)} is {tuple(state_dict[k].shape)}, expected {tuple(shape)}"
             for k, shape in expected.items() if k in state_dict and state_dict[k].shape != shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors: {first_few(missing, 4)}")
    if extra:
        problems.append(f"unexpected {len(extra)} tensors: {first_few(extra, 4)}")
    if wrong:
        problems.append(f"wrong shape for {len(wrong)} tensors: {first_few(wrong, 4, '; ')}")
    if problems:
        raise CheckpointError(f"{source} does not fit {model}: " + " | ".join(problems))


def assign_weights(model: M, state_dict: dict[str, Tensor], source: str, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> M:
    """``model`` (from ``on_meta``, checked with ``check_state_dict``) holding exactly the given
    tensors, on ``device`` in ``dtype``, in eval mode.

    The state dict is consumed: its tensors are replaced one at a time by their converted copies,
    so the old ones can be freed as we go and the weights never exist twice in full. Buffers that
    no checkpoint holds (fixed sinusoids) are moved to the device and dtype too.
    """
    device = torch.device(device)
    for name in list(state_dict):
        state_dict[name] = state_dict[name].to(device=device, dtype=dtype)
    model.load_state_dict(state_dict, strict=True, assign=True)
    state_dict.clear()
    for module in model.modules():
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer is not None and not buffer.is_meta and buffer.is_floating_point():
                setattr(module, name, buffer.to(device=device, dtype=dtype))
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.is_meta:  # impossible after a strict load; a guard against future changes to the model
            raise CheckpointError(f"{source}: {name} was not loaded")
    return model.eval()
