"""Continue, measured as a musician would hear it: the first bars of held-out corpus pieces of
every collection (tunes, songs, chorales, polyphony) continued by the composer and by the Music
Transformer, on the same prompts and seeds.

For each continuation against its prompt: mean notes sounding, onsets per quarter, pitch range
and median note length, each within 25 % of the prompt's (the share of prompts where all four
hold, and each alone); notes starting while the same pitch sounds; notes longer than two bars
when the prompt has none; and the in-key measure of the Continue tests (correlation of the
duration-weighted pitch classes with the prompt's).
    .venv/bin/python benchmarks/continue_musicianship.py [--per-style 4] [--bars 4] [--data data/composer]
                                                         [--candidates N] [--texture-guidance W] [--composer-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEASURES = ("polyphony", "onsets_per_beat", "pitch_range", "median_length")


def main() -> None:
    import torch

    from engine.models.composer.batches import piece_notes
    from engine.models.composer.continuation import continue_motif
    from engine.models.composer.controls import STYLES
    from engine.models.composer.data import build_dataset, controls_of, load_pieces
    from engine.models.composer.evaluate import same_pitch_overlaps, texture
    from engine.models.composer.score import to_score
    from engine.models.music_transformer.generate import continue_notes
    from engine.tasks.compose import ASSET_DIR, composer_model
    from engine.tasks.music import music_transformer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-style", type=int, default=4)
    ap.add_argument("--prompt-bars", type=int, default=4)
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--data", default=str(ROOT / "data" / "composer"))
    ap.add_argument("--model", default=str(ASSET_DIR))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=None,
                    help="continuations drawn per one kept (default: Continue's own, continuation.CANDIDATES; 1: no ranking)")
    ap.add_argument("--texture-guidance", type=float, default=None,
                    help="the sampler's pull toward the motif's voices (default: Continue's own; 0: none)")
    ap.add_argument("--composer-only", action="store_true", help="leave the Music Transformer out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not (Path(args.data) / "info.json").exists():
        build_dataset(args.data)
    prompts = []
    for style in STYLES:
        pieces = [p for p in load_pieces(args.data, "test") if p["style"] == style and p["bars"] >= 2 * args.prompt_bars]
        prompts += pieces[:args.per_style]
    from functools import partial

    from engine.models.composer.continuation import CANDIDATES, pitch_classes

    candidates = args.candidates or CANDIDATES
    guidance = {} if args.texture_guidance is None else {"texture_guidance": args.texture_guidance}
    engines = {"composer": (composer_model(args.model), partial(continue_motif, candidates=candidates, **guidance))}
    if not args.composer_only:
        engines["music_transformer"] = (music_transformer(), continue_notes)
    results = {}
    for name, (model, continue_fn) in engines.items():
        rows, started = [], time.perf_counter()
        for k, piece in enumerate(prompts):
            controls = controls_of(piece).with_(bars=args.prompt_bars)
            score = to_score([n for n in piece_notes(piece) if n.bar < args.prompt_bars], controls)
            prompt = score.tracks[0].notes
            if len(prompt) < 4:
                continue
            [notes] = continue_fn(model, score, prompt, args.bars, 1, 1.0, 0.95, k)
            want, got = texture(prompt, score.ticks_per_beat), texture(notes, score.ticks_per_beat)
            close = {m: abs(got[m] - want[m]) <= 0.25 * max(want[m], 1e-9) for m in MEASURES}
            longest = max((n.duration for n in prompt), default=0)
            two_bars = 2 * score.ticks_per_bar
            rows.append({"style": piece["style"], **close, "all": all(close.values()),
                         "overlaps": same_pitch_overlaps(notes),
                         "too_long": sum(n.duration > two_bars for n in notes) if longest <= two_bars else 0,
                         "in_key": float(np.corrcoef(pitch_classes(prompt), pitch_classes(notes))[0, 1]) if notes else 0.0,
                         "notes": len(notes), "prompt_notes": len(prompt),
                         "polyphony_prompt_vs_new": (round(want["polyphony"], 2), round(got["polyphony"], 2))})
        results[name] = {
            "prompts": len(rows),
            "all_four_within_25pct": round(float(np.mean([r["all"] for r in rows])), 3),
            **{f"{m}_within_25pct": round(float(np.mean([r[m] for r in rows])), 3) for m in MEASURES},
            "same_pitch_overlaps": int(sum(r["overlaps"] for r in rows)),
            "notes_longer_than_two_bars": int(sum(r["too_long"] for r in rows)),
            "in_key_mean_correlation": round(float(np.mean([r["in_key"] for r in rows])), 3),
            "by_style_all_four": {s: round(float(np.mean([r["all"] for r in rows if r["style"] == s] or [0])), 2)
                                  for s in STYLES},
            "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps({"benchmark": "Continue on held-out corpus openings", "cpu_count": os.cpu_count(),
                      "threads": args.threads, "candidates": candidates,
                      "texture_guidance": args.texture_guidance, "prompt_bars": args.prompt_bars, "bars": args.bars,
                      "per_style": args.per_style, "results": results}, indent=1))


if __name__ == "__main__":
    main()
