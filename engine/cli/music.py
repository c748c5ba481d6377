"""`motet train`, `motet continue`: the Music Transformer."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.common import progress_bar


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train a model (music-transformer) on the music21 corpus")
    p.add_argument("model", choices=["music-transformer"])
    p.add_argument("--data", default="data/music-transformer", help="dataset folder (built there if missing)")
    p.add_argument("--out", default="runs/music-transformer", help="checkpoints, logs and best weights (resumes)")
    p.add_argument("--position", choices=["relative", "absolute"], default="relative")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=256, help="tokens per training window")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the best available)")
    p.add_argument("--threads", type=int, default=None)

    p = sub.add_parser("continue", help="continue a MIDI motif with the Music Transformer")
    p.add_argument("midi")
    p.add_argument("--bars", type=float, default=4)
    p.add_argument("--variations", type=int, default=1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--track", type=int, default=None, help="continue this track (default: all tracks' notes)")
    p.add_argument("--model", default=None, help="model folder (default: the one shipped in assets/)")
    p.add_argument("--out", default=".", help="folder for <name>-continued-N.mid")


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from engine.device import choose_device
    from engine.models.music_transformer.data import build_dataset
    from engine.models.music_transformer.model import MusicTransformerConfig
    from engine.models.music_transformer.train import TrainOptions, test_nll, train

    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "info.json").exists():
        print(f"building the dataset in {data} from the music21 corpus…", file=sys.stderr)
        info = build_dataset(data, progress=progress_bar("parsing"))
        print(file=sys.stderr)
        print({k: info[k]["pieces"] for k in ("train", "valid", "test")}, "pieces", file=sys.stderr)
    device = str(choose_device(args.device).torch_device)
    config = MusicTransformerConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                                    d_ff=4 * args.d_model, position=args.position)
    options = TrainOptions(steps=args.steps, batch=args.batch, length=args.length, eval_every=args.eval_every,
                           lr=args.lr)
    last = [0.0]

    def show(fraction: float, message: str) -> None:
        import time

        if "validation" in message or time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            print(f"\r[{fraction * 100:5.1f}%] {message}    ", end="\n" if "validation" in message else "",
                  file=sys.stderr, flush=True)

    log = train(data, args.out, config, options, device=device, progress=show)
    nll = test_nll(data, Path(args.out) / "best", options.length, device)
    log["test_nll"] = nll
    (Path(args.out) / "log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps({"best_valid_nll": log["best_valid_nll"], "test_nll": nll, "steps": log["steps"][-1:],
                      "position": args.position, "weights": str(Path(args.out) / "best")}))
    return 0


def cmd_continue(args: argparse.Namespace) -> int:
    from engine.midi.midifile import MidiFileError, read_midi, write_midi
    from engine.midi.score import Track
    from engine.models.music_transformer.generate import ASSET_DIR, ModelFileError, continue_notes, load_model

    try:
        score = read_midi(args.midi)
        model = load_model(args.model or ASSET_DIR)
    except (MidiFileError, ModelFileError) as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    tracks = [score.tracks[args.track]] if args.track is not None else [t for t in score.tracks if not t.is_drums]
    prompt = [n for t in tracks for n in t.notes]
    try:
        variations = continue_notes(model, score, prompt, args.bars, args.variations, args.temperature,
                                    args.top_p, args.seed)
    except ValueError as exc:
        print(f"motet: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = tracks[0] if tracks else Track()
    for i, notes in enumerate(variations, start=1):
        result = score.copy()
        index = score.tracks.index(target) if target in score.tracks else 0
        result.tracks[index].notes = sorted(result.tracks[index].notes + notes)
        path = write_midi(result, out / f"{Path(args.midi).stem}-continued-{i}.mid")
        print(f"{path}: {len(notes)} new notes")
    return 0
