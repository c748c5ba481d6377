"""Generating EnCodec codes with MusicGen's language model: the delay pattern, classifier-free
guidance and a KV-cached sampling loop.

Guidance (as transformers' ``MusicgenForConditionalGeneration.generate`` and audiocraft do): the
batch is doubled, the conditional rows first, then the same codes with zero text states and a
zero mask; one forward serves both, and the logits are ``uncond + (cond - uncond) * scale``.
A scale of 1 or less turns guidance off (conditional rows only), as in transformers.

Then transformers' warpers, in their order: temperature, top-k, top-p, and a draw from
``engine.models.common.sampling`` (seeded when asked). ``top_p`` 0 means off (MusicGen's
convention); transformers applies top-k and top-p together when both are set, and so do we
(audiocraft uses top-p instead of top-k when top-p > 0). ``top_k=1`` or ``temperature=0`` is
greedy: the same codes as transformers' ``generate(do_sample=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from engine.cancel import Cancelled
from engine.models.common.cuda_graph import graphed_or_eager
from engine.models.common.kv_cache import KVCache
from engine.models.common.sampling import sample, seeded_generator
from engine.models.musicgen.delay import FREE, delay_pattern, undo_delay
from engine.models.musicgen.model import MusicgenLM


def _check_arguments(lm: MusicgenLM, encoder_states: Tensor, encoder_mask: Tensor | None, steps: int,
                     guidance_scale: float, temperature: float, top_k: int, top_p: float,
                     prompt_codes: Tensor | None) -> None:
    c = lm.config
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, not {steps!r}")
    if encoder_states.ndim != 3:
        raise ValueError(f"text states should be (batch, length, width), got {tuple(encoder_states.shape)}")
    if encoder_mask is not None and encoder_mask.shape != encoder_states.shape[:2]:
        raise ValueError(f"the text mask is {tuple(encoder_mask.shape)}, the states {tuple(encoder_states.shape)}")
    for name, value in (("guidance_scale", guidance_scale), ("temperature", temperature)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number of at least 0, not {value!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be a whole number of at least 0 (0: off), not {top_k!r}")
    if not 0 <= top_p <= 1:
        raise ValueError(f"top_p must be from 0 to 1 (0: off), not {top_p!r}")
    if prompt_codes is not None:
        shape = (encoder_states.shape[0], c.num_codebooks)
        if prompt_codes.ndim != 3 or tuple(prompt_codes.shape[:2]) != shape:
            raise ValueError(f"prompt codes should be {shape + ('frames',)}, got {tuple(prompt_codes.shape)}")
        if prompt_codes.is_floating_point() or prompt_codes.is_complex():
            raise ValueError(f"prompt codes should be whole numbers, got {prompt_codes.dtype}")
        if prompt_codes.numel() and not (0 <= int(prompt_codes.min()) and int(prompt_codes.max()) < c.vocab_size):
            raise ValueError(f"prompt codes must lie from 0 to {c.vocab_size - 1}")


def _choose(logits: Tensor, temperature: float, top_k: int, top_p: float,
            generator: torch.Generator | None) -> Tensor:
    """(B, K, V) guided logits -> (B, K) codes."""
    if top_k == 1 or temperature == 0:
        return logits.argmax(-1)
    return sample(logits, temperature, top_k, top_p if 0 < top_p < 1 else 1.0, generator)


def static_steps(lm: MusicgenLM, kv: KVCache, cross: list | None = None,
                 cross_mask: Tensor | None = None) -> Callable[[Tensor], Tensor]:
    """The steps after the first in fixed shapes (``MusicgenLM.step_at``): codes (B, K, 1) ->
    logits (B, K, V), ``kv`` advanced by one. On CUDA the step is captured as a graph at the first
    call and replayed after (``graphed_or_eager``); elsewhere it runs as it is (the tests' way of
    checking it against the ordinary cached step)."""
    position = torch.zeros(1, dtype=torch.long, device=lm.device)
    run = None

    def step(codes: Tensor) -> Tensor:
        nonlocal run
        position.fill_(kv.length)
        if run is None:
            run = graphed_or_eager(lambda c, p: lm.step_at(c, p, kv, cross, cross_mask), (codes, position))
        logits = run(codes, position)
        kv.length += 1
        return logits

    return step


def uses_static_steps(lm: MusicgenLM, static: bool | None) -> bool:
    """``static`` as asked; by default on CUDA, where the graph pays (on a CPU the whole-cache
    attention of ``step_at`` costs more than the launches it saves)."""
    return lm.device.type == "cuda" if static is None else static


@torch.inference_mode()
def generate(lm: MusicgenLM, encoder_states: Tensor, encoder_mask: Tensor | None, steps: int,
             guidance_scale: float = 3.0, temperature: float = 1.0, top_k: int = 250, top_p: float = 0.0,
             seed: int | None = None, prompt_codes: Tensor | None = None,
             progress: Callable[[float], None] | None = None,
             should_stop: Callable[[], bool] | None = None, static: bool | None = None) -> Tensor:
    """``steps`` new frames of codes (B, K, steps), aligned (the delay undone), on the model's device.

    ``encoder_states`` (B, S, D_text) are the text encoder's output and ``encoder_mask`` (B, S) its
    attention mask (None: no padding). ``prompt_codes`` (B, K, P) are audio codes to continue;
    the result holds only the frames after them. Stereo models take and give their codebooks
    interleaved (left ``[:, 0::2]``, right ``[:, 1::2]``); EnCodec decodes each channel apart.

    ``seed`` makes the draw reproducible (None: torch's global generator). ``progress(fraction)``
    is called after every step; ``should_stop()`` before every step, raising ``Cancelled`` when true.
    ``static``: the steps after the first in fixed shapes, a CUDA graph on CUDA (``static_steps``;
    None: on CUDA only).
    """
    _check_arguments(lm, encoder_states, encoder_mask, steps, guidance_scale, temperature, top_k, top_p,
                     prompt_codes)
    device = lm.device
    batch = encoder_states.shape[0]
    states = encoder_states.to(device)
    mask = (torch.ones(states.shape[:2], dtype=torch.long, device=device) if encoder_mask is None
            else encoder_mask.to(device))
    guided = guidance_scale > 1
    if guided:  # the unconditional branch: no text at all
        states = torch.cat([states, torch.zeros_like(states)])
        mask = torch.cat([mask, torch.zeros_like(mask)])
    prompt = _prompt(lm, batch, prompt_codes)
    static = uses_static_steps(lm, static)
    cache = lm.new_cache(batch * (2 if guided else 1), capacity=sequence_length(lm, prompt, steps) - 1,
                         zeroed=static)
    later = None

    def step(codes: Tensor, first: bool) -> Tensor:
        nonlocal later
        if first or not static:
            hidden = lm.hidden(codes, states if first else None, mask if first else None, cache)
            return lm.logits(hidden[:, -1:])[:, :, 0]
        later = later or static_steps(lm, cache.kv, cache.cross, cache.cross_mask)
        return later(codes)

    return sample_codes(lm, step, prompt, steps, guidance_scale, temperature, top_k, top_p, seed, progress,
                        should_stop)


def _prompt(lm: MusicgenLM, batch: int, prompt_codes: Tensor | None) -> Tensor:
    if prompt_codes is None:
        return torch.zeros(batch, lm.config.num_codebooks, 0, dtype=torch.long, device=lm.device)
    return prompt_codes.to(device=lm.device, dtype=torch.long)


def sequence_length(lm: MusicgenLM, prompt: Tensor, steps: int) -> int:
    """Positions of the delayed sequence: the start token, the prompt, the new steps and the delays."""
    return prompt.shape[-1] + steps + max(lm.delays) + 1


def sample_codes(lm: MusicgenLM, step: Callable[[Tensor, bool], Tensor], prompt: Tensor, steps: int,
                 guidance_scale: float, temperature: float, top_k: int, top_p: float, seed: int | None,
                 progress: Callable[[float], None] | None, should_stop: Callable[[], bool] | None) -> Tensor:
    """The sampling loop of MusicGen and MusicGen melody: the delay pattern filled step by step.
    ``step(codes, first)`` gives the last position's logits (rows, K, V) of the new codes (rows
    doubled under guidance: conditional, then unconditional), ``first`` on the first call."""
    c = lm.config
    given = prompt.shape[-1]
    sequence = delay_pattern(prompt, given + steps, lm.delays, c.bos_token_id)
    free = sequence == FREE
    length = sequence.shape[-1]
    start = given + 1  # steps 0..given hold the start token and the prompt in every codebook
    guided = guidance_scale > 1
    generator = seeded_generator(seed, lm.device)
    done = 0
    for position in range(start, length):
        if should_stop is not None and should_stop():
            raise Cancelled("music generation was stopped")
        codes = sequence[:, :, done:position]
        if guided:
            codes = torch.cat([codes, codes])
        logits = step(codes, done == 0)
        if guided:
            cond, uncond = logits.chunk(2)
            logits = uncond + (cond - uncond) * guidance_scale
        chosen = _choose(logits, temperature, top_k, top_p, generator)
        sequence[:, :, position] = torch.where(free[:, :, position], chosen, sequence[:, :, position])
        done = position
        if progress is not None:
            progress((position - start + 1) / (length - start))
    return undo_delay(sequence, lm.delays, given + steps)[:, :, given:]
