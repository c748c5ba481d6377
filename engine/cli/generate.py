"""`motet generate`: a prompt (and optionally audio to continue) becomes music with MusicGen,
through the same job body as the Generate page (engine/tasks/generate.py).

What the user asked for is written first: the --out files (never over an existing file: an --out
that exists is refused before any work; a default name that exists becomes name-2.wav, said on
stderr), then a copy in the generation library, where the GUI lists it. The seed is printed
("seed N" on stderr) as soon as the music is made, whatever fails after. Exit status: 0 when every
--out file was written (a library copy that fails is a warning), 1 when one could not be (then
kept in the library when it can be), 2 for what cannot be done at all, 130 on Ctrl+C (which says
what was kept)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, int_in, printable, progress_bar, prompt_text, warn
from engine.models.musicgen.options import (
    DEFAULT_GUIDANCE,
    DEFAULT_SECONDS,
    DEFAULT_TOP_K,
    GUIDANCE,
    SECONDS,
    SEED_MAX,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    VARIATIONS,
)


def add_music_options(p, seed_help: str) -> None:
    """MusicGen's sampling options, shared by `motet generate` and `motet batch generate`."""
    p.add_argument("--seconds", type=float_in(*SECONDS), default=DEFAULT_SECONDS,
                   help=f"length of the new music (default {DEFAULT_SECONDS:g}; past 30 s it is made in windows)")
    p.add_argument("--cfg", type=float_in(*GUIDANCE), default=DEFAULT_GUIDANCE,
                   help=f"classifier-free guidance (default {DEFAULT_GUIDANCE:g}; 1 is off)")
    p.add_argument("--top-k", type=int_in(*TOP_K), default=DEFAULT_TOP_K, help="0 is off, 1 is greedy")
    p.add_argument("--top-p", type=float_in(*TOP_P), default=0.0, help="0 is off")
    p.add_argument("--temperature", type=float_in(*TEMPERATURE), default=1.0)
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=None, help=seed_help)
    p.add_argument("--variations", type=int_in(*VARIATIONS), default=1, help="pieces made together (one batch)")
    p.add_argument("--compute-type", choices=("float32", "int8"), default="float32",
                   help="int8: the language model in int8 on the CPU, about 2x faster (checked against "
                        "float32 on first use)")


def add_parsers(sub) -> None:
    p = sub.add_parser("generate", help="text (and audio) to music with MusicGen")
    p.add_argument("prompt", type=prompt_text, help='what to hear, e.g. "lofi piano with soft drums"')
    p.add_argument("--model", default=None, help="an installed MusicGen (musicgen-small, ...) or a model folder")
    add_music_options(p, seed_help="the same seed gives the same music")
    p.add_argument("--continue", dest="continue_from", default=None, metavar="AUDIO",
                   help="continue this audio file (its last 20 s at most)")
    p.add_argument("--continue-start", type=float_in(0, 1e6), default=0.0, help="seconds into AUDIO to start")
    p.add_argument("--continue-end", type=float_in(0, 1e6), default=None, help="seconds into AUDIO to end")
    p.add_argument("--melody", default=None, metavar="AUDIO", help="follow this audio's melody (a melody model: musicgen-melody)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the best available)")
    p.add_argument("--out", default=None, help="FILE.wav or .flac, a new file (variations: FILE-1.wav, ...; "
                                               "default: the prompt's first words in this folder, "
                                               "numbered -2, -3, ... past existing files)")


def _outputs(args: argparse.Namespace) -> list[Path]:
    from engine.batch.inputs import prompt_slug

    out = Path(args.out) if args.out else Path(f"{prompt_slug(args.prompt)}.wav")
    if args.variations == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, args.variations + 1)]


TEMPORARY_EXTRA = 20  # bytes a name grows by while it is written (".NAME.1234abcd.part") or numbered (-2)


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _taken(args: argparse.Namespace, outs: list[Path]) -> str | None:
    """Why an explicit --out cannot be written (a file, folder or link is there), or None."""
    inputs = {"--continue": args.continue_from, "--melody": args.melody}
    for out in outs:
        if not os.path.lexists(out):
            continue
        for option, given in inputs.items():
            if given and _same_file(out, Path(given)):
                return f"--out {printable(out)} is the {option} file; Motet never overwrites an input: choose a new name"
        return f"{printable(out)} exists already; Motet never overwrites a file: choose a new --out"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return a.absolute() == b.absolute()


