"""`motet compose "PROMPT"`: the composer writes one .mid per variation and says what it understood
(the controls, what it decided, the words it did not use).

The pieces are also kept in the data folder, after --out is written (engine/tasks/compositions.py), where the Generate
page's Compose results list them. Files are named compose-<seed>-N.mid in --out; a name already there is never overwritten: the
next free one (compose-<seed>-N-2.mid) is written and said on stderr. "seed N" is printed once the
pieces are made, whatever fails after; Ctrl+C says which files were kept (exit 130)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, int_in, printable, progress_bar, prompt_text, warn
from engine.models.composer.controls import MAX_BARS, MIN_BARS

# the sampler's limits (engine/models/composer/generate.py), without importing torch here
VARIATIONS, TEMPERATURE, TOP_P, SEED_MAX = (1, 8), (0.1, 2.0), (0.5, 1.0), 2**63 - 1


def add_parsers(sub) -> None:
    p = sub.add_parser("compose", help="compose an editable MIDI piece from a prompt, offline "
                                       "(e.g. \"a lively jig in D major, 16 bars, fiddle\")")
    p.add_argument("prompt", type=prompt_text,
                   help="style, key, meter, tempo, bars and instrument in words; empty: a random style")
    p.add_argument("--bars", type=int_in(MIN_BARS, MAX_BARS), default=None, help="overrides the prompt's bars")
    p.add_argument("--variations", type=int_in(*VARIATIONS), default=1)
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=None)
    p.add_argument("--temperature", type=float_in(*TEMPERATURE), default=1.0)
    p.add_argument("--top-p", type=float_in(*TOP_P), default=0.95)
    p.add_argument("--model", default=None, help="composer folder (default: the one shipped in assets/)")
    p.add_argument("--out", default=".", help="folder for compose-<seed>-N.mid (an existing name is never "
                                              "overwritten: compose-<seed>-N-2.mid)")


def write_new_midi(score, wanted: Path, taken: set[str]) -> Path:
    """``score`` as a .mid at ``wanted`` or, where something is there, the next free name (said on
    stderr); never over a file, never through a link. WriteError when it cannot be saved."""
    from engine.atomic import write_free
    from engine.midi.midifile import write_midi

    target = write_free(wanted, lambda path: write_midi(score, path, replace=False), taken)
    if target != wanted:
        warn(f"{printable(wanted.name)} exists; wrote {printable(target.name)}")
    return target


def cmd_compose(args: argparse.Namespace) -> int:
    from engine.models.common.errors import CheckpointError
    from engine.tasks.compose import ComposeRequest, compose_piece

    from engine.tasks.compose import new_seed

    seed = args.seed if args.seed is not None else new_seed()  # drawn once: what is printed is what is composed
    try:
        from engine.models.composer.prompt import read_prompt

        reading = read_prompt(args.prompt, seed=seed, bars=args.bars)
    except ValueError as exc:  # 0 or 1000 bars, a meter the model does not know, ...
        return fail(str(exc))
    # the one reading printed is the one composed (the controls travel with the request)
    request = ComposeRequest(args.prompt, args.bars, args.variations, args.temperature, args.top_p, seed,
                             controls=reading.controls)
    print("understood: " + " · ".join(f"{k} {v}" for k, v in reading.chips().items()), file=sys.stderr)
    for notice in reading.notices:
        print(f"note: {printable(notice)}", file=sys.stderr)
    if reading.ignored:
        print("ignored: " + ", ".join(printable(w) for w in reading.ignored), file=sys.stderr)
    out = Path(args.out)
    written: list[Path] = []
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return fail(f"--out {printable(out)}: {exc.strerror or exc}", 1)
        if not out.is_dir():
            return fail(f"--out {printable(out)} is not a folder")
        show = progress_bar("composing")

        class Context:  # the job's progress, printed
            @staticmethod
            def progress(fraction, message="", force=False):
                if fraction is not None:
                    show(fraction)

            @staticmethod
            def checkpoint():
                pass

        try:
            result = compose_piece(Context(), request, args.model)
        except (ValueError, CheckpointError) as exc:
            return fail(str(exc), after_progress=True)
        end_progress()
        print(f"seed {result.seed}", file=sys.stderr, flush=True)  # whatever fails next, it can be made again
        taken: set[str] = set()
        for i, score in enumerate(result.scores, 1):
            try:
                path = write_new_midi(score, out / f"compose-{result.seed}-{i}.mid", taken)
            except OSError as exc:  # the folder cannot be written, a full disk
                return fail(f"{exc}; make it again with --seed {result.seed}", 1)
            written.append(path)
            print(printable(path), flush=True)
        from engine.tasks.compose import keep
        from engine.tasks.compositions import CompositionLibrary

        keep(result, request, CompositionLibrary())  # after --out, as `motet generate` keeps its results
        if result.not_kept:
            warn(f"{printable(result.not_kept)} (the app's Compose results will not list them)")
    except KeyboardInterrupt:
        end_progress()
        kept = "kept " + ", ".join(printable(p) for p in written) if written else "nothing was written"
        print(f"motet compose: cancelled; {kept}", file=sys.stderr, flush=True)
        return 130
    return 0
