"""Read CTranslate2's model.bin (faster-whisper's and every CTranslate2 model's weights).

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
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.models.common.errors import CheckpointError, printable
from engine.models.common.files import regular_file

MAX_BINARY_VERSION = 6
DTYPE_NAMES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CTranslate2's DataType ids
_NUMPY = {"float32": np.float32, "int8": np.int8, "int16": np.int16, "int32": np.int32,
          "float16": np.float16, "bfloat16": np.uint16}  # bfloat16: raw bits, reinterpreted by torch
_ITEM_SIZES = {4: "float32", 2: "int16", 1: "int8"}  # binary versions 1 to 3
INT16_LEGACY_SCALE = 1000.0  # int16 models saved without a scale (CTranslate2's global_int16_scale)


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
    size = regular_file(path).st_size  # a FIFO named model.bin would block the memory map's open
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing") from exc
    except (OSError, ValueError) as exc:  # unreadable, or empty (mmap of 0 bytes)
        raise CheckpointError(f"cannot read {path} ({size} bytes): {exc}") from exc
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
            text = raw.split(b"\0", 1)[0].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"{path} is corrupt: {what} at byte {pos - len(raw)} is not text") from exc
        if not text.isprintable() or len(text) > 1024:  # names are echoed in messages: no terminal codes
            raise CheckpointError(f"{path} is corrupt: {what} at byte {pos - len(raw)} is not a name "
                                  f"({printable(text[:60])}{'...' if len(text) > 60 else ''})")
        return text

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


class Variables:
    """Named tensors of a model.bin: aliases resolved, quantised weights dequantised to float32."""

    def __init__(self, mb: ModelBin, model: str) -> None:
        self.mb = mb
        self.model = model  # what the file should hold, for messages: "Whisper model"
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
            raise CheckpointError(f"{self.mb.path} is not a complete {self.model}: it has no variable {name!r}")
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


def layer_count(mb: ModelBin, stack: str) -> int:
    """How many ``{stack}/layer_N/`` the file holds; CheckpointError when their numbers have gaps."""
    pattern = re.compile(rf"^{re.escape(stack)}/layer_(\d+)/")
    found = {int(m.group(1)) for name in mb.variables if (m := pattern.match(name))}
    n = max(found) + 1 if found else 0
    if found != set(range(n)):
        raise CheckpointError(f"{mb.path}: the {stack} layers are not numbered 0 to {n - 1} "
                              f"(missing {sorted(set(range(n)) - found)[:4]})")
    return n


def weight_dtype(mb: ModelBin) -> str:
    """CTranslate2's name for the stored compute type: float16, int8_float16, int8, ..."""
    weights = [dt for name, dt in mb.dtypes.items() if name.endswith("weight")]
    others = [dt for name, dt in mb.dtypes.items() if mb.variables[name].ndim > 0
              and not name.endswith(("weight", "_scale")) and dt in ("float32", "float16", "bfloat16")]
    weight = max(set(weights), key=weights.count) if weights else "float32"
    if weight in ("int8", "int16"):
        other = max(set(others), key=others.count) if others else "float32"
        return weight if other == "float32" else f"{weight}_{other}"
    return weight
