"""Convert SwiftF0's ONNX model (the MIT ``swift-f0`` wheel) to the safetensors Motet ships.

    python scripts/convert_swift_f0.py WHEEL_OR_ONNX [--out assets/swift-f0]

WHEEL_OR_ONNX: the wheel (``swift_f0-0.3.0-py3-none-any.whl``, from
``python3 -m pip download swift-f0 --no-deps``) or its ``swift_f0/model.onnx``. Needs the
``onnx`` package (a dev dependency). Writes into ``--out``: ``model.safetensors`` (our names, see
engine/models/swift_f0/model.py), ``LICENSE`` (the wheel's own, when a wheel is given) and the
card ``README.md`` naming the source and its sha256. Every tensor is taken from the graph by its
role (the n-th convolution, the window a frame is multiplied by, the filterbank scattered into a
matrix) and each convolution's attributes are checked against our layers, so a different graph
is refused instead of converted wrong. The ONNX file itself is not shipped; the tests keep a copy
(tests/models/swift_f0/swift_f0.onnx) for the parity test.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.atomic import write_bytes, write_text  # noqa: E402
from engine.models.swift_f0.model import BLOCKS, N_BANDS, N_BINS, N_FFTS  # noqa: E402

ONNX_IN_WHEEL = "swift_f0/model.onnx"


def _conv_names() -> list[tuple[str, tuple[int, ...], dict]]:
    """Our convolutions in the graph's order: (name, weight shape, ONNX attributes expected)."""
    out = [("stem", (12, 3, 3, 3), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "dilations": [1, 1]})]
    for i, (kb, kt, d) in enumerate(BLOCKS):
        pb, pt = d * (kb - 1) // 2, (kt - 1) // 2
        attrs = {"kernel_shape": [kb, kt], "pads": [pb, pt, pb, pt], "dilations": [d, 1]}
        out += [(f"blocks.{i}.conv1", (12, 12, kb, kt), attrs), (f"blocks.{i}.conv2", (12, 12, kb, kt), attrs)]
    out += [
        ("head", (4, 12, 3, 3), {"kernel_shape": [3, 3], "pads": [1, 1, 0, 1], "dilations": [1, 1]}),
        ("refine", (4, 4, 5, 1), {"kernel_shape": [5, 1], "pads": [2, 0, 2, 0], "dilations": [1, 1]}),
        ("logits", (1, 4, 1, 1), {"kernel_shape": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1]}),
        ("voicing", (16, 5, 3), {"kernel_shape": [3], "pads": [1, 1], "dilations": [1]}),
        ("voicing_out", (1, 16, 1), {"kernel_shape": [1], "pads": [0, 0], "dilations": [1]}),
    ]
    return out


