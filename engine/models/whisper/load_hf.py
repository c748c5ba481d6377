"""Read Hugging Face Whisper folders (``openai/whisper-*``): config.json, generation_config.json,
model.safetensors (possibly sharded) or pytorch_model.bin, mapped onto our parameter names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import Tensor

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.errors import CheckpointError

_LAYER_PARTS = {
    "self_attn.q_proj": "attn.query", "self_attn.k_proj": "attn.key", "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out", "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query", "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value", "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0", "fc2": "mlp.2", "final_layer_norm": "mlp_ln",
}
_TOP = {
    "encoder.conv1": "encoder.conv1", "encoder.conv2": "encoder.conv2", "encoder.layer_norm": "encoder.ln_post",
    "decoder.embed_tokens": "decoder.token_embedding", "decoder.layer_norm": "decoder.ln",
}
_LAYER_RE = re.compile(r"^(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc


def config_from_hf(folder: Path) -> WhisperConfig:
    c = _read_json(folder / "config.json")
    if c.get("model_type") != "whisper":
        raise CheckpointError(f"{folder / 'config.json'} describes a {c.get('model_type')!r} model, not Whisper")
    try:
        cfg = WhisperConfig(
            n_mels=c["num_mel_bins"], n_audio_ctx=c["max_source_positions"], n_audio_state=c["d_model"],
            n_audio_head=c["encoder_attention_heads"], n_audio_layer=c["encoder_layers"],
            n_vocab=c["vocab_size"], n_text_ctx=c["max_target_positions"], n_text_state=c["d_model"],
            n_text_head=c["decoder_attention_heads"], n_text_layer=c["decoder_layers"], name=folder.name,
        )
    except KeyError as exc:
        raise CheckpointError(f"{folder / 'config.json'} lacks {exc.args[0]!r}") from exc
    cfg.suppress_tokens = list(c.get("suppress_tokens") or [])
    cfg.begin_suppress_tokens = list(c.get("begin_suppress_tokens") or [])
    gen = folder / "generation_config.json"
    if gen.exists():
        g = _read_json(gen)
        cfg.alignment_heads = [tuple(h) for h in g.get("alignment_heads") or []]
        cfg.suppress_tokens = list(g.get("suppress_tokens") or cfg.suppress_tokens)
        cfg.begin_suppress_tokens = list(g.get("begin_suppress_tokens") or cfg.begin_suppress_tokens)
    return cfg


def _read_weights(folder: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    files = sorted(set(_read_json(index)["weight_map"].values())) if index.exists() else []
    if not files and (folder / "model.safetensors").exists():
        files = ["model.safetensors"]
    weights: dict[str, Tensor] = {}
    if files:
        for name in files:
            try:
                weights.update(load_file(str(folder / name)))
            except (SafetensorError, OSError, ValueError) as exc:
                raise CheckpointError(f"{folder / name} is damaged or truncated: {exc}") from exc
        return weights
    binary = folder / "pytorch_model.bin"
    if binary.exists():
        try:
            return torch.load(binary, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - pickle/zip errors come in many types
            raise CheckpointError(f"{binary} is damaged or truncated: {exc}") from exc
    raise CheckpointError(f"{folder} has no weights: expected model.safetensors or pytorch_model.bin")


def load_hf_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor]]:
    """Config and state dict (our names) of a Hugging Face Whisper folder."""
    folder = Path(folder)
    cfg = config_from_hf(folder)
    sd: dict[str, Tensor] = {}
    unexpected = []
    for name, tensor in _read_weights(folder).items():
        key = name.removeprefix("model.")
        if key in ("proj_out.weight", "encoder.embed_positions.weight"):
            continue  # tied to the token embedding / fixed sinusoids
        if key == "decoder.embed_positions.weight":
            sd["decoder.positional_embedding"] = tensor
            continue
        m = _LAYER_RE.match(key)
        if m and m.group(3) in _LAYER_PARTS:
            sd[f"{m.group(1)}.blocks.{m.group(2)}.{_LAYER_PARTS[m.group(3)]}.{m.group(4)}"] = tensor
            continue
        stem, _, leaf = key.rpartition(".")
        if stem in _TOP:
            sd[f"{_TOP[stem]}.{leaf}"] = tensor
            continue
        unexpected.append(name)
    if unexpected:
        raise CheckpointError(f"{folder}: unexpected tensors for a Whisper model: {', '.join(unexpected[:5])}"
                              + (f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""))
    return cfg, sd
