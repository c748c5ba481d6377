"""Relative attention: the paper's skewing against the naive method (Shaw et al. 2018), which
gathers an (L, L, D) tensor of relative embeddings. Peak extra memory and time of computing the
relative logits S_rel for one head with D = 512, at L = 512, 1024, 2048. Each measurement runs in
its own process, so its peak RSS is its own. Skewing's extra memory should grow linearly in L
(plus the L×L logits every attention has); the naive one quadratically times D.

    .venv/bin/python benchmarks/relative_attention.py [--lengths 512 1024 2048] [--dim 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(method: str, length: int, dim: int, runs: int) -> dict:
    import torch

    sys.path.insert(0, str(ROOT))
    from engine.models.music_transformer.model import skew

    torch.manual_seed(0)
    q = torch.randn(1, 1, length, dim)
    table = torch.randn(length, dim)  # one embedding per distance L-1 .. 0
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with torch.no_grad():
            if method == "skew":
                rel = skew(q @ table.T)
            else:  # naive: R[i, j] = E[distance i - j], an (L, L, D) tensor, then Q·R per query
                i = torch.arange(length)[:, None]
                j = torch.arange(length)[None, :]
                index = (length - 1 - (i - j)).clamp(0, length - 1)
                r = table[index]  # (L, L, D)
                rel = torch.einsum("bhid,ijd->bhij", q, r)
                del r
        times.append(time.perf_counter() - start)
        del rel
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"median_s": statistics.median(times), "extra_peak_mb": (peak - base) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.dim, args.runs)))
        return
    results = {}
    for length in args.lengths:
        row = {}
        for method in ("skew", "naive"):
            out = subprocess.run([sys.executable, __file__, "--child", method, str(length), "--dim", str(args.dim),
                                  "--runs", str(args.runs)], capture_output=True, text=True, check=True)
            row[method] = {k: round(v, 4) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
        row["memory_ratio_naive_over_skew"] = round(row["naive"]["extra_peak_mb"] / max(row["skew"]["extra_peak_mb"], 1e-3), 1)
        row["time_ratio_skew_over_naive"] = round(row["skew"]["median_s"] / row["naive"]["median_s"], 3)
        results[str(length)] = row
    print(json.dumps({"benchmark": "relative attention logits, one head", "dim": args.dim, "runs": args.runs,
                      "lengths": results,
                      "theory_mb": {str(n): {"skew_logits": round(n * (n + 1) * 4 / 2**20, 1),
                                             "naive_R": round(n * n * args.dim * 4 / 2**20, 1)} for n in args.lengths}},
                     indent=1))


if __name__ == "__main__":
    main()
