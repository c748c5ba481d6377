"""Read CTranslate2 Whisper folders (faster-whisper's format): model.bin + config.json.

model.bin, as written by ``ctranslate2/specs/model_spec.py`` (binary version 6): a uint32
version, the spec name and a uint32 revision, then for each variable its name, rank, shape
(uint32 each), a dtype id (float32, int8, int16, int32, float16, bfloat16 in that order), the
byte count and the raw bytes; then aliases (name -> variable name). Strings are a uint16 length
(including a trailing NUL) and UTF-8 bytes. Quantised int8 weights come with ``<name>_scale``,
one float per output row: weight = int8 / scale.

In the Whisper spec, self-attention has a fused q,k,v projection (``linear_0``, k has no bias in
Whisper so its slice of the fused bias is zero) and an output projection (``linear_1``); the
decoder's cross-attention (``attention``) has the query (``linear_0``), fused k,v (``linear_1``)
and output (``linear_2``).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.errors import CheckpointError

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


def read_model_bin(path: Path) -> tuple[str, dict[str, np.ndarray], dict[str, str]]:
    """(spec name, variables, aliases) of a CTranslate2 model.bin, without copying the weights."""
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        if pos + n > len(data):
            raise CheckpointError(f"{path} is truncated (needed {pos + n} bytes, the file has {len(data)})")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def unpack(fmt: str):
        return struct.unpack(fmt, take(struct.calcsize(fmt)).tobytes())[0]

    def string() -> str:
        return take(unpack("<H")).tobytes()[:-1].decode("utf-8")

    version = unpack("<I")
    if not 1 <= version <= 6:
        raise CheckpointError(f"{path} is not a CTranslate2 model (binary version {version}; expected 1 to 6)")
    spec = string() if version >= 2 else ""
    if version >= 2:
        unpack("<I")  # revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(unpack("<I")):
        name = string()
        shape = tuple(unpack("<I") for _ in range(unpack("<B")))
        type_id = unpack("<B") if version >= 4 else 0
        nbytes = unpack("<I")
        if type_id not in _DTYPES:
            raise CheckpointError(f"{path}: variable {name} has an unknown dtype id {type_id}")
        raw = take(nbytes)
        if _DTYPES[type_id] == "bfloat16":
            array = raw.view(np.uint16).reshape(shape)
            array = (array.astype(np.uint32) << 16).view(np.float32)
        else:
            array = raw.view(_DTYPES[type_id]).reshape(shape)
        variables[name] = array
    aliases = {}
    if version >= 3:
        for _ in range(unpack("<I")):
            alias = string()
            aliases[alias] = string()
    return spec, variables, aliases


def _tensor(variables: dict[str, np.ndarray], name: str) -> Tensor:
    if name not in variables:
        raise CheckpointError(f"the CTranslate2 model has no variable {name!r}")
    array = variables[name]
    scale = variables.get(f"{name}_scale")
    if array.dtype == np.int8 or array.dtype == np.int16:
        if scale is None:
            raise CheckpointError(f"quantised variable {name!r} has no {name}_scale")
        out = array.astype(np.float32) / np.asarray(scale, np.float32).reshape(-1, *([1] * (array.ndim - 1)))
        return torch.from_numpy(out)
    return torch.from_numpy(np.array(array, dtype=np.float32))


def _count(variables: dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in variables:
        n += 1
    return n


def load_ct2_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor]]:
    """Config and state dict (our parameter names, float32) of a CTranslate2 Whisper folder."""
    folder = Path(folder)
    spec, v, aliases = read_model_bin(folder / "model.bin")
    if spec and spec != "WhisperSpec":
        raise CheckpointError(f"{folder / 'model.bin'} holds a {spec}, not a Whisper model (WhisperSpec)")
    for alias, target in aliases.items():
        if target in v:
            v.setdefault(alias, v[target])
    try:
        conv1 = v["encoder/conv1/weight"]
        n_state, n_mels = conv1.shape[0], conv1.shape[1]
        cfg = WhisperConfig(
            n_mels=n_mels,
            n_audio_ctx=v["encoder/position_encodings/encodings"].shape[0],
            n_audio_state=n_state,
            n_audio_head=int(v["encoder/num_heads"]) if "encoder/num_heads" in v else n_state // 64,
            n_audio_layer=_count(v, "encoder"),
            n_vocab=v["decoder/embeddings/weight"].shape[0],
            n_text_ctx=v["decoder/position_encodings/encodings"].shape[0],
            n_text_state=v["decoder/embeddings/weight"].shape[1],
            n_text_head=int(v["decoder/num_heads"]) if "decoder/num_heads" in v else n_state // 64,
            n_text_layer=_count(v, "decoder"),
            name=folder.name,
        )
    except KeyError as exc:
        raise CheckpointError(f"{folder / 'model.bin'} is not a Whisper model: it lacks {exc.args[0]}") from exc

    meta_path = folder / "config.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise CheckpointError(f"{meta_path} is not valid JSON: {exc}") from exc
        cfg.alignment_heads = [tuple(h) for h in meta.get("alignment_heads") or []]
        cfg.suppress_tokens = list(meta.get("suppress_ids") or [])
        cfg.begin_suppress_tokens = list(meta.get("suppress_ids_begin") or [])

    sd: dict[str, Tensor] = {}
    t = lambda name: _tensor(v, name)  # noqa: E731
    d = cfg.n_audio_state
    for key in ("conv1", "conv2"):
        sd[f"encoder.{key}.weight"] = t(f"encoder/{key}/weight")
        sd[f"encoder.{key}.bias"] = t(f"encoder/{key}/bias")
    sd["encoder.ln_post.weight"] = t("encoder/layer_norm/gamma")
    sd["encoder.ln_post.bias"] = t("encoder/layer_norm/beta")
    for i in range(cfg.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _fused_qkv(sd, t, f"{src}/self_attention", f"{dst}.attn", d)
        _norm_mlp(sd, t, src, dst, f"{src}/self_attention/layer_norm", "attn_ln")

    d = cfg.n_text_state
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    sd["decoder.ln.weight"] = t("decoder/layer_norm/gamma")
    sd["decoder.ln.bias"] = t("decoder/layer_norm/beta")
    for i in range(cfg.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _fused_qkv(sd, t, f"{src}/self_attention", f"{dst}.attn", d)
        _norm_mlp(sd, t, src, dst, f"{src}/self_attention/layer_norm", "attn_ln")
        cross = f"{src}/attention"
        sd[f"{dst}.cross_attn.query.weight"] = t(f"{cross}/linear_0/weight")
        sd[f"{dst}.cross_attn.query.bias"] = t(f"{cross}/linear_0/bias")
        kv_w, kv_b = t(f"{cross}/linear_1/weight"), t(f"{cross}/linear_1/bias")
        sd[f"{dst}.cross_attn.key.weight"], sd[f"{dst}.cross_attn.value.weight"] = kv_w[:d], kv_w[d:]
        sd[f"{dst}.cross_attn.value.bias"] = kv_b[d:]
        sd[f"{dst}.cross_attn.out.weight"] = t(f"{cross}/linear_2/weight")
        sd[f"{dst}.cross_attn.out.bias"] = t(f"{cross}/linear_2/bias")
        sd[f"{dst}.cross_attn_ln.weight"] = t(f"{cross}/layer_norm/gamma")
        sd[f"{dst}.cross_attn_ln.bias"] = t(f"{cross}/layer_norm/beta")
    return cfg, sd


def _fused_qkv(sd, t, src: str, dst: str, d: int) -> None:
    w, b = t(f"{src}/linear_0/weight"), t(f"{src}/linear_0/bias")
    if w.shape[0] != 3 * d:
        raise CheckpointError(f"{src}/linear_0/weight has shape {tuple(w.shape)}; expected ({3 * d}, {d})")
    sd[f"{dst}.query.weight"], sd[f"{dst}.key.weight"], sd[f"{dst}.value.weight"] = w[:d], w[d:2 * d], w[2 * d:]
    sd[f"{dst}.query.bias"], sd[f"{dst}.value.bias"] = b[:d], b[2 * d:]
    sd[f"{dst}.out.weight"] = t(f"{src}/linear_1/weight")
    sd[f"{dst}.out.bias"] = t(f"{src}/linear_1/bias")


def _norm_mlp(sd, t, src: str, dst: str, attn_norm: str, attn_ln: str) -> None:
    sd[f"{dst}.{attn_ln}.weight"] = t(f"{attn_norm}/gamma")
    sd[f"{dst}.{attn_ln}.bias"] = t(f"{attn_norm}/beta")
    sd[f"{dst}.mlp_ln.weight"] = t(f"{src}/ffn/layer_norm/gamma")
    sd[f"{dst}.mlp_ln.bias"] = t(f"{src}/ffn/layer_norm/beta")
    sd[f"{dst}.mlp.0.weight"] = t(f"{src}/ffn/linear_0/weight")
    sd[f"{dst}.mlp.0.bias"] = t(f"{src}/ffn/linear_0/bias")
    sd[f"{dst}.mlp.2.weight"] = t(f"{src}/ffn/linear_1/weight")
    sd[f"{dst}.mlp.2.bias"] = t(f"{src}/ffn/linear_1/bias")
