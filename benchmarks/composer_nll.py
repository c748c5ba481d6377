"""The composer with its controls against the same model trained without them: NLL per token
(nats) on the same held-out pieces and the same tokens (the body: bars, positions, pitches,
durations, EOS), on the whole pieces and on their openings (the first 64 body tokens, where only
the controls can tell the model what the piece is). The table of assets/composer/README.md.
    .venv/bin/python benchmarks/composer_nll.py --data data/composer --conditioned runs/composer/best
                                                --unconditioned runs/composer-unconditioned/best
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OPENING = 64


def main() -> None:
    import torch

    from engine.models.composer.batches import VOCABULARY, ComposerData
    from engine.models.composer.tokens import SEP
    from engine.models.music_transformer.generate import load_model
    from engine.models.music_transformer.train import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "composer"))
    ap.add_argument("--conditioned", default=str(ROOT / "assets" / "composer"))
    ap.add_argument("--unconditioned", required=True)
    ap.add_argument("--length", type=int, default=384)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    def opening(targets: torch.Tensor) -> torch.Tensor:
        """Body tokens among the first OPENING after SEP, in windows that start a piece."""
        counted = ComposerData.counted(targets)
        after = torch.cumsum(torch.cat([torch.zeros_like(targets[:, :1]), targets[:, :-1] == SEP], 1), 1) > 0
        index = torch.cumsum(counted & after, 1)
        return counted & after & (index <= OPENING)

    report = {}
    for name, folder, conditioned in (("with controls", args.conditioned, True),
                                      ("without controls", args.unconditioned, False)):
        data = ComposerData(args.data, conditioned=conditioned)
        model = load_model(folder, vocabulary=VOCABULARY)
        row = {"trained_steps": json.loads((Path(folder) / "config.json").read_text()).get("step")}
        for split in ("valid", "test"):
            row[f"{split}_nll"] = round(evaluate(model, data.windows(split, args.length), "cpu",
                                                 counted=data.counted), 4)
            row[f"{split}_opening_nll"] = round(evaluate(model, data.windows(split, args.length, openings=True), "cpu",
                                                         counted=opening), 4)
        report[name] = row
    print(json.dumps({"benchmark": "composer NLL per body token (nats), same pieces, same tokens",
                      "cpu_count": os.cpu_count(), "opening_tokens": OPENING, "models": report}, indent=1))


if __name__ == "__main__":
    main()
