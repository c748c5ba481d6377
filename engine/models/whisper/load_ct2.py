"""Read CTranslate2 Whisper folders (faster-whisper's format): model.bin + config.json.

model.bin, as written by ``ctranslate2/specs/model_spec.py`` (``_serialize``) and read by
CTranslate2's ``Model::load``; little-endian throughout:

* uint32 binary version (1 to 6; 6 since CTranslate2 3.x);
* from version 2: the spec name (a string, ``WhisperSpec``) and a uint32 spec revision (3);
* uint32 number of variables, then for each: name (string), uint8 rank, rank x uint32 dims;
  from version 4 a uint8 dtype id (0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16)
  and a uint32 byte count; before version 4 a uint8 item size (4 float32, 2 int16, 1 int8) and
  a uint32 element count; then the raw bytes, C order;
* from version 3: uint32 number of aliases, then (alias, variable name) string pairs. An alias
  also stands for the target's ``_scale`` (CTranslate2 registers both).

A string is a uint16 length that counts a trailing NUL, then the UTF-8 bytes and the NUL.
Scalars (rank 0) hold attributes: ``encoder/num_heads`` and ``decoder/num_heads`` (int16),
activation, pre_norm, ... The vocabulary is a separate file (vocabulary.txt / .json).

Quantisation (``LayerSpec._quantize``): int8 weights come with ``<name>_scale``, float32, one per
output row (the first axis; conv kernels are flattened to 2-D for it): scale = 127 / max|row|,
q = rint(w * scale), so w = q / scale. int16 uses one scale per tensor (2^10 / max|w|; models
from before saved scales imply 1000). Under ``int8_float16`` the weights are int8 and everything
else float16.

Whisper in CTranslate2 (``specs/whisper_spec.py``, converter ``WhisperLoader``):

* ``encoder/conv{1,2}/{weight,bias}``, ``encoder/position_encodings/encodings`` (the sinusoids),
  ``encoder/layer_norm/{gamma,beta}``;
* ``{en,de}coder/layer_N/self_attention/linear_0``: q, k and v fused along the output axis
  (3d rows: q, then k, then v); Whisper's key projection has no bias, so the converter fills its
  third of the fused bias with zeros. (Dropping a key bias is exact anyway: it adds the same
  q.b to every score of a query, which the softmax ignores.) ``linear_1`` is the output;
* ``decoder/layer_N/attention`` (cross-attention): ``linear_0`` the query, ``linear_1`` k and v
  fused (2d rows), ``linear_2`` the output;
* ``.../layer_norm/{gamma,beta}`` before each attention, ``ffn/layer_norm``, ``ffn/linear_0``
  and ``ffn/linear_1`` the MLP;
* ``decoder/embeddings/weight``, ``decoder/position_encodings/encodings``,
  ``decoder/layer_norm``; ``decoder/projection/weight`` is an alias of the embeddings.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.errors import CheckpointError, first_few
from engine.models.whisper.skeleton import check_state_dict

MAX_BINARY_VERSION = 6
DTYPE_NAMES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CTranslate2's DataType ids
_NUMPY = {"float32": np.float32, "int8": np.int8, "int16": np.int16, "int32": np.int32,
          "float16": np.float16, "bfloat16": np.uint16}  # bfloat16: raw bits, reinterpreted by torch
_ITEM_SIZES = {4: "float32", 2: "int16", 1: "int8"}  # binary versions 1 to 3
INT16_LEGACY_SCALE = 1000.0  # int16 models saved without a scale (CTranslate2's global_int16_scale)
_LAYER_RE = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


@dataclass
class ModelBin:
    """The contents of a model.bin: arrays are views of the memory-mapped file."""

    path: Path
    version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)  # CTranslate2's dtype name of each variable
    aliases: dict[str, str] = field(default_factory=dict)


def read_model_bin(path: Path | str) -> ModelBin:
    """Parse a CTranslate2 model.bin without copying the weights (they stay memory-mapped)."""
    path = Path(path)
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing") from exc
    except (OSError, ValueError) as exc:  # unreadable, or empty (mmap of 0 bytes)
        raise CheckpointError(f"cannot read {path} ({path.stat().st_size if path.exists() else 0} bytes): "
                              f"{exc}") from exc
    size = len(data)
    pos = 0

    def take(n: int, what: str) -> np.ndarray:
        nonlocal pos
        if pos + n > size:
            raise CheckpointError(f"{path} is truncated or corrupt: reading {what} needs bytes {pos} to {pos + n}, "
                                  f"but the file has {size} bytes")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def unpack(fmt: str, what: str):
        return struct.unpack("<" + fmt, take(struct.calcsize(fmt), what).tobytes())[0]

    def string(what: str) -> str:
        raw = take(unpack("H", what), what).tobytes()
        try:
            return raw.split(b"\0", 1)[0].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"{path} is corrupt: {what} at byte {pos - len(raw)} is not text") from exc

    version = unpack("I", "the binary version")
    if version > 1000 or version == 0:
        raise CheckpointError(f"{path} is not a CTranslate2 model.bin (it starts with {version:#010x}, "
                              f"expected a binary version from 1 to {MAX_BINARY_VERSION})")
    if version > MAX_BINARY_VERSION:
        raise CheckpointError(f"{path} was written by a newer CTranslate2 (binary version {version}); "
                              f"this reader knows versions 1 to {MAX_BINARY_VERSION}")
    spec, revision = "", 1
    if version >= 2:
        spec = string("the spec name")
        revision = unpack("I", "the spec revision")
    out = ModelBin(path, version, spec, revision)
    for index in range(unpack("I", "the number of variables")):
        name = string(f"the name of variable {index}")
        rank = unpack("B", f"the rank of {name}")
        shape = tuple(unpack("I", f"the shape of {name}") for _ in range(rank))
        if version >= 4:
            type_id = unpack("B", f"the dtype of {name}")
            if type_id >= len(DTYPE_NAMES):
                raise CheckpointError(f"{path} is corrupt: {name} has dtype id {type_id}, expected 0 to "
                                      f"{len(DTYPE_NAMES) - 1} ({', '.join(DTYPE_NAMES)})")
            dtype = DTYPE_NAMES[type_id]
            nbytes = unpack("I", f"the byte count of {name}")
        else:
            item_size = unpack("B", f"the item size of {name}")
            if item_size not in _ITEM_SIZES:
                raise CheckpointError(f"{path} is corrupt: {name} has item size {item_size}, expected 1, 2 or 4")
            dtype = _ITEM_SIZES[item_size]
            nbytes = unpack("I", f"the size of {name}") * item_size
        item = np.dtype(_NUMPY[dtype]).itemsize
        if nbytes != int(np.prod(shape, dtype=np.int64)) * item:
            raise CheckpointError(f"{path} is corrupt: {name} has shape {shape} of {dtype} "
                                  f"({int(np.prod(shape, dtype=np.int64)) * item} bytes) but claims {nbytes} bytes")
        raw = take(nbytes, f"the values of {name}")
        out.variables[name] = raw.view(_NUMPY[dtype]).reshape(shape)
        out.dtypes[name] = dtype
    if version >= 3:
        for _ in range(unpack("I", "the number of aliases")):
            alias = string("an alias")
            out.aliases[alias] = string(f"the target of alias {alias}")
    if pos != size:
        raise CheckpointError(f"{path} is corrupt: {size - pos} bytes follow the end of the model")
    return out


def _to_tensor(array: np.ndarray, dtype: str) -> Tensor:
    """A copy in memory (the file may change later), in the stored floating dtype."""
    t = torch.from_numpy(np.array(array))
    return t.view(torch.bfloat16) if dtype == "bfloat16" else t


class _Variables:
    """Named tensors of a model.bin: aliases resolved, quantised weights dequantised to float32."""

    def __init__(self, mb: ModelBin) -> None:
        self.mb = mb
        self.used: set[str] = set()

    def resolve(self, name: str) -> str:
        if name in self.mb.variables:
            return name
        if name in self.mb.aliases:
            return self.mb.aliases[name]
        if name.endswith("_scale") and name.removesuffix("_scale") in self.mb.aliases:
            return self.mb.aliases[name.removesuffix("_scale")] + "_scale"
        return name

    def has(self, name: str) -> bool:
        return self.resolve(name) in self.mb.variables

    def array(self, name: str) -> np.ndarray:
        real = self.resolve(name)
        if real not in self.mb.variables:
            raise CheckpointError(f"{self.mb.path} is not a complete Whisper model: it has no variable {name!r}")
        self.used.add(real)
        return self.mb.variables[real]

    def scalar(self, name: str) -> int | None:
        if not self.has(name):
            return None
        array = self.array(name)
        if array.size != 1 or array.dtype.kind not in "iu":
            raise CheckpointError(f"{self.mb.path} is corrupt: {name} should be one whole number, found "
                                  f"{array.dtype} of shape {array.shape}")
        return int(array.reshape(()))

    def __call__(self, name: str) -> Tensor:
        array = self.array(name)
        dtype = self.mb.dtypes[self.resolve(name)]
        if dtype in ("float32", "float16", "bfloat16"):
            return _to_tensor(array, dtype)
        if dtype not in ("int8", "int16"):
            raise CheckpointError(f"{self.mb.path}: {name} is {dtype}, expected a float or quantised weight")
        if self.has(f"{name}_zero"):
            raise CheckpointError(f"{self.mb.path}: {name} is quantised with zero points (AWQ), which is not "
                                  f"supported; expected CTranslate2's own int8/int16 quantisation")
        if self.has(f"{name}_scale"):
            scale = torch.from_numpy(np.asarray(self.array(f"{name}_scale"), dtype=np.float32).copy())
        elif dtype == "int16":
            scale = torch.tensor(INT16_LEGACY_SCALE)
        else:
            raise CheckpointError(f"{self.mb.path}: the int8 weight {name} has no {name}_scale")
        q = torch.from_numpy(np.asarray(array, dtype=np.float32))
        if scale.numel() == 1:
            return q / scale.reshape(())
        if scale.numel() != q.shape[0]:
            raise CheckpointError(f"{self.mb.path}: {name}_scale has {scale.numel()} values for {q.shape[0]} rows")
        return q / scale.reshape(-1, *([1] * (q.ndim - 1)))


def _layer_count(mb: ModelBin, stack: str) -> int:
    found = {int(m.group(2)) for name in mb.variables if (m := _LAYER_RE.match(name)) and m.group(1) == stack}
    n = max(found) + 1 if found else 0
    if found != set(range(n)):
        raise CheckpointError(f"{mb.path}: the {stack} layers are not numbered 0 to {n - 1} "
                              f"(missing {sorted(set(range(n)) - found)[:4]})")
    return n


def _weight_dtype(mb: ModelBin) -> str:
    """CTranslate2's name for the stored compute type: float16, int8_float16, int8, ..."""
    weights = [dt for name, dt in mb.dtypes.items() if name.endswith("weight")]
    others = [dt for name, dt in mb.dtypes.items() if mb.variables[name].ndim > 0
              and not name.endswith(("weight", "_scale")) and dt in ("float32", "float16", "bfloat16")]
    weight = max(set(weights), key=weights.count) if weights else "float32"
    if weight in ("int8", "int16"):
        other = max(set(others), key=others.count) if others else "float32"
        return weight if other == "float32" else f"{weight}_{other}"
    return weight


