"""Build EnCodec from Hugging Face tensors: a standalone ``facebook/encodec_*`` folder, or the
``audio_encoder.`` part of a MusicGen checkpoint.

Names are transformers' (``EncodecModel``) and ours alike, except two. Weight-normed convolutions
are stored as a magnitude and a direction, either ``conv.weight_g`` / ``conv.weight_v`` (the
published checkpoints) or ``conv.parametrizations.weight.original0`` / ``original1`` (what recent
transformers saves): both are folded into one plain ``conv.weight`` = g * v / |v| (norm over all
but the first dimension), so the model runs plain convolutions. The codebooks
``quantizer.layers.N.codebook.embed`` become ``quantizer.codebooks.N``; the training statistics
beside them (``inited``, ``cluster_size``, ``embed_avg``) are dropped. Problems are reported in
the file's names.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.models.common.checkpoints import assign_weights, check_state_dict, on_meta, read_hf_weights, read_json
from engine.models.common.errors import CheckpointError
from engine.models.encodec.config import EncodecConfig
from engine.models.encodec.model import Encodec

_CODEBOOK = re.compile(r"^quantizer\.layers\.(\d+)\.codebook\.(embed|inited|cluster_size|embed_avg)$")
_WEIGHT_NORM = {  # file suffix -> (which half, the other half's suffix)
    ".weight_g": ("g", ".weight_v"), ".weight_v": ("v", ".weight_g"),
    ".parametrizations.weight.original0": ("g", ".parametrizations.weight.original1"),
    ".parametrizations.weight.original1": ("v", ".parametrizations.weight.original0"),
}


def _fold(g: Tensor, v: Tensor) -> Tensor:
    """The plain weight of a weight-normed one, in float32 (cast to the model's dtype when assigned)."""
    v = v.float()
    return v * (g.float() / v.norm(dim=tuple(range(1, v.dim())), keepdim=True))


def _ours(weights: dict[str, Tensor], prefix: str, source: str) -> tuple[dict[str, Tensor], dict[str, str]]:
    """(state dict in our names, our name -> the file's) of the codec's tensors (prefix removed)."""
    state_dict: dict[str, Tensor] = {}
    file_names: dict[str, str] = {}
    halves: dict[str, dict[str, tuple[str, str, Tensor]]] = {}  # stem -> g/v -> (suffix, other suffix, tensor)
    for name in list(weights):
        tensor = weights.pop(name)
        codebook = _CODEBOOK.match(name)
        suffix = next((s for s in _WEIGHT_NORM if name.endswith(s)), None)
        if codebook and codebook.group(2) != "embed":
            continue
        if codebook:
            ours = f"quantizer.codebooks.{codebook.group(1)}"
        elif suffix:
            half, other = _WEIGHT_NORM[suffix]
            halves.setdefault(name[:-len(suffix)], {})[half] = (suffix, other, tensor)
            continue
        else:
            ours = name
        state_dict[ours], file_names[ours] = tensor, prefix + name
    while halves:  # each pair dropped as it is folded, so the weights are never held twice
        stem, parts = halves.popitem()
        if len(parts) == 1:
            suffix, other, _ = next(iter(parts.values()))
            raise CheckpointError(f"{source}: {prefix}{stem}{suffix} has no {prefix}{stem}{other} beside it")
        (g_suffix, _, g), (v_suffix, _, v) = parts["g"], parts["v"]
        ours = stem + ".weight"
        if ours in state_dict:
            raise CheckpointError(f"{source} holds both {prefix}{ours} and {prefix}{stem}{v_suffix}")
        if v.dim() < 2 or tuple(g.shape) != (v.shape[0],) + (1,) * (v.dim() - 1):
            raise CheckpointError(f"{source}: {prefix}{stem}{g_suffix} is {tuple(g.shape)}, which does not fit "
                                  f"{prefix}{stem}{v_suffix} {tuple(v.shape)}")
        state_dict[ours], file_names[ours] = _fold(g, v), f"{prefix}{stem}{v_suffix}"
    return state_dict, file_names


def _file_name(ours: str, known: dict[str, str], prefix: str, weight_norm: str | None) -> str:
    """The file's name for one of our tensors, also for one it lacks (a weight-normed weight in
    the file's layout, ``weight_norm``)."""
    if ours in known:
        return known[ours]
    if ours.startswith("quantizer.codebooks."):
        return f"{prefix}quantizer.layers.{ours.rsplit('.', 1)[1]}.codebook.embed"
    if weight_norm and ours.endswith("conv.weight"):
        return f"{prefix}{ours.removesuffix('.weight')}{weight_norm}"
    return prefix + ours


def build_encodec(config: dict | EncodecConfig, weights: dict[str, Tensor], source: str,
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, prefix: str = "",
                  config_source: str | None = None) -> Encodec:
    """Our EnCodec (eval mode, on ``device`` in ``dtype``) from a transformers config dictionary
    and the tensors named ``prefix`` + a transformers ``EncodecModel`` name.

    The codec's tensors are taken out of ``weights`` (others, under other prefixes, are left for
    the caller), so the weights are never held twice. ``source`` names the weight file in errors,
    ``config_source`` the config (by default ``source``). Any config value or tensor that does not
    fit is a CheckpointError in the file's names.
    """
    if not isinstance(config, EncodecConfig):
        config = EncodecConfig.from_hf(config, config_source or source)
    mine = {name[len(prefix):]: weights.pop(name) for name in [n for n in weights if n.startswith(prefix)]}
    if not mine:
        raise CheckpointError(f"{source} holds no EnCodec tensors" + (f" (under {prefix!r})" if prefix else ""))
    layout = None  # how the file stores weight norm, to name a missing weight as it would be there
    if config.norm_type == "weight_norm":
        parametrized = any(".parametrizations." in n for n in mine)
        layout = ".parametrizations.weight.original0/1" if parametrized else ".weight_g/_v"
    state_dict, file_names = _ours(mine, prefix, source)
    model = on_meta(lambda: Encodec(config))
    expected = {name: t.shape for name, t in model.state_dict().items()}
    check_state_dict(expected, state_dict, source, f"an EnCodec of its own config ({config.describe()})",
                     lambda ours: _file_name(ours, file_names, prefix, layout))
    model = assign_weights(model, state_dict, source, device=device, dtype=dtype)
    for module in model.modules():
        if isinstance(module, nn.LSTM):
            module.flatten_parameters()  # cuDNN wants one block per LSTM (on CPU nothing happens)
    return model


def load_encodec(folder: Path | str, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> Encodec:
    """EnCodec from a Hugging Face folder (config.json + model.safetensors, or pytorch_model.bin),
    the config checked before any weight is read."""
    folder = Path(folder)
    config = EncodecConfig.from_hf(read_json(folder / "config.json"), str(folder / "config.json"))
    weights, source = read_hf_weights(folder)
    return build_encodec(config, weights, source, device=device, dtype=dtype)
