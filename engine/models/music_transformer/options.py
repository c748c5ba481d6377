"""The limits of every Music Transformer option, in one place and without torch.

The CLI's parser (engine/cli/music.py), the piano roll's Continue panel (gui/piano_roll_view.py)
and the engine's own checks (generate.py, model.py, train.py) all take their ranges from here, so
a value one accepts the others accept too (DESIGN.md §8). No torch here: building the command
line's parser must stay cheap.
"""

from __future__ import annotations

from engine.models.common.limits import check_range  # noqa: F401 - re-exported: the family's limits and their check

# Continue: (lowest, highest) of each option. Variations are the batch of the KV cache (about
# 12.6 MB each for the shipped model), bars bound the sampling (the context caps it too).
BARS = (1, 32)
VARIATIONS = (1, 8)
TEMPERATURE = (0.1, 2.0)
TOP_P = (0.5, 1.0)
SEED_MAX = 2**63 - 1  # what torch.Generator.manual_seed takes
MAX_CACHE_BYTES = 1 << 30  # keys and values of all variations, whatever the model's size

# A model's sizes (config.json is user input): each dimension, and the parameter count in all.
DEFAULT_MAX_LEN = 2048
SIZE_LIMITS = {"vocab_size": (1, 65536), "d_model": (1, 4096), "n_layers": (1, 64),
               "n_heads": (1, 64), "d_ff": (1, 16384), "max_len": (2, 8192)}
PERFORMANCE_EVENTS = "performance-events"  # the Music Transformer's vocabulary (events.py): VOCAB_SIZE tokens
MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights; the shipped model has about 2 million

# Training.
STEPS = (1, 10_000_000)
BATCH = (1, 1024)
LENGTH = (2, DEFAULT_MAX_LEN)  # tokens per window; never more than the model's max_len
LR = (0.0, 1.0)  # the lowest excluded
THREADS = (1, 1024)
MAX_TRAIN_ATTENTION_BYTES = 16 << 30  # attention scores kept for the backward pass, all layers

