"""Our Basic Pitch against onnxruntime on the published ``nmp.onnx`` (kept beside this test, the
original file from the basic-pitch 0.4.0 wheel), and the shipped safetensors: the same outputs
within 1e-4, window by window and over a whole recording stitched as Basic Pitch stitches it."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")

from engine.models.basic_pitch.inference import HOP_SAMPLES, OVERLAP_SAMPLES, predict, predict_blocks  # noqa: E402
from engine.models.basic_pitch.model import ASSET_DIR, WINDOW_SAMPLES, load_model  # noqa: E402

NMP_ONNX = Path(__file__).with_name("nmp.onnx")
NMP_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"
ONNX_OUTPUTS = {"StatefulPartitionedCall:0": "contour", "StatefulPartitionedCall:1": "note",
                "StatefulPartitionedCall:2": "onset"}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def session():
    assert hashlib.sha256(NMP_ONNX.read_bytes()).hexdigest() == NMP_SHA256
    return ort.InferenceSession(str(NMP_ONNX), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def model():
    return load_model()


def reference(session, windows: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime's outputs, one window at a time as Basic Pitch runs it: in a batch, a window of
    silence beside others came out up to 0.03 away from the same window alone (onnxruntime 1.x on
    CPU), while ours is the same alone and in a batch."""
    parts = []
    for window in windows:
        outputs = session.run(None, {session.get_inputs()[0].name: window[None, :, None]})
        parts.append({ONNX_OUTPUTS[o.name]: v for o, v in zip(session.get_outputs(), outputs)})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Chords of harmonic tones with decays, a glide, and a little noise, at 22050 Hz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 22050)
    t = np.arange(n) / 22050
    audio = 0.003 * rng.standard_normal(n)
    for start in np.arange(0, seconds, 0.4):
        for midi in rng.choice(np.arange(36, 96), size=3, replace=False):
            f0 = 440 * 2 ** ((midi - 69) / 12)
            on = t >= start
            env = np.where(on, np.exp(-(t - start) * 3), 0)
            for h in range(1, 6):
                if h * f0 < 11000:
                    audio += 0.08 / h * env * np.sin(2 * np.pi * h * f0 * (t - start))
    audio += 0.1 * np.sin(2 * np.pi * np.cumsum(np.linspace(200, 800, n)) / 22050)
    return audio.astype(np.float32)


def test_windows_match_onnxruntime(session, model):
    rng = np.random.default_rng(1)
    tune = music(WINDOW_SAMPLES / 22050 + 0.01, seed=2)[:WINDOW_SAMPLES]
    # (not a constant: its CQT is ~1e-6 of its level, whose log float32 rounding moves by 1e-3)
    windows = np.stack([tune, 0.001 * tune,  # loud and quiet: NormalizedLog scales both to [0, 1]
                        0.2 * rng.standard_normal(WINDOW_SAMPLES).astype(np.float32),  # noise
                        np.zeros(WINDOW_SAMPLES, np.float32)])  # silence: NormalizedLog's 0/0 case
    ref = reference(session, windows)
    with torch.inference_mode():
        ours = model(torch.from_numpy(windows))
    for name in ("note", "onset", "contour"):
        assert ours[name].shape == ref[name].shape
        diff = float(np.abs(ours[name].numpy() - ref[name]).max())
        assert diff < TOLERANCE, f"{name}: max abs diff {diff}"


def basic_pitch_stitched(session, audio: np.ndarray) -> dict[str, np.ndarray]:
    """basic_pitch.inference.run_inference, written out with onnxruntime as its model."""
    padded = np.concatenate([np.zeros(OVERLAP_SAMPLES // 2, np.float32), audio])
    parts = {"note": [], "onset": [], "contour": []}
    for i in range(0, padded.shape[0], HOP_SAMPLES):
        w = padded[i:i + WINDOW_SAMPLES]
        w = np.pad(w, (0, WINDOW_SAMPLES - len(w)))
        for k, v in reference(session, w[None]).items():
            parts[k].append(v)
    n_frames = int(np.floor(audio.shape[0] * (86 / 22050)))
    out = {}
    for k, v in parts.items():
        v = np.concatenate(v)[:, 15:-15]
        out[k] = v.reshape(-1, v.shape[2])[:n_frames]
    return out


@pytest.mark.parametrize("seconds", [0.3, 2.0, 7.33])
def test_recording_stitched_like_basic_pitch(session, model, seconds):
    audio = music(seconds, seed=3)
    ref = basic_pitch_stitched(session, audio)
    whole = predict(model, audio)
    streamed = predict_blocks(model, np.array_split(audio, 13), batch=2)  # blocks of any size
    for name in ("note", "onset", "contour"):
        assert whole[name].shape == ref[name].shape
        assert float(np.abs(whole[name] - ref[name]).max()) < TOLERANCE
        assert float(np.abs(streamed[name] - whole[name]).max()) < 1e-5


def test_shipped_weights_are_the_converted_onnx(tmp_path):
    pytest.importorskip("onnx")
    import importlib.util

    from safetensors.numpy import load_file

    script = Path(__file__).resolve().parents[3] / "scripts" / "convert_basic_pitch.py"
    spec = importlib.util.spec_from_file_location("convert_basic_pitch", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    convert = module.main

    assert convert([str(NMP_ONNX), "--out", str(tmp_path)]) == 0
    converted = load_file(str(tmp_path / "model.safetensors"))
    shipped = load_file(str(ASSET_DIR / "model.safetensors"))
    assert converted.keys() == shipped.keys()
    for name in converted:
        np.testing.assert_array_equal(converted[name], shipped[name])
