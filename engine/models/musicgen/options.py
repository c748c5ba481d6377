"""The limits of every Generate option, in one place and without torch: the CLI's parser, the
Generate page and the engine's own checks take their ranges from here (DESIGN.md §8)."""

from __future__ import annotations

from engine.models.common.limits import check_range

SECONDS = (0.2, 300.0)  # up to 5 minutes: beyond 30 s the model continues in windows
DEFAULT_SECONDS = 10.0
GUIDANCE = (1.0, 10.0)  # classifier-free guidance scale; 1 is off
DEFAULT_GUIDANCE = 3.0
TEMPERATURE = (0.1, 2.0)
TOP_K = (0, 2048)  # 0 is off; 1 is greedy
DEFAULT_TOP_K = 250
TOP_P = (0.0, 1.0)  # 0 is off (MusicGen's convention)
VARIATIONS = (1, 8)  # one batch
SEED_MAX = 2**31 - 1
WINDOW_SECONDS = 30.0  # what the models were trained on
STRIDE_SECONDS = 10.0  # a longer piece moves on by this much, the window's tail as the next prompt


def check_options(seconds: float, guidance: float, temperature: float, top_k: int, top_p: float,
                  variations: int, seed: int | None = None) -> None:
    """ValueError naming the first option out of its range."""
    check_range("seconds", seconds, SECONDS)
    check_range("guidance", guidance, GUIDANCE)
    check_range("temperature", temperature, TEMPERATURE)
    check_range("top-k", top_k, TOP_K)
    check_range("top-p", top_p, TOP_P)
    check_range("variations", variations, VARIATIONS)
    if seed is not None:
        check_range("seed", seed, (0, SEED_MAX))
    if isinstance(top_k, float) and not top_k.is_integer() or isinstance(variations, float):
        raise ValueError("top-k and variations are whole numbers")