def read_onnx(source: Path) -> tuple[bytes, str, str | None]:
    """(the ONNX bytes, where they came from, the wheel's LICENSE text or None)."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            onnx_bytes = wheel.read(ONNX_IN_WHEEL)
            licences = [n for n in wheel.namelist() if n.endswith("licenses/LICENSE")]
            licence = wheel.read(licences[0]).decode("utf-8") if licences else None
        return onnx_bytes, f"{source.name}:{ONNX_IN_WHEEL}", licence
    return source.read_bytes(), source.name, None


def convert(onnx_bytes: bytes) -> dict[str, np.ndarray]:
    """Our state dict (float32 arrays) from SwiftF0's ONNX graph."""
    import onnx
    from onnx import helper, numpy_helper

    graph = onnx.load_model(io.BytesIO(onnx_bytes)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = list(graph.node)
    out: dict[str, np.ndarray] = {}

    convs = [n for n in nodes if n.op_type == "Conv"]
    expected = _conv_names()
    if len(convs) != len(expected):
        raise SystemExit(f"expected {len(expected)} convolutions, the graph has {len(convs)}")
    for node, (name, shape, attrs) in zip(convs, expected):
        found = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        for key, value in attrs.items():
            if list(found.get(key, [])) != value:
                raise SystemExit(f"{name}: the graph's {key} is {found.get(key)}, ours {value}")
        if found.get("group", 1) != 1 or list(found.get("strides", [1] * len(attrs["kernel_shape"]))) != [1] * len(
                attrs["kernel_shape"]):
            raise SystemExit(f"{name}: groups or strides differ from ours")
        weight, bias = init[node.input[1]], init[node.input[2]]
        if weight.shape != shape or bias.shape != (shape[0],):
            raise SystemExit(f"{name}: the graph's weight is {weight.shape}, ours {shape}")
        out[f"{name}.weight"], out[f"{name}.bias"] = weight, bias

    # windows: the (n_fft,) constant each frame is multiplied by
    for node in nodes:
        if node.op_type == "Mul" and node.input[1] in init and init[node.input[1]].shape in [(n,) for n in N_FFTS]:
            window = init[node.input[1]]
            out[f"frontend.window_{window.shape[0]}"] = window
    # filterbanks: values scattered into a zero (bins * 128) vector, reshaped to (bins, 128)
    for node in nodes:
        if node.op_type == "ScatterElements":
            index, values = init[node.input[1]].astype(np.int64), init[node.input[2]]
            size = next(int(init[n.input[0]][0]) for n in nodes if n.output[0] == node.input[0])
            bins = size // N_BANDS
            if bins - 1 not in [n // 2 for n in N_FFTS] or len(np.unique(index)) != len(index):
                raise SystemExit(f"unexpected filterbank of {size} entries")
            dense = np.zeros(size, np.float32)
            dense[index] = values
            out[f"frontend.filters_{(bins - 1) * 2}"] = dense.reshape(bins, N_BANDS)
    # pitch bands: compared with fmin; their log (float64) must be what our model computes
    bands = next(init[n.input[0]] for n in nodes if n.op_type == "GreaterOrEqual" and n.input[1] == "fmin")
    logs = [a for a in init.values() if a.dtype == np.float64 and a.shape == (N_BINS,)]
    if bands.shape != (N_BINS,) or len(logs) != 1 or not np.array_equal(logs[0], np.log(bands.astype(np.float64))):
        raise SystemExit("the pitch bands or their log frequencies are not what our model computes")
    out["bin_hz"] = bands.astype(np.float32)

    missing = [f"frontend.{kind}_{n}" for n in N_FFTS for kind in ("window", "filters")
               if f"frontend.{kind}_{n}" not in out]
    if missing:
        raise SystemExit(f"not found in the graph: {', '.join(missing)}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


CARD = """# SwiftF0 (monophonic pitch), converted for Motet

SwiftF0 by Lars Nieradzik: a small convolutional network (about 19 k learned weights) that gives the
fundamental frequency (46.875-2093.75 Hz) and a voicing confidence of one voice or instrument for
every 16 ms of 16 kHz audio. Motet uses it for `motet notes --mono` and for live notes
(engine/models/swift_f0, engine/notes/mono.py). Licence: MIT, the authors' text in `LICENSE`.

- Source: the `swift-f0` {version} wheel from PyPI (`{wheel}`), file
  `{member}` ({onnx_size} bytes, sha256 `{onnx_sha}`).
- Converted by `scripts/convert_swift_f0.py`: the ONNX graph read with the `onnx` package,
  each tensor taken by its role and its layer's attributes checked against ours; the sparse
  filterbanks (scattered into zeros in the graph) stored dense; the pitch bands' float64 log
  frequencies recomputed by our model from `bin_hz` (checked equal at conversion). Float32,
  nothing retrained or changed.
- `model.safetensors`: {st_size} bytes, sha256 `{st_sha}`,
  {n_tensors} tensors, {n_params} values (most of them the three fixed filterbanks; {n_learned} learned
  weights).
- Checked: tests/models/swift_f0/test_swift_f0_parity.py runs onnxruntime on the original ONNX
  (kept in the tests) and our PyTorch model on the same audio: confidence within 1e-4, pitch within
  1e-4 in log frequency (measured: about 2e-6 of the pitch, at most 5e-4 Hz; float32 rounding).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the swift-f0 wheel or its model.onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "swift-f0")
    args = parser.parse_args(argv)
    from safetensors.numpy import save

    onnx_bytes, where, licence = read_onnx(args.source)
    tensors = convert(onnx_bytes)
    blob = save(dict(sorted(tensors.items())))
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes(args.out / "model.safetensors", blob)
    if licence is not None:
        write_text(args.out / "LICENSE", licence)
    wheel, _, member = where.partition(":")
    version = wheel.split("-")[1] if wheel.endswith(".whl") else "(unknown)"
    write_text(args.out / "README.md", CARD.format(
        version=version, wheel=wheel, member=member or wheel, onnx_size=len(onnx_bytes),
        onnx_sha=hashlib.sha256(onnx_bytes).hexdigest(), st_size=len(blob), st_sha=hashlib.sha256(blob).hexdigest(),
        n_tensors=len(tensors), n_params=sum(v.size for v in tensors.values()),
        n_learned=sum(v.size for k, v in tensors.items() if not k.startswith("frontend.") and k != "bin_hz")))
    print(f"{args.out / 'model.safetensors'}: {len(tensors)} tensors, {len(blob)} bytes from {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
