"""`motet train`, `motet continue`: the Music Transformer.

Every option is checked by the parser with the limits in engine/models/music_transformer/options.py
(the piano roll's Continue panel uses the same), and every problem with a file is one line and a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, int_in, progress_bar, warn
from engine.models.music_transformer.options import (
    BARS,
    BATCH,
    LENGTH,
    LR,
    SEED_MAX,
    SIZE_LIMITS,
    STEPS,
    TEMPERATURE,
    THREADS,
    TOP_P,
    VARIATIONS,
)


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train a model on the music21 corpus: the Music Transformer (Continue), "
                                     "the composer (Compose), or the composer without its controls (a baseline)")
    p.add_argument("model", choices=["music-transformer", "composer", "composer-unconditioned"])
    p.add_argument("--data", default=None, help="dataset folder (built there if missing; default data/MODEL, "
                                                "the composer's two models share data/composer)")
    p.add_argument("--out", default=None, help="checkpoints, logs and best weights (resumes; default runs/MODEL)")
    p.add_argument("--position", choices=["relative", "absolute"], default="relative")
    p.add_argument("--steps", type=int_in(*STEPS), default=3000)
    p.add_argument("--batch", type=int_in(*BATCH), default=8)
    p.add_argument("--length", type=int_in(*LENGTH), default=256, help="tokens per training window")
    p.add_argument("--d-model", type=int_in(*SIZE_LIMITS["d_model"]), default=256)
    p.add_argument("--layers", type=int_in(*SIZE_LIMITS["n_layers"]), default=4)
    p.add_argument("--heads", type=int_in(*SIZE_LIMITS["n_heads"]), default=8, help="must divide --d-model")
    p.add_argument("--eval-every", type=int_in(*STEPS), default=250)
    p.add_argument("--lr", type=float_in(*LR, low_open=True), default=1e-3)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the best available)")
    p.add_argument("--threads", type=int_in(*THREADS), default=None)

    p = sub.add_parser("continue", help="continue a MIDI motif with the Music Transformer")
    p.add_argument("midi")
    p.add_argument("--bars", type=float_in(*BARS), default=4)
    p.add_argument("--variations", type=int_in(*VARIATIONS), default=1)
    p.add_argument("--temperature", type=float_in(*TEMPERATURE), default=1.0)
    p.add_argument("--top-p", type=float_in(*TOP_P), default=0.95)
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=None)
    p.add_argument("--track", type=int_in(0), default=None,
                   help="continue this track, counted from 0 (default: the notes of all tracks but drums, "
                        "written into the first of them)")
    p.add_argument("--model", default=None, help="model folder (default: the one shipped in assets/)")
    p.add_argument("--out", default=".", help="folder for <name>-continued-N.mid")


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from engine.device import DeviceError, choose_device
    from engine.models.common.errors import CheckpointError
    from engine.models.music_transformer.model import MusicTransformerConfig
    from engine.models.music_transformer.train import EventData, TrainOptions, check_training, test_nll, train

    composer = args.model.startswith("composer")
    if composer:
        from engine.models.composer.batches import ComposerData
        from engine.models.composer.data import build_dataset
        from engine.models.composer.tokens import PAD, VOCAB_SIZE
    else:
        from engine.models.music_transformer.data import build_dataset
    args.data = args.data or ("data/composer" if composer else "data/music-transformer")
    args.out = args.out or f"runs/{args.model}"

    # everything is checked before the dataset is built or a tensor allocated
    try:
        device = str(choose_device(args.device).torch_device)
    except DeviceError as exc:
        return fail(f"--device: {exc}")
    if args.d_model % args.heads:
        return fail(f"--d-model {args.d_model} must be divisible by --heads {args.heads}")
    try:
        vocabulary = dict(vocab_size=VOCAB_SIZE, pad_id=PAD, vocabulary=ComposerData.vocabulary) if composer else {}
        config = MusicTransformerConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                                        d_ff=4 * args.d_model, position=args.position, **vocabulary)
        options = TrainOptions(steps=args.steps, batch=args.batch, length=args.length,
                               eval_every=args.eval_every, lr=args.lr)
        check_training(config, options)
    except ValueError as exc:
        return fail(str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    last = [0.0]

    def show(fraction: float, message: str) -> None:
        import time

        if "validation" in message or time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            print(f"\r[{fraction * 100:5.1f}%] {message}    ", end="\n" if "validation" in message else "",
                  file=sys.stderr, flush=True)

    try:
        if not (data / "info.json").exists():
            print(f"building the dataset in {data} from the music21 corpus…", file=sys.stderr)
            info = build_dataset(data, progress=progress_bar("parsing"))
            end_progress()
            print({k: info[k]["pieces"] for k in ("train", "valid", "test")}, "pieces", file=sys.stderr)
        dataset = ComposerData(data, conditioned=args.model == "composer") if composer else EventData(data)
        log = train(data, args.out, config, options, device=device, progress=show, data=dataset)
        nll = test_nll(data, Path(args.out) / "best", options.length, device, data=dataset)
        log["test_nll"] = nll
        from engine.atomic import write_text

        write_text(Path(args.out) / "log.json", json.dumps(log, indent=1))
    except (ValueError, CheckpointError) as exc:  # a folder trained with another configuration
        return fail(str(exc))
    except OSError as exc:  # a dataset or output folder that cannot be read or written
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return fail(f"{where}{exc.strerror or exc}", 1)
    print(json.dumps({"best_valid_nll": log["best_valid_nll"], "test_nll": nll, "steps": log["steps"][-1:],
                      "position": args.position, "weights": str(Path(args.out) / "best")}))
    return 0


def continued_tracks_message(score, tracks: list[int], notes: int) -> str:
    """Which tracks are continued, which are not (and where they stop), and how to choose:
    'continuing track 1 "Bass" (10 notes); track 0 "Drums" (drums) is not continued and stops after
    bar 2: give --track N to continue another track'."""
    def named(i: int) -> str:
        name = score.tracks[i].name.strip()
        return f'track {i} "{name}"' if name else f"track {i}"

    bar = max(1, score.ticks_per_bar)
    if len(tracks) == 1:
        said = f"continuing {named(tracks[0])} ({notes} note{'s' * (notes != 1)})"
    else:
        said = (f"continuing {', '.join(named(i) for i in tracks[:-1])} and {named(tracks[-1])} together "
                f"({notes} notes; the new notes go into {named(tracks[0])})")
    left = [i for i, t in enumerate(score.tracks) if i not in tracks and t.notes]
    if not left:
        return said
    parts = []
    for i in left:
        t = score.tracks[i]
        end_bar = -(-max(n.end for n in t.notes) // bar)
        parts.append(f"{named(i)}{' (drums)' if t.is_drums else ''} stops after bar {end_bar}")
    return (f"{said}; not continued: {', '.join(parts)}: give --track N to continue another track "
            f"(0 to {len(score.tracks) - 1})")


def cmd_continue(args: argparse.Namespace) -> int:
    from engine.atomic import WriteError, write_free
    from engine.midi import midifile
    from engine.models.common.errors import CheckpointError
    from engine.tasks import music as music_jobs

    try:
        score = midifile.read_midi(args.midi)
    except midifile.MidiFileError as exc:
        return fail(str(exc))
    if args.track is not None and args.track >= len(score.tracks):
        count = len(score.tracks)
        return fail(f"--track {args.track}: '{Path(args.midi).name}' has {count} track{'s' * (count != 1)}"
                     + (f" (0 to {count - 1})" if count else ""))
    out = Path(args.out)
    try:  # before generating: a folder that cannot be made is known at once
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"--out {out}: cannot make this folder ({exc.strerror or exc})")
    tracks = [args.track] if args.track is not None else [i for i, t in enumerate(score.tracks) if not t.is_drums]
    prompt = [n for i in tracks for n in score.tracks[i].notes]
    if prompt and sum(1 for t in score.tracks if t.notes) > 1:  # which of them: said (one track: nothing to say)
        warn(continued_tracks_message(score, tracks, len(prompt)))
    try:
        variations = music_jobs.continue_motif(None, score, prompt, args.bars, args.variations, args.temperature,
                                               args.top_p, args.seed, model_folder=args.model)
    except (CheckpointError, ValueError) as exc:  # a model folder that cannot be used, nothing to continue
        return fail(str(exc))
    for i, notes in enumerate(variations, start=1):
        result = music_jobs.with_notes(score, tracks[0] if tracks else 0, notes)
        wanted = out / f"{Path(args.midi).stem}-continued-{i}.mid"
        try:  # a file that is there already (an earlier run's) is never replaced
            path = write_free(wanted, lambda p, result=result: midifile.write_midi(result, p, replace=False))
        except WriteError as exc:  # its message names the file and the cause
            return fail(str(exc), 1)
        if path != wanted:
            warn(f"{wanted.name} exists already; wrote {path.name}")
        print(f"{path}: {len(notes)} new notes")
    return 0
