"""int8 compute for MusicGen's language model on the CPU: every linear layer of every step (the
self-attention's projections, the cross-attention's query and output, the feed-forward, the K
output heads) as ``Int8Linear``. Each generation step reads every decoder weight once (300 M
parameters for musicgen-small: 1.2 GB in float32), so a step is bound by memory bandwidth and int8
weights read a quarter of the bytes. The cross-attention's keys and values see the text once per
generation (many rows): they use the many-row backend. Embeddings, layer norms and attention stay
float32; T5 and EnCodec are untouched (they run once per piece).

Scales: weights per output row; activations one scale per call (``per_row=False``): a call holds
the rows of one request (its conditional and unconditional branches, its variations), and per-row
scaling cost a fifth of the speed (17.8 against 22.6 steps/s on musicgen-small's shapes) for no
measurable gain (the same KL). The self-attention cache is kept in bfloat16: late in a piece it is
read at every step like the weights (500 steps of musicgen-small: 24 x 500 x 16 KB = 200 MB in
float32, over half the int8 weights' bytes), and bfloat16 halves it: 21.3 -> 23.7 steps/s for 10 s
(2 threads, this machine). Accuracy: checked by ``int8_agreement`` on the model at hand
(next-token distributions of int8 against float32 on a fixed prompt), which the Generate job runs
on first use and refuses int8 beyond ``MAX_KL_NATS``.
"""

from __future__ import annotations

import torch

from engine.models.common.int8 import Int8Linear, int8_backend, replace_linears
from engine.models.musicgen.model import MusicgenLM

# The most int8 may move a next-token distribution from float32's (KL, nats) before the Generate
# job refuses it. On musicgen-small's shapes it moves them by 0.0002 (benchmarks/musicgen.py);
# 0.02 nats is a hundred times that and still far below what top-k sampling at temperature 1
# varies from draw to draw: a model that int8 moves further has weights int8 does not suit.
MAX_KL_NATS = 0.02


def quantize_lm_int8(lm: MusicgenLM, per_row: bool = False) -> MusicgenLM:
    """Make a float32 CPU language model compute its linear layers in int8, in place."""
    if lm.device.type != "cpu":
        raise ValueError(f"int8 compute runs on the CPU only (the model is on {lm.device}); use float32, "
                         "or the GPU's own precision")
    if lm.dtype != torch.float32:
        raise ValueError(f"int8 compute quantizes a float32 model, not {str(lm.dtype).removeprefix('torch.')}")
    many, few = int8_backend(), int8_backend(small=True)
    lm.fuse_self_attention()  # one int8 call for query, key and value (the same input)
    for layer in lm.layers:
        cross = getattr(layer, "cross_attn", None)
        if cross is not None:  # keys and values of the text: once per generation, many rows
            cross.k = Int8Linear(cross.k.weight, cross.k.bias, many)
            cross.v = Int8Linear(cross.v.weight, cross.v.bias, many)
        replace_linears(layer, few, per_row)
    replace_linears(lm.heads, few, per_row)
    lm.cache_dtype = torch.bfloat16
    return lm


@torch.inference_mode()
def int8_agreement(lm: MusicgenLM, quantized: MusicgenLM, states: torch.Tensor, mask: torch.Tensor,
                   steps: int = 20, seed: int = 0) -> float:
    """The largest KL divergence (nats) of int8's next-token distributions from float32's over
    ``steps`` teacher-forced steps of random codes (every codebook): how far int8 moves the model.
    Both run through their own caches, as generation does (int8's holds bfloat16)."""
    g = torch.Generator().manual_seed(seed)
    c = lm.config
    codes = torch.randint(0, c.vocab_size, (states.shape[0], c.num_codebooks, steps), generator=g)
    reference = _teacher_forced(lm, codes, states, mask).log_softmax(-1)
    ours = _teacher_forced(quantized, codes, states, mask).log_softmax(-1)
    return float((reference.exp() * (reference - ours)).sum(-1).max())


def _teacher_forced(lm: MusicgenLM, codes: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits of ``codes`` after the text (MusicGen: cross-attention; the melody model: its prefix,
    with the null chroma), written through a cache."""
    if lm.cross_attention:
        return lm(codes, states, mask, lm.new_cache(codes.shape[0], codes.shape[-1]))
    prefix = lm.prefix(states, mask)
    return lm(codes, prefix, lm.new_cache(codes.shape[0], prefix.shape[1] + codes.shape[-1]))
