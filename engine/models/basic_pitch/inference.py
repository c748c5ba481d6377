"""A whole recording through Basic Pitch, as its own inference does it (``basic_pitch/inference.py``):
half an overlap of zeros before the audio, windows of 43844 samples every 36164 (30 frames of
overlap), the last one zero-padded; each window's 172 frames cut by 15 at both ends and the rest
joined, then cut to the recording's length (86 frames a second).

The audio arrives in blocks (``predict_blocks``), so a long file is never held whole: only one
window batch of audio and the outputs (88 + 88 floats a frame; the contour's 264 only when asked
for) stay in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from engine.models.basic_pitch.model import (
    FFT_HOP,
    FRAMES_PER_SECOND,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    BasicPitch,
)

OVERLAP_FRAMES = 30
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP  # 7680
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES  # 36164
BATCH_WINDOWS = 8  # windows per forward pass: about 40 MB of activations in float32


class Cancelled(Exception):
    """``should_stop`` said so between two batches."""


def frames_for(n_samples: int) -> int:
    """Output frames Basic Pitch keeps for ``n_samples`` of 22050 Hz audio."""
    return int(math.floor(n_samples * (FRAMES_PER_SECOND / SAMPLE_RATE)))


def windows(blocks: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    """The (43844,) windows of the stream of 22050 Hz mono ``blocks``; the total length is known
    only at the end, so the caller counts it (``WindowCounter``)."""
    buffer = np.zeros(OVERLAP_SAMPLES // 2, np.float32)
    start = 0  # absolute (padded) index of buffer[0]
    next_window = 0
    total = OVERLAP_SAMPLES // 2
    for block in blocks:
        block = np.asarray(block, np.float32).reshape(-1)
        if not block.size:
            continue
        buffer = np.concatenate([buffer, block])
        total += block.size
        while next_window + WINDOW_SAMPLES <= total:
            yield buffer[next_window - start:next_window - start + WINDOW_SAMPLES]
            next_window += HOP_SAMPLES
        if next_window > start:  # drop what no later window reads
            buffer = buffer[next_window - start:]
            start = next_window
    while next_window < total:  # range(0, padded length, hop): the last ones zero-padded
        window = buffer[next_window - start:]
        yield np.pad(window, (0, WINDOW_SAMPLES - window.size))
        next_window += HOP_SAMPLES


@torch.inference_mode()
def predict_blocks(model: BasicPitch, blocks: Iterable[np.ndarray], *, keep_contour: bool = True,
                   batch: int = BATCH_WINDOWS, device: str | torch.device = "cpu",
                   progress: Callable[[int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> dict[str, np.ndarray]:
    """Basic Pitch's outputs for the 22050 Hz mono stream ``blocks``: {"note": (T, 88),
    "onset": (T, 88), "contour": (T, 264) when ``keep_contour``}, float32, T = frames_for(samples).
    ``progress(samples_done)`` after each batch; ``should_stop()`` → Cancelled."""
    counted = [0]

    def counting():
        for block in blocks:
            block = np.asarray(block, np.float32).reshape(-1)
            counted[0] += block.size
            yield block

    keys = ("note", "onset", "contour") if keep_contour else ("note", "onset")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    pending: list[np.ndarray] = []
    cut = OVERLAP_FRAMES // 2

    def run() -> None:
        x = torch.from_numpy(np.stack(pending)).to(device)
        pending.clear()
        out = model(x)
        for k in keys:
            parts[k].append(out[k][:, cut:-cut].reshape(-1, out[k].shape[-1]).float().cpu().numpy())
        if progress is not None:
            progress(counted[0])
        if should_stop is not None and should_stop():
            raise Cancelled

    for window in windows(counting()):
        pending.append(window)
        if len(pending) == batch:
            run()
    if pending:
        run()
    n = frames_for(counted[0])
    result = {}
    for k in keys:
        joined = np.concatenate(parts[k]) if parts[k] else np.zeros((0, 264 if k == "contour" else 88), np.float32)
        parts[k] = []
        result[k] = np.ascontiguousarray(joined[:n])
    return result


def predict(model: BasicPitch, audio: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    """``predict_blocks`` on one array of 22050 Hz mono audio."""
    return predict_blocks(model, [np.asarray(audio, np.float32).reshape(-1)], **kwargs)
