"""Reading checkpoints into models, for every family: Hugging Face weight files (safetensors,
sharded with an index, or PyTorch's pickles read without running code), a model built on the
meta device (no memory until the checkpoint's tensors are assigned), and ``check_state_dict``,
which names every problem in the file's own names before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from engine.models.common.errors import CheckpointError, first_few, printable, shown
from engine.models.common.files import exists, file_inside, regular_file
from engine.models.common.files import read_json as _read_json
from engine.models.common.torch_files import DamagedFile, RefusedFile, load_safely

M = TypeVar("M", bound=nn.Module)

# What a weight may be: a float of these kinds (CTranslate2's int8/int16 are dequantised before
# any check), every value finite and at most MAX_WEIGHT in size: float16's largest value, so that
# every weight survives the cast to float16 that GPUs run in. Checkpoints published in float16
# cannot exceed it; published weights stay far below it (tiny.en's largest is 16.9, the shipped
# Music Transformer's 4.4), while a model scaled by 1e30 makes only inf and NaN.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
MAX_WEIGHT = 65504.0


def read_json(path: Path) -> dict:
    """A JSON object from the regular file ``path`` (bounded in size and depth); CheckpointError
    when it is missing, unreadable or not an object."""
    return _read_json(path)


def kind_problem(tensor) -> str | None:
    """Why ``tensor`` cannot be a float weight (its kind: not a tensor, not a float, not dense), or None."""
    if not isinstance(tensor, Tensor):
        return f"is a {type(tensor).__name__}, not a tensor"
    if tensor.dtype not in FLOAT_DTYPES:
        return f"is {str(tensor.dtype).removeprefix('torch.')}, not float16, bfloat16, float32 or float64"
    if tensor.layout != torch.strided or tensor.is_meta or tensor.is_quantized:
        return "is not a plain dense tensor"
    return None


def value_problem(tensor: Tensor) -> str | None:
    """Why a float tensor's values cannot be weights (NaN, infinite, beyond ``MAX_WEIGHT``), or None.
    One pass over the values, nothing the size of the tensor allocated."""
    if tensor.numel() == 0:
        return None
    low, high = (float(v) for v in torch.aminmax(tensor))
    if not (math.isfinite(low) and math.isfinite(high)):
        return "holds NaN or infinite values"
    if max(-low, high) > MAX_WEIGHT:
        return f"holds {high if high > -low else low:.3g}, beyond ±{MAX_WEIGHT:g} (what float16 holds)"
    return None


def _name(name) -> str:
    """A tensor's name for a message: escaped, cut; a name that is not a string, shown as a value."""
    if not isinstance(name, str):
        return shown(name)
    name = printable(name)
    return name if len(name) <= 160 else name[:157] + "..."


def check_kinds(weights: Mapping, source: str) -> None:
    """CheckpointError naming the first few entries of ``weights`` that are not named float tensors."""
    bad = [f"{_name(name)} {problem}" for name, t in weights.items()
           if (problem := "is not named by a string" if not isinstance(name, str) else kind_problem(t))]
    if bad:
        raise CheckpointError(f"{source}: {len(bad)} entries are not float weights: {first_few(bad, 3, '; ')}")


def load_safetensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a regular safetensors file, all float weights; CheckpointError otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    size = regular_file(path).st_size
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path} is damaged or truncated ({size} bytes): {shown(str(exc), 200)}") from exc
    check_kinds(weights, str(path))
    return weights


def load_torch_weights(path: Path) -> dict[str, Tensor]:
    """Named float tensors of a PyTorch pickle (``.bin``/``.pt``), refused if it holds anything that
    only running code could rebuild (DESIGN.md §8). A ``{"state_dict": ...}`` wrapper is unwrapped."""
    regular_file(path)
    try:
        data = load_safely(path)
    except RefusedFile as exc:
        raise CheckpointError(f"{exc}; use the model's model.safetensors instead") from None
    except DamagedFile as exc:
        raise CheckpointError(str(exc)) from exc
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a dictionary of named tensors")
    check_kinds(data, str(path))
    return data


def _shards(folder: Path, index_name: str) -> list[Path]:
    """The shard files an index names: inside ``folder``, regular files, each once."""
    index = folder / index_name
    weight_map = read_json(index).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index} has no weight_map (tensor names to shard files)")
    odd = [f"{shown(k)}: {shown(v)}" for k, v in weight_map.items() if not isinstance(v, str)]
    if odd:
        raise CheckpointError(f"{index}: weight_map should map each tensor to a file name, found "
                              f"{first_few(odd, 3, '; ')}")
    return [file_inside(folder, name, str(index)) for name in sorted(set(weight_map.values()))]


HF_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                   "pytorch_model.bin")


def read_hf_weights(folder: Path) -> tuple[dict[str, Tensor], str]:
    """Every tensor of a Hugging Face folder (the file's names) and the file they came from.

    Safetensors are preferred to pickles, an index (sharded weights) to a single file; a tensor
    in two shards, a shard outside the folder and anything but float weights are refused."""
    for name in HF_WEIGHT_FILES:
        path = folder / name
        if not exists(path):
            continue
        regular_file(path)  # a FIFO or a folder in its place is named, never waited on
        load = load_safetensors if ".safetensors" in name else load_torch_weights
        if name.endswith(".index.json"):
            weights: dict[str, Tensor] = {}
            for shard in _shards(folder, name):
                part = load(shard)
                twice = sorted(set(part) & set(weights))
                if twice:
                    raise CheckpointError(f"{shard} holds {first_few(twice, 3)}, which another shard of {path} "
                                          f"holds too")
                weights.update(part)
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
    """CheckpointError listing (the first few) missing, unexpected, misshapen and non-float
    tensors, then naming the first whose values are not finite or beyond ``MAX_WEIGHT``.

    ``expected`` maps our names to shapes (``model.state_dict()`` of a meta-device model);
    ``model`` says what the checkpoint should have been ("a Whisper model of its own config (…)");
    ``file_name`` turns our name into the checkpoint's, so the message speaks of what the person
    can see in their file.
    """
    missing = [file_name(k) for k in expected if k not in state_dict]
    extra = [file_name(k) for k in state_dict if k not in expected]
    kinds = [f"{file_name(k)} {problem}" for k, t in state_dict.items() if (problem := kind_problem(t))]
    wrong = [f"{file_name(k)} is {tuple(state_dict[k].shape)}, expected {tuple(shape)}"
             for k, shape in expected.items() if k in state_dict and isinstance(state_dict[k], Tensor)
             and state_dict[k].shape != shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors: {first_few(missing, 4)}")
    if extra:
        problems.append(f"unexpected {len(extra)} tensors: {first_few(extra, 4)}")
    if wrong:
        problems.append(f"wrong shape for {len(wrong)} tensors: {first_few(wrong, 4, '; ')}")
    if kinds:
        problems.append(f"{len(kinds)} tensors are not float weights: {first_few(kinds, 3, '; ')}")
    if problems:
        raise CheckpointError(f"{source} does not fit {model}: " + " | ".join(problems))
    for k, t in state_dict.items():
        problem = value_problem(t)
        if problem:
            raise CheckpointError(f"{source}: {file_name(k)} {problem}; the checkpoint is damaged")


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
