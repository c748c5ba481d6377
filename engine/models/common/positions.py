"""Fixed sinusoidal positional encodings, in the layouts the published models use.

The families differ in details that change every value, so each is a keyword, not a new function:
- Whisper: ``[sin | cos]`` halves, timescales spaced to include 1/10000 (``endpoint=True``);
- Vaswani et al. (the Music Transformer's absolute baseline): sin and cos interleaved,
  timescales 10000^(-2i/channels) (``endpoint=False, interleave=True``);
- MusicGen (audiocraft, transformers): ``[cos | sin]`` halves with Whisper's spacing
  (``cos_first=True``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0, *, endpoint: bool = True,
              interleave: bool = False, cos_first: bool = False) -> Tensor:
    """(length, channels) float32 table of position × frequency."""
    if channels % 2:
        raise ValueError(f"sinusoidal positions need an even number of channels, not {channels}")
    half = channels // 2
    if endpoint:
        rates = torch.exp(-(math.log(max_timescale) / (half - 1)) * torch.arange(half, dtype=torch.float32))
    else:
        rates = torch.exp(-math.log(max_timescale) * torch.arange(0, channels, 2, dtype=torch.float32) / channels)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * rates[None, :]
    first, second = (torch.cos(angles), torch.sin(angles)) if cos_first else (torch.sin(angles), torch.cos(angles))
    if interleave:
        return torch.stack([first, second], dim=-1).reshape(length, channels)
    return torch.cat([first, second], dim=1)