_CT2_NAMES = {  # our config field -> where a model.bin holds it
    "n_mels": "encoder/conv1/weight's second dimension", "n_audio_ctx": "encoder/position_encodings/encodings' length",
    "n_audio_state": "d_model", "n_audio_head": "encoder/num_heads", "n_audio_layer": "the number of encoder layers",
    "n_vocab": "the vocabulary", "n_text_ctx": "decoder/position_encodings/encodings' length",
    "n_text_state": "the decoder's d_model", "n_text_head": "decoder/num_heads",
    "n_text_layer": "the number of decoder layers",
}


def _config(folder: Path, mb: ModelBin, v: _Variables) -> WhisperConfig:
    path = mb.path
    required = ("encoder/conv1/weight", "encoder/position_encodings/encodings", "decoder/embeddings/weight",
                "decoder/position_encodings/encodings")
    missing = [n for n in required if not v.has(n)]
    if missing:
        raise CheckpointError(f"{path} is not a Whisper model: it lacks {first_few(missing)}")
    conv1 = v.array("encoder/conv1/weight")
    if conv1.ndim != 3 or conv1.shape[2] != 3:
        raise CheckpointError(f"{path}: encoder/conv1/weight is {conv1.shape}, expected (d_model, n_mels, 3)")
    n_state, n_mels = conv1.shape[0], conv1.shape[1]
    emb = v.array("decoder/embeddings/weight")
    enc_heads = v.scalar("encoder/num_heads") or max(n_state // 64, 1)  # before num_heads was stored: 64 per head
    dec_heads = v.scalar("decoder/num_heads") or max(emb.shape[1] // 64, 1)
    cfg = WhisperConfig(
        n_mels=n_mels, n_audio_ctx=v.array("encoder/position_encodings/encodings").shape[0],
        n_audio_state=n_state, n_audio_head=enc_heads, n_audio_layer=_layer_count(mb, "encoder"),
        n_vocab=emb.shape[0], n_text_ctx=v.array("decoder/position_encodings/encodings").shape[0],
        n_text_state=emb.shape[1], n_text_head=dec_heads, n_text_layer=_layer_count(mb, "decoder"),
        name=folder.name,
    )
    problems = cfg.problems(_CT2_NAMES)
    if problems:  # shapes are bounded by the file's size, but head counts are just numbers in it
        raise CheckpointError(f"{path} is not a standard Whisper model: {'; '.join(problems)}")
    if cfg.n_text_state != cfg.n_audio_state:
        raise CheckpointError(f"{path}: the decoder's width {cfg.n_text_state} differs from the encoder's "
                              f"{cfg.n_audio_state}; Whisper uses one d_model")
    # attributes a Whisper model has; anything else is another architecture in a WhisperSpec
    expect = {"decoder/scale_embeddings": 0, "decoder/pre_norm": 1, "decoder/alibi": 0}
    odd = [f"{k} = {v.scalar(k)} (expected {e})" for k, e in expect.items() if v.has(k) and v.scalar(k) != e]
    if odd:
        raise CheckpointError(f"{path} is not a standard Whisper model: {'; '.join(odd)}")

    meta_path = folder / "config.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            cfg.alignment_heads = [(int(layer), int(head)) for layer, head in meta.get("alignment_heads") or []]
            cfg.suppress_tokens = [int(t) for t in meta.get("suppress_ids") or []]
            cfg.begin_suppress_tokens = [int(t) for t in meta.get("suppress_ids_begin") or []]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{meta_path} is not a CTranslate2 Whisper config (alignment_heads as "
                                  f"[layer, head] pairs, suppress_ids, suppress_ids_begin): {exc}") from exc
        bad = [(layer, head) for layer, head in cfg.alignment_heads
               if not (0 <= layer < cfg.n_text_layer and 0 <= head < cfg.n_text_head)]
        if bad:
            raise CheckpointError(f"{meta_path}: alignment heads {bad[:4]} lie outside the decoder's "
                                  f"{cfg.n_text_layer} layers x {cfg.n_text_head} heads")
    return cfg


def _split(t: Tensor, parts: int, d: int, name: str, path: Path) -> list[Tensor]:
    if t.shape[0] != parts * d:
        raise CheckpointError(f"{path}: {name} has {t.shape[0]} rows, expected {parts} x d_model = {parts * d}")
    return list(t.split(d))


def read_ct2_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor], str]:
    """Config, state dict (our names; float dtypes as stored, quantised weights dequantised to
    float32) and the stored weight dtype of a CTranslate2 Whisper folder."""
    folder = Path(folder)
    mb = read_model_bin(folder / "model.bin")
    if mb.spec and mb.spec != "WhisperSpec":
        raise CheckpointError(f"{mb.path} holds a CTranslate2 {mb.spec}, not a Whisper model (expected WhisperSpec)")
    v = _Variables(mb)
    cfg = _config(folder, mb, v)
    path = mb.path
    d = cfg.n_audio_state
    sd: dict[str, Tensor] = {}

    def linear(src: str, dst: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = v(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = v(f"{src}/bias")

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v(f"{src}/gamma"), v(f"{src}/beta")

    def self_attention(src: str, dst: str) -> None:
        q, k, val = _split(v(f"{src}/linear_0/weight"), 3, d, f"{src}/linear_0/weight", path)
        qb, _kb, vb = _split(v(f"{src}/linear_0/bias"), 3, d, f"{src}/linear_0/bias", path)
        sd[f"{dst}.query.weight"], sd[f"{dst}.key.weight"], sd[f"{dst}.value.weight"] = q, k, val
        sd[f"{dst}.query.bias"], sd[f"{dst}.value.bias"] = qb, vb
        linear(f"{src}/linear_1", f"{dst}.out")

    def block(src: str, dst: str) -> None:
        self_attention(f"{src}/self_attention", f"{dst}.attn")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")

    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    norm("encoder/layer_norm", "encoder.ln_post")
    positions = v.array("encoder/position_encodings/encodings")
    if positions.shape != (cfg.n_audio_ctx, d):
        raise CheckpointError(f"{path}: encoder/position_encodings/encodings is {positions.shape}, "
                              f"expected ({cfg.n_audio_ctx}, {d})")
    for i in range(cfg.n_audio_layer):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}")

    sd["decoder.token_embedding.weight"] = v("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = v("decoder/position_encodings/encodings")
    norm("decoder/layer_norm", "decoder.ln")
    for i in range(cfg.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        block(src, dst)
        cross = f"{src}/attention"
        linear(f"{cross}/linear_0", f"{dst}.cross_attn.query")
        k, val = _split(v(f"{cross}/linear_1/weight"), 2, d, f"{cross}/linear_1/weight", path)
        _kb, vb = _split(v(f"{cross}/linear_1/bias"), 2, d, f"{cross}/linear_1/bias", path)
        sd[f"{dst}.cross_attn.key.weight"], sd[f"{dst}.cross_attn.value.weight"] = k, val
        sd[f"{dst}.cross_attn.value.bias"] = vb
        linear(f"{cross}/linear_2", f"{dst}.cross_attn.out")
        norm(f"{cross}/layer_norm", f"{dst}.cross_attn_ln")

    # the output projection is tied to the embeddings (an alias); a separate copy must equal them
    if "decoder/projection/weight" in mb.variables and not torch.equal(
            v("decoder/projection/weight"), sd["decoder.token_embedding.weight"]):
        raise CheckpointError(f"{path}: decoder/projection/weight differs from decoder/embeddings/weight; "
                                  f"Whisper ties them")
    v.used.add(v.resolve("decoder/projection/weight"))
    left = sorted(n for n, a in mb.variables.items() if a.ndim > 0 and n not in v.used)
    if left:
        raise CheckpointError(f"{path} holds {len(left)} tensors that are not part of a Whisper model: "
                              f"{first_few(left)}")
    check_state_dict(cfg, sd, str(path))
    return cfg, sd, _weight_dtype(mb)


def load_ct2_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor]]:
    """Config and state dict (our parameter names) of a CTranslate2 Whisper folder."""
    cfg, sd, _ = read_ct2_checkpoint(folder)
    return cfg, sd
