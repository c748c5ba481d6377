"""`motet compose "PROMPT"`: the composer writes one .mid per variation and says what it understood
(the controls, what it decided, the words it did not use)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, int_in, progress_bar
from engine.models.composer.controls import MAX_BARS, MIN_BARS

# the sampler's limits (engine/models/composer/generate.py), without importing torch here
VARIATIONS, TEMPERATURE, TOP_P, SEED_MAX = (1, 8), (0.1, 2.0), (0.5, 1.0), 2**63 - 1


def add_parsers(sub) -> None:
    p = sub.add_parser("compose", help="compose an editable MIDI piece from a prompt, offline "
                                       "(e.g. \"a lively jig in D major, 16 bars, fiddle\")")
    p.add_argument("prompt", help="style, key, meter, tempo, bars and instrument in words; empty: a random style")
    p.add_argument("--bars", type=int_in(MIN_BARS, MAX_BARS), default=None, help="overrides the prompt's bars")
    p.add_argument("--variations", type=int_in(*VARIATIONS), default=1)
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=None)
    p.add_argument("--temperature", type=float_in(*TEMPERATURE), default=1.0)
    p.add_argument("--top-p", type=float_in(*TOP_P), default=0.95)
    p.add_argument("--model", default=None, help="composer folder (default: the one shipped in assets/)")
    p.add_argument("--out", default=".", help="folder for compose-<seed>-N.mid")


def cmd_compose(args: argparse.Namespace) -> int:
    from engine.midi.midifile import write_midi
    from engine.models.common.errors import CheckpointError
    from engine.tasks.compose import ComposeRequest, compose_piece

    request = ComposeRequest(args.prompt, args.bars, args.variations, args.temperature, args.top_p, args.seed)
    try:
        from engine.models.composer.prompt import read_prompt

        reading = read_prompt(args.prompt, seed=args.seed, bars=args.bars)
    except ValueError as exc:  # 0 or 1000 bars, a meter the model does not know, ...
        return fail(str(exc))
    print("understood: " + " · ".join(f"{k} {v}" for k, v in reading.chips().items()), file=sys.stderr)
    for notice in reading.notices:
        print(f"note: {notice}", file=sys.stderr)
    if reading.ignored:
        print("ignored: " + ", ".join(reading.ignored), file=sys.stderr)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        show = progress_bar("composing")

        class Context:  # the job's progress, printed
            @staticmethod
            def progress(fraction, message="", force=False):
                if fraction is not None:
                    show(fraction)

            @staticmethod
            def checkpoint():
                pass

        result = compose_piece(Context(), request, args.model)
        end_progress()
        for i, score in enumerate(result.scores, 1):
            path = write_midi(score, out / f"compose-{result.seed}-{i}.mid")
            print(path)
    except (ValueError, CheckpointError) as exc:
        return fail(str(exc), after_progress=True)
    except OSError as exc:  # the folder cannot be written, a full disk
        return fail(f"{getattr(exc, 'filename', None) or out}: {exc.strerror or exc}", 1, after_progress=True)
    print(f"seed {result.seed}", file=sys.stderr)
    return 0
