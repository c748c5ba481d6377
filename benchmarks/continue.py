"""Continuation speed on CPU with the shipped Music Transformer: tokens per second with and
without the KV cache (without it every token is a full forward pass over the sequence), and the
wall time to continue a motif by 8 bars (goal: under 2 s).

    .venv/bin/python benchmarks/continue.py [--threads 2] [--runs 3] [--tokens 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=256, help="tokens generated for the tokens/s figures")
    args = ap.parse_args()

    import torch

    from engine.midi.midifile import read_midi
    from engine.midi.synth import ASSETS
    from engine.models.music_transformer.events import BOS, notes_to_events, score_to_notes
    from engine.models.music_transformer.generate import continue_notes, load_model

    torch.set_num_threads(args.threads)
    model = load_model()
    score = read_midi(ASSETS / "motifs" / "walking-motif.mid")
    prompt_notes = score.tracks[0].notes
    prompt = [BOS] + notes_to_events(score_to_notes(score))

    def tokens_per_second(use_cache: bool) -> float:
        times = []
        for run in range(args.runs):
            start = time.perf_counter()
            out = _generate_n(model, prompt, args.tokens, use_cache, run)
            times.append(time.perf_counter() - start)
            assert out == args.tokens
        return args.tokens / statistics.median(times)

    with_cache = tokens_per_second(True)
    without_cache = tokens_per_second(False)
    eight_bars, counts = [], []
    for run in range(args.runs):
        start = time.perf_counter()
        [notes] = continue_notes(model, score, prompt_notes, bars=8, variations=1, seed=run)
        eight_bars.append(time.perf_counter() - start)
        counts.append(len(notes))
    print(json.dumps({
        "benchmark": "Music Transformer continuation, CPU", "threads": args.threads, "runs": args.runs,
        "model_parameters": model.parameter_count(), "prompt_tokens": len(prompt),
        "tokens_per_second": {"kv_cache": round(with_cache, 1), "full_forward_each_token": round(without_cache, 1)},
        "speedup_from_cache": round(with_cache / without_cache, 2),
        "continue_8_bars_s": {"median": round(statistics.median(eight_bars), 3), "runs": [round(t, 3) for t in eight_bars]},
        "notes_in_8_bars": counts, "goal_s": 2.0,
    }, indent=1))


def _generate_n(model, prompt, n: int, use_cache: bool, seed: int) -> int:
    """Generate exactly n tokens (time never counts as reached; EOS is not allowed)."""
    import torch

    from engine.models.music_transformer import events
    from engine.models.music_transformer.generate import sample_next

    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        tokens = torch.tensor([prompt])
        cache = model.new_cache(1) if use_cache else None
        logits = model(tokens, cache)[:, -1]
        for _ in range(n):
            logits[:, events.EOS] = float("-inf")
            nxt = sample_next(logits, 1.0, 0.95, generator)[:, None]
            tokens = torch.cat([tokens, nxt], dim=1)
            logits = (model(nxt, cache) if use_cache else model(tokens))[:, -1]
    return n


if __name__ == "__main__":
    main()
