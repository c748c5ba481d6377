"""Build the T5 encoder from Hugging Face tensors: a standalone T5 folder (``t5-base``,
``google/flan-t5-*``: config.json, model.safetensors or shards, tokenizer.json) or the
``text_encoder.`` part of a MusicGen checkpoint.

Hugging Face names (after the prefix) -> ours::

    shared.weight (or encoder.embed_tokens.weight, its tied copy)  -> embed.weight
    encoder.block.0.layer.0.SelfAttention.relative_attention_bias  -> relative_bias (every layer's)
    encoder.block.N.layer.0.layer_norm                             -> blocks.N.attn_norm
    encoder.block.N.layer.0.SelfAttention.{q,k,v,o}                -> blocks.N.attn.{q,k,v,o}
    encoder.block.N.layer.1.layer_norm                             -> blocks.N.ff_norm
    encoder.block.N.layer.1.DenseReluDense.wi                      -> blocks.N.ff.up
    encoder.block.N.layer.1.DenseReluDense.wi_0 / wi_1 (gated)     -> blocks.N.ff.gate / ff.up
    encoder.block.N.layer.1.DenseReluDense.wo                      -> blocks.N.ff.down
    encoder.final_layer_norm                                       -> final_norm

A full T5 checkpoint's ``decoder.*`` and ``lm_head.weight`` are ignored (the encoder is all
MusicGen uses); any other tensor under the prefix is a CheckpointError, as is any missing or
misshapen one, named as the file names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from engine.models.common.checkpoints import check_state_dict, on_meta, read_hf_weights, read_json
from engine.models.common.errors import CheckpointError, first_few
from engine.models.common.files import check_json_file, exists
from engine.models.t5.config import T5Config
from engine.models.t5.model import T5Encoder
from engine.models.t5.tokenizer import T5Tokenizer

_TOP = {"embed.weight": "shared.weight", "final_norm.weight": "encoder.final_layer_norm.weight",
        "relative_bias.weight": "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"}
_LAYER = {  # ours -> Hugging Face, inside encoder.block.N
    "attn_norm": "layer.0.layer_norm", "attn.q": "layer.0.SelfAttention.q", "attn.k": "layer.0.SelfAttention.k",
    "attn.v": "layer.0.SelfAttention.v", "attn.o": "layer.0.SelfAttention.o", "ff_norm": "layer.1.layer_norm",
    "ff.gate": "layer.1.DenseReluDense.wi_0", "ff.down": "layer.1.DenseReluDense.wo",
}
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)\.weight$")
_EMBED_COPY = "encoder.embed_tokens.weight"


def hf_name(ours: str, gated: bool) -> str:
    """The Hugging Face name (without a prefix) of one of our parameters."""
    if ours in _TOP:
        return _TOP[ours]
    m = _BLOCK_RE.match(ours)
    if not m:
        raise KeyError(ours)
    part = m.group(2)
    leaf = ("layer.1.DenseReluDense.wi_1" if gated else "layer.1.DenseReluDense.wi") if part == "ff.up" else _LAYER[part]
    return f"encoder.block.{m.group(1)}.{leaf}.weight"


def _ignored(name: str) -> bool:
    return name.startswith("decoder.") or name == "lm_head.weight"


def _take(config: T5Config, expected: Mapping[str, torch.Size], weights: dict[str, Tensor], source: str,
          prefix: str) -> dict[str, Tensor]:
    """Our state dict from the tensors under ``prefix`` (removed from ``weights``), checked
    against ``expected`` (our names and shapes)."""
    ours_by_file = {hf_name(name, config.is_gated): name for name in expected}
    state_dict: dict[str, Tensor] = {}
    file_names = {name: prefix + hf for hf, name in ours_by_file.items()}
    unexpected = []
    for name in [n for n in weights if n.startswith(prefix)]:
        key = name[len(prefix):]
        if key in ours_by_file:
            state_dict[ours_by_file[key]] = weights.pop(name)
        elif key != _EMBED_COPY and not _ignored(key):
            unexpected.append(name)
    copy = weights.pop(prefix + _EMBED_COPY, None)
    if copy is not None:
        if "embed.weight" not in state_dict:  # saved without its tied original
            state_dict["embed.weight"] = copy
            file_names["embed.weight"] = prefix + _EMBED_COPY
        elif copy.shape != state_dict["embed.weight"].shape:
            raise CheckpointError(f"{source}: {prefix + _EMBED_COPY} is {tuple(copy.shape)} but "
                                  f"{prefix}shared.weight, which it should equal, is "
                                  f"{tuple(state_dict['embed.weight'].shape)}")
    if unexpected:
        raise CheckpointError(f"{source} holds {len(unexpected)} tensors that are not part of a T5 encoder: "
                              f"{first_few(sorted(unexpected), 5)}")
    check_state_dict(expected, state_dict, source, f"a T5 encoder of its own config ({config.describe()})",
                     file_names.__getitem__)
    return state_dict


def _assign(model: T5Encoder, state_dict: dict[str, Tensor], device: str | torch.device,
            dtype: torch.dtype) -> T5Encoder:
    """``model`` (on the meta device) holding the tensors, converted one at a time (the state
    dict is consumed, so the weights never exist twice in full). In float16 the feed-forward
    output projections stay float32, as in transformers (model.py says why)."""
    for name in list(state_dict):
        keep = dtype == torch.float16 and name.endswith(".ff.down.weight")
        state_dict[name] = state_dict[name].to(device=device, dtype=torch.float32 if keep else dtype)
    model.load_state_dict(state_dict, strict=True, assign=True)
    state_dict.clear()
    return model.eval()


def _build(config: T5Config, weights: dict[str, Tensor], source: str, device: str | torch.device,
           dtype: torch.dtype, prefix: str) -> T5Encoder:
    model = on_meta(lambda: T5Encoder(config))
    expected = {name: t.shape for name, t in model.state_dict().items()}
    return _assign(model, _take(config, expected, weights, source, prefix), device, dtype)


def build_t5_encoder(config: Mapping, weights: dict[str, Tensor], source: str, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float32, prefix: str = "",
                     config_source: str | None = None) -> T5Encoder:
    """The encoder (eval mode, on ``device`` in ``dtype``) from a Hugging Face T5 config dict and
    the checkpoint's tensors with their Hugging Face names after ``prefix`` (``text_encoder.``
    in a MusicGen checkpoint). Tensors without the prefix are left alone; the ones taken are
    removed from ``weights`` (what remains is the rest of the checkpoint, and no tensor is held
    twice). ``source`` names the weight file in errors, ``config_source`` the config (default:
    ``source``). A full T5's decoder.* and lm_head tensors are ignored."""
    cfg = T5Config.from_hf(config, config_source or source)
    return _build(cfg, weights, source, device, dtype, prefix)


def load_t5_encoder(folder: Path | str, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> tuple[T5Encoder, T5Tokenizer | None]:
    """(encoder, tokenizer) of a standalone Hugging Face T5 folder; the tokenizer is None when the
    folder has no tokenizer.json. The config is checked before any weight is read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; expected a T5 model folder with config.json, "
                              f"model.safetensors and tokenizer.json")
    config = T5Config.from_hf(read_json(folder / "config.json"), str(folder / "config.json"))
    weights, source = read_hf_weights(folder)
    model = _build(config, weights, source, device, dtype, prefix="")
    tokenizer_path = folder / "tokenizer.json"
    if not exists(tokenizer_path):
        return model, None
    check_json_file(tokenizer_path)  # read by the tokenizers library: a regular file of a sane size
    return model, T5Tokenizer.from_file(tokenizer_path)
