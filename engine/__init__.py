"""Motet engine: audio, models, jobs. Never imports Qt."""

import os

__version__ = "0.1.0"

# torch's OpenMP threads (libgomp) spin 300,000 times at every barrier before they sleep. When
# another program holds a core, a spinning thread keeps its partner off the CPU and every small
# parallel op of a decoding step (hundreds per step) waits a whole time slice: with one of two
# cores busy, 30 short clips took 28-48 s instead of 8.7 s (2 threads). With 10,000 spins the
# quiet machine keeps its speed (8.4-8.9 s) and a busy one loses only the core it lost (18 s).
# libgomp reads this when it is loaded, so it is set before anything imports torch; a value the
# user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
