"""Read Hugging Face Whisper folders (``openai/whisper-*``): config.json, generation_config.json,
model.safetensors (or sharded, with model.safetensors.index.json) or pytorch_model.bin, mapped
onto our parameter names and checked tensor by tensor against the config.

Hugging Face names (``WhisperForConditionalGeneration`` saves them under ``model.``, a bare
``WhisperModel`` without; both are read)::

    encoder.conv1 / conv2                          -> encoder.conv1 / conv2
    encoder.embed_positions.weight                 -> (fixed sinusoids: shape checked, recomputed)
    {en,de}coder.layers.N.self_attn.{q,k,v,out}_proj -> blocks.N.attn.{query,key,value,out}
    {en,de}coder.layers.N.self_attn_layer_norm     -> blocks.N.attn_ln
    decoder.layers.N.encoder_attn.*                -> blocks.N.cross_attn.*
    decoder.layers.N.encoder_attn_layer_norm       -> blocks.N.cross_attn_ln
    {en,de}coder.layers.N.fc1 / fc2 / final_layer_norm -> blocks.N.mlp.0 / mlp.2 / mlp_ln
    encoder.layer_norm / decoder.layer_norm        -> encoder.ln_post / decoder.ln
    decoder.embed_tokens / decoder.embed_positions -> decoder.token_embedding / positional_embedding
    proj_out.weight                                -> (tied to the token embedding: ignored)
"""

from __future__ import annotations

import re
from pathlib import Path

from torch import Tensor

from engine.models.common.checkpoints import read_hf_weights, read_json, stored_dtype
from engine.models.common.errors import CheckpointError, first_few, shown
from engine.models.common.files import exists
from engine.models.whisper.config import WhisperConfig, head_pairs, token_list
from engine.models.whisper.skeleton import check_state_dict, expected_shapes

_PARTS = {  # ours -> Hugging Face, inside a layer
    "attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj", "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj", "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm",
}
_TOP = {  # ours -> Hugging Face, outside the layers
    "encoder.conv1": "encoder.conv1", "encoder.conv2": "encoder.conv2", "encoder.ln_post": "encoder.layer_norm",
    "decoder.token_embedding": "decoder.embed_tokens", "decoder.ln": "decoder.layer_norm",
}
_BLOCK_RE = re.compile(r"^(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$")
_IGNORED = {"proj_out.weight"}  # tied to decoder.embed_tokens
_ENCODER_POSITIONS = "encoder.embed_positions.weight"
_HF_DIMENSIONS = {  # our config field -> config.json key
    "n_mels": "num_mel_bins", "n_audio_ctx": "max_source_positions", "n_audio_state": "d_model",
    "n_audio_head": "encoder_attention_heads", "n_audio_layer": "encoder_layers", "n_vocab": "vocab_size",
    "n_text_ctx": "max_target_positions", "n_text_state": "d_model", "n_text_head": "decoder_attention_heads",
    "n_text_layer": "decoder_layers",
}


def hf_name(ours: str) -> str:
    """The Hugging Face name (without the ``model.`` prefix) of one of our parameters."""
    if ours == "decoder.positional_embedding":
        return "decoder.embed_positions.weight"
    m = _BLOCK_RE.match(ours)
    if m and m.group(3) in _PARTS:
        return f"{m.group(1)}.layers.{m.group(2)}.{_PARTS[m.group(3)]}.{m.group(4)}"
    stem, _, leaf = ours.rpartition(".")
    if stem in _TOP:
        return f"{_TOP[stem]}.{leaf}"
    return ours


def _token_list(data: dict, key: str, path: Path) -> list[int]:
    return token_list(data.get(key), key, path)


def config_from_hf(folder: Path) -> WhisperConfig:
    """Our config from config.json, with alignment heads and suppressed tokens from
    generation_config.json when the folder has one (else what config.json says)."""
    path = folder / "config.json"
    c = read_json(path)
    if c.get("model_type") != "whisper":
        raise CheckpointError(f"{path} describes a {shown(c.get('model_type'))} model; expected model_type 'whisper'")
    missing = [key for key in _HF_DIMENSIONS.values() if key not in c]
    if missing:
        raise CheckpointError(f"{path} lacks {missing[0]!r}, which every Whisper config has")
    # each value checked before any is used: a negative, fractional or huge dimension must not
    # reach torch (a traceback) or allocate gigabytes
    raw = WhisperConfig(**{ours: c[key] for ours, key in _HF_DIMENSIONS.items()}, name=folder.name)
    problems = raw.problems(_HF_DIMENSIONS)
    # what our architecture fixes and Hugging Face's config leaves open (the MLP width, 4 x d_model,
    # is checked with the tensors' shapes)
    fixed = {"activation_function": "gelu", "scale_embedding": False}
    problems += [f"{k} is {shown(c[k])} (expected {v!r})" for k, v in fixed.items() if k in c and c[k] != v]
    if problems:
        raise CheckpointError(f"{path} is not a standard Whisper model: {'; '.join(problems)}")
    cfg = WhisperConfig(**{ours: int(c[key]) for ours, key in _HF_DIMENSIONS.items()}, name=folder.name)

    cfg.suppress_tokens = _token_list(c, "suppress_tokens", path)
    cfg.begin_suppress_tokens = _token_list(c, "begin_suppress_tokens", path)
    gen_path = folder / "generation_config.json"
    if exists(gen_path):  # anything there is read as a file, or named: a FIFO is never waited on
        g = read_json(gen_path)
        cfg.alignment_heads = head_pairs(g.get("alignment_heads"), "alignment_heads", gen_path)
        if g.get("suppress_tokens") is not None:
            cfg.suppress_tokens = _token_list(g, "suppress_tokens", gen_path)
        if g.get("begin_suppress_tokens") is not None:
            cfg.begin_suppress_tokens = _token_list(g, "begin_suppress_tokens", gen_path)
        cfg.check_alignment_heads(gen_path)
    return cfg


def read_hf_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor], str]:
    """Config, state dict (our names, dtype as stored) and stored weight dtype of a Hugging Face folder."""
    folder = Path(folder)
    cfg = config_from_hf(folder)
    weights, source = read_hf_weights(folder)
    ours_by_file = {hf_name(k): k for k in expected_shapes(cfg)}
    sd: dict[str, Tensor] = {}
    unexpected = []
    positions: tuple[str, tuple[int, ...]] | None = None
    for name, tensor in weights.items():
        key = name.removeprefix("model.")
        if key in ours_by_file:
            sd[ours_by_file[key]] = tensor
        elif key == _ENCODER_POSITIONS:
            positions = (name, tuple(tensor.shape))
        elif key not in _IGNORED:
            unexpected.append(name)
    if unexpected:
        raise CheckpointError(f"{source} holds {len(unexpected)} tensors that are not part of a Whisper model: "
                              f"{first_few(sorted(unexpected), 5)}")
    check_state_dict(cfg, sd, source, file_name=hf_name)
    # the encoder's positions are recomputed, but their length must be the config's audio context
    if positions is not None and positions[1] != (cfg.n_audio_ctx, cfg.n_audio_state):
        raise CheckpointError(f"{source}: {positions[0]} is {positions[1]}, expected "
                              f"({cfg.n_audio_ctx}, {cfg.n_audio_state}) (max_source_positions, d_model in config.json)")
    return cfg, sd, stored_dtype(weights)


def load_hf_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor]]:
    """Config and state dict (our parameter names) of a Hugging Face Whisper folder."""
    cfg, sd, _ = read_hf_checkpoint(folder)
    return cfg, sd
