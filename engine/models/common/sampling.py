"""Choosing the next token from logits: token masks, temperature, top-k, top-p, a seeded draw.

One draw for every family: ``torch.multinomial(probs, 1)``, which is what
``Categorical(logits=...).sample()`` draws (openai/whisper) and what a seeded ``torch.Generator``
reproduces. With one sample, drawing with or without replacement takes the same path in torch,
so the Music Transformer's seeds give the pieces they gave before this module existed.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from engine.models.common.errors import CheckpointError

DAMAGED = "the model produced values that are not numbers: its weights are damaged"


class DamagedWeightsError(CheckpointError, ValueError):
    """The logits hold NaN or +inf: the weights (not the prompt or settings) are damaged.
    ``str()`` is the one line to show; a CheckpointError and a ValueError, so every caller's
    handler for a bad checkpoint or a bad value says it, never a crash log."""

    def __init__(self, message: str = DAMAGED) -> None:
        super().__init__(message)


def damaged(logits: Tensor) -> bool:
    """NaN or +inf anywhere (-inf is a mask, not damage)."""
    return bool(torch.isnan(logits).any() or torch.isposinf(logits).any())


def seeded_generator(seed: int | None, device: str | torch.device = "cpu") -> torch.Generator | None:
    """A generator that makes a draw reproducible; None (torch's global one) without a seed."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)


def mask_tokens(logits: Tensor, tokens: Iterable[int]) -> Tensor:
    """Tokens that must never be drawn get -inf, in place; returns ``logits``."""
    for token in tokens:  # a few scalar writes: cheaper than building an index tensor every step
        logits[..., token] = float("-inf")
    return logits


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Logits outside the ``k`` largest of each row become -inf (k <= 0 keeps every token)."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(probs: Tensor, p: float) -> Tensor:
    """Probabilities outside the nucleus (the smallest set of tokens reaching ``p``) become 0.

    Not renormalised: ``torch.multinomial`` normalises, and renormalising would change the draw."""
    if p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(-1, descending=True)
    keep = sorted_probs.cumsum(-1) - sorted_probs < p
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs * keep)


def sample(logits: Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
           generator: torch.Generator | None = None) -> Tensor:
    """(..., V) logits → (...) tokens. Temperature 0 is greedy (argmax), whatever k and p say."""
    if temperature <= 0:
        return logits.argmax(-1)
    logits = top_k_filter(logits.float(), top_k)
    probs = top_p_filter((logits / temperature).softmax(-1), top_p)
    flat = probs.reshape(-1, probs.shape[-1])
    try:
        drawn = torch.multinomial(flat, 1, generator=generator)
    except RuntimeError:  # "probability tensor contains either inf, nan or element < 0"
        if damaged(logits):  # checked only here: no host sync on the way that works
            raise DamagedWeightsError() from None
        raise
    return drawn.reshape(probs.shape[:-1])
