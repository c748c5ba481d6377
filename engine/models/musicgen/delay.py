"""MusicGen's delay pattern (Copet et al. 2023, §2.2): codebook k of frame f is predicted at step
f + delay(k) + 1, so each step predicts the finer codebooks of earlier frames beside the coarse
codebook of the newest one, and the K codebooks take one forward pass per step.

The delays are k for mono; stereo interleaves left and right (codebooks 2c and 2c + 1 are the
left and right channel's codebook c) and both share delay c, as transformers' and audiocraft's
stereo models do. A sequence of F frames is ``F + max_delay + 1`` steps long: step 0 is the
start token in every codebook, and a codebook's steps before its first frame and after its last
hold the start token too (transformers' ``build_delay_pattern_mask`` with the decoder start
token as its padding).
"""

from __future__ import annotations

import torch
from torch import Tensor

FREE = -1  # a position of the pattern that the decoder fills


def codebook_delays(num_codebooks: int, audio_channels: int = 1) -> list[int]:
    """How many steps each codebook lags the first: k (mono) or k // 2 (stereo, interleaved)."""
    return [k // audio_channels for k in range(num_codebooks)]


def _frame_index(delays: list[int], length: int, device) -> Tensor:
    """(K, length): the frame each position of each codebook holds (negative before the first)."""
    steps = torch.arange(length, device=device)
    return steps[None, :] - 1 - torch.tensor(delays, device=device)[:, None]


def delay_pattern(prompt: Tensor, frames: int, delays: list[int], special: int) -> Tensor:
    """The delayed sequence of ``frames`` frames (B, K, frames + max_delay + 1): the prompt's
    codes (B, K, P) where they fall, ``special`` (the start token) before and after each
    codebook's frames, ``FREE`` where the decoder is to write."""
    b, k, p = prompt.shape
    if len(delays) != k:
        raise ValueError(f"{len(delays)} delays for {k} codebooks")
    if not p <= frames:
        raise ValueError(f"a prompt of {p} frames is longer than the {frames} frames asked for")
    length = frames + max(delays) + 1
    frame = _frame_index(delays, length, prompt.device)
    inside = (frame >= 0) & (frame < frames)
    out = torch.full((b, k, length), special, dtype=torch.long, device=prompt.device)
    out[:, inside & (frame >= p)] = FREE
    if p:
        given = inside & (frame < p)
        from_prompt = prompt.long().gather(-1, frame.clamp(0, p - 1).expand(b, k, length))
        out = torch.where(given, from_prompt, out)
    return out


def undo_delay(sequence: Tensor, delays: list[int], frames: int) -> Tensor:
    """Delayed sequence (B, K, L) -> aligned codes (B, K, frames): frame f of codebook k is the
    step f + delay(k) + 1."""
    b, k, length = sequence.shape
    if length < frames + max(delays) + 1:
        raise ValueError(f"a delayed sequence of {length} steps holds fewer than {frames} frames")
    device = sequence.device
    index = torch.arange(frames, device=device)[None, :] + 1 + torch.tensor(delays, device=device)[:, None]
    return sequence.gather(-1, index.expand(b, k, frames))