def _write(audio, rate: int, wanted: Path, g, taken: set[str]) -> Path:
    """``audio`` into ``wanted`` or, where something is there, the next free name (said on stderr);
    never over a file, never through a link. The name written is added to ``taken``."""
    from engine.atomic import FileExistsWriteError, write_free
    from engine.audio.generations import GenerationError, OutputExistsError, write_tagged

    try:
        target = write_free(wanted, lambda path: write_tagged(audio, rate, path, g, replace=False), taken,
                            exists=(OutputExistsError,))
    except FileExistsWriteError:
        raise GenerationError(f"could not find a free name beside {printable(wanted)}") from None
    if target != wanted:
        warn(f"{printable(wanted.name)} exists; wrote {printable(target.name)}")
    return target


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.audio.files import AudioFileError
    from engine.audio.generations import GenerationError
    from engine.device import DeviceError, choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.models.common.errors import CheckpointError
    from engine.tasks.generate import GenerateRequest, make_music

    outs = _outputs(args)
    if outs[0].suffix.lower() not in (".wav", ".flac"):
        return fail(f"--out {printable(args.out)}: choose a .wav or .flac file")
    if not outs[0].parent.is_dir():
        return fail(f"--out {printable(args.out)}: the folder {printable(outs[0].parent)} does not exist")
    longest = max(len(os.fsencode(out.name)) for out in outs) + TEMPORARY_EXTRA
    if longest > _name_max(outs[0].parent):
        return fail(f"--out {printable(args.out)}: the file name is too long for its folder "
                    f"(at most {_name_max(outs[0].parent) - TEMPORARY_EXTRA} bytes)")
    if args.out:
        problem = _taken(args, outs)
        if problem:
            return fail(problem)
    try:
        device = choose_device(args.device)
        folder = resolve_model(args.model, family_name="musicgen")
    except (DeviceError, CheckpointError) as exc:
        return fail(str(exc))
    request = GenerateRequest(args.prompt, args.seconds, args.cfg, args.temperature, args.top_k, args.top_p,
                              args.seed, args.variations, args.continue_from, args.continue_start, args.continue_end,
                              args.melody, args.compute_type)
    show = progress_bar(f"generating {args.seconds:g} s")
    try:
        made = make_music(None, folder, request, str(device.torch_device), choose_dtype(device),
                          report=lambda fraction, message: fraction is not None and show(fraction))
    except (CheckpointError, AudioFileError, GenerationError, ValueError) as exc:
        return fail(str(exc), after_progress=True)
    except KeyboardInterrupt:
        end_progress()
        print("motet generate: cancelled; nothing was written", file=sys.stderr, flush=True)
        return 130
    end_progress()
    print(f"seed {made.seed}", file=sys.stderr, flush=True)  # whatever fails next, the music can be made again
    written: list[Path] = []
    try:
        return _keep(made, outs, written)
    except KeyboardInterrupt:
        kept = "kept " + ", ".join(printable(p) for p in written) if written else "nothing was written"
        print(f"motet generate: cancelled; {kept}", file=sys.stderr, flush=True)
        return 130


def _keep(made, outs: list[Path], written: list[Path]) -> int:
    """Each variation into its file (each one written is appended to ``written`` and printed),
    then into the generation library; the exit status."""
    from engine.audio.generations import GenerationError, GenerationLibrary

    taken: set[str] = set()
    failed = []
    for index, out in enumerate(outs):
        g = made.generation(index)
        try:
            path = _write(made.audio[index], made.sample_rate, out, g, taken)
        except GenerationError as exc:
            warn(str(exc))
            failed.append(index)
            continue
        written.append(path)
        print(printable(f"{path}  ({g.seconds:.1f} s, {g.model}, seed {g.seed})"), flush=True)
    try:
        library = GenerationLibrary()
        stored = [made.store(library, index) for index in range(len(outs))]
    except GenerationError as exc:
        if written:
            warn(f"{exc}; not kept in the library ({', '.join(printable(p.name) for p in written)} "
                 f"{'is' if len(written) == 1 else 'are'} the only copy)")
        else:
            warn(f"{exc}; nothing was kept: make it again with --seed {made.seed}")
        return 1 if failed else 0
    for index in failed:
        which = f"variation {index + 1}" if len(outs) > 1 else "the music"
        warn(f"{which} is kept in the generation library: {printable(stored[index].path)}")
    return 1 if failed else 0
