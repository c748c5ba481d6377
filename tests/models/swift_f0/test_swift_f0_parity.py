"""SwiftF0 in PyTorch against onnxruntime on the original ONNX (kept beside this test, from the
swift-f0 0.3.0 wheel), on the same audio: confidence within 1e-4, and pitch within 1e-4 in
log-frequency (0.17 cent), the unit the network decodes in (a softmax-weighted mean of its bands'
log frequencies). In Hz the two differ by up to about 5e-4 Hz near 200-2000 Hz (2e-6 of the
pitch): float32 rounding, which two float32 DFTs of the same frame cannot avoid where a band's
magnitude is a near-cancellation (the lowest band of a zero-mean tone). And the shipped weights'
file problems as one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.models.common.errors import CheckpointError
from engine.models.swift_f0.loading import WEIGHTS, load_model
from engine.models.swift_f0.model import FMAX, FMIN, frame_count
from engine.models.swift_f0.pitch import track_pitch

ONNX = Path(__file__).with_name("swift_f0.onnx")
SR = 16000


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def session():
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])


def _voice(seconds: float, seed: int) -> np.ndarray:
    """A harmonic tone gliding and wobbling (vibrato) over two octaves, a gap of silence, a
    stretch of quiet noise: pitched, unvoiced and digital-silence frames in one input."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 110 * 2 ** (2 * t / seconds + 0.04 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 10)) * 0.3
    x[n // 3:n // 3 + SR // 4] = 0.0
    x[2 * n // 3:2 * n // 3 + SR // 4] = 0.003 * rng.standard_normal(SR // 4)
    return (x + 0.002 * rng.standard_normal(n)).astype(np.float32)


def _onnx(session, audio: np.ndarray, fmin: float = FMIN, fmax: float = FMAX):
    pitch, confidence = session.run(["pitch", "confidence"], {
        "audio": audio[None], "fmin": np.asarray(fmin, np.float32), "fmax": np.asarray(fmax, np.float32)})
    return pitch[0], confidence[0]


def _ours(model, audio: np.ndarray, fmin: float = FMIN, fmax: float = FMAX):
    with torch.inference_mode():
        pitch, confidence = model(torch.from_numpy(audio)[None], fmin, fmax)
    return pitch[0].numpy(), confidence[0].numpy()


def _assert_pitch_close(ours: np.ndarray, reference: np.ndarray) -> None:
    np.testing.assert_allclose(np.log(ours), np.log(reference), rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=0)  # the same bound, said in Hz


def test_the_kept_onnx_is_the_wheels():
    card = (WEIGHTS.parent / "README.md").read_text()
    assert hashlib.sha256(ONNX.read_bytes()).hexdigest() in card


@pytest.mark.parametrize("samples", [1, 200, 256, 1000, 4 * SR + 77])
@pytest.mark.parametrize("band", [(FMIN, FMAX), (80.0, 400.0)])
def test_outputs_match_onnxruntime(model, session, samples, band):
    audio = _voice(max(samples, 2 * SR) / SR, seed=samples)[:samples]
    p0, c0 = _onnx(session, audio, *band)
    p1, c1 = _ours(model, audio, *band)
    assert p1.shape == p0.shape == (frame_count(samples),)
    assert p1.dtype == np.float64  # the graph decodes pitch in float64 too
    _assert_pitch_close(p1, p0)
    np.testing.assert_allclose(c1, c0, rtol=0, atol=1e-4)
    if samples > SR:  # the material is what it should be: voiced frames on the glide, others not
        assert (c0 > 0.9).mean() > 0.5 and (c0 < 0.1).sum() >= 10


def test_windows_give_the_whole_files_result(model, session):
    """track_pitch runs long audio in windows with context; the frames match one ONNX run."""
    audio = _voice(6.0, seed=3)
    p0, c0 = _onnx(session, audio)
    track = track_pitch(model, audio, window_frames=64)  # many window edges
    voiced = np.abs(audio[: len(c0) * 256].reshape(len(c0), 256)).max(axis=1) >= 1e-3
    _assert_pitch_close(track.hz, p0)
    np.testing.assert_allclose(track.confidence[voiced], c0[voiced], rtol=0, atol=1e-4)
    assert (track.confidence[~voiced] == 0).all()  # digital silence gated as the package does
    assert len(track.times) == len(p0) and track.times[1] == pytest.approx(0.016)


def test_missing_weights_are_one_line(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        load_model(tmp_path / "model.safetensors")
    assert str(exc.value) == f"{tmp_path / 'model.safetensors'} is missing"


def test_damaged_weights_are_one_line(tmp_path):
    damaged = tmp_path / "model.safetensors"
    damaged.write_bytes(WEIGHTS.read_bytes()[:5000])
    with pytest.raises(CheckpointError) as exc:
        load_model(damaged)
    assert "\n" not in str(exc.value) and "damaged or truncated" in str(exc.value) and str(damaged) in str(exc.value)


def test_foreign_weights_are_one_line(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "model.safetensors"
    save_file({"stem.weight": torch.zeros(12, 3, 3, 3)}, str(foreign))
    with pytest.raises(CheckpointError) as exc:
        load_model(foreign)
    assert "\n" not in str(exc.value) and "does not fit SwiftF0" in str(exc.value) and "missing" in str(exc.value)
