"""Basic Pitch's weights file: a missing, damaged or mismatched model.safetensors is one clear
line (a CheckpointError naming the file), never a traceback from deep inside torch."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from engine.models.basic_pitch.model import ASSET_DIR, WEIGHT_SHAPES, load_model
from engine.models.common.errors import CheckpointError

SHIPPED = ASSET_DIR / "model.safetensors"


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 600
    return text


def test_shipped_file_loads_with_every_weight():
    model = load_model()
    assert {name: tuple(t.shape) for name, t in model.state_dict().items()} == WEIGHT_SHAPES
    assert all(t.dtype.is_floating_point and not t.is_meta for t in model.state_dict().values())
    assert not model.training


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "model.safetensors")
    assert "is missing" in one_line(exc)


def test_folder_in_place_of_the_file(tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "model.safetensors")
    assert "not a regular file" in one_line(exc)


@pytest.mark.parametrize("keep", [0, 7, 100, 5000])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "model.safetensors"
    path.write_bytes(SHIPPED.read_bytes()[:keep])
    with pytest.raises(CheckpointError) as exc:
        load_model(path)
    assert "damaged or truncated" in one_line(exc)


def test_garbage_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\xff" * 4096)
    with pytest.raises(CheckpointError) as exc:
        load_model(path)
    assert str(path) in one_line(exc)


def shipped_tensors() -> dict[str, np.ndarray]:
    return dict(load_file(str(SHIPPED)))


def test_missing_tensor(tmp_path):
    tensors = shipped_tensors()
    del tensors["note2.weight"]
    save_file(tensors, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "m.safetensors")
    assert "missing 1 tensors: note2.weight" in one_line(exc)


def test_wrong_shape_and_extra_tensor(tmp_path):
    tensors = shipped_tensors()
    tensors["onset2.weight"] = np.zeros((1, 32, 3, 3), np.float32)
    tensors["head.extra"] = np.zeros(3, np.float32)
    save_file(tensors, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "m.safetensors")
    text = one_line(exc)
    assert "onset2.weight is (1, 32, 3, 3), expected (1, 33, 3, 3)" in text and "head.extra" in text


def test_non_finite_weight(tmp_path):
    tensors = shipped_tensors()
    tensors["contour1.weight"] = tensors["contour1.weight"].copy()
    tensors["contour1.weight"][0, 0, 0, 0] = np.nan
    save_file(tensors, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "m.safetensors")
    assert "contour1.weight" in one_line(exc) and "damaged" in str(exc.value)


def test_integer_tensor(tmp_path):
    tensors = shipped_tensors()
    tensors["cqt.norm"] = np.zeros(309, np.int32)
    save_file(tensors, str(tmp_path / "m.safetensors"))
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "m.safetensors")
    assert "cqt.norm" in one_line(exc)
