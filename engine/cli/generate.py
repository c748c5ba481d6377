"""`motet generate`: a prompt (and optionally audio to continue) becomes music with MusicGen,
through the same job body as the Generate page (engine/tasks/generate.py); each result is also
kept in the generation library, where the GUI lists it."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, int_in, progress_bar, warn
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
    p.add_argument("prompt", help='what to hear, e.g. "lofi piano with soft drums"')
    p.add_argument("--model", default=None, help="an installed MusicGen (musicgen-small, ...) or a model folder")
    add_music_options(p, seed_help="the same seed gives the same music")
    p.add_argument("--continue", dest="continue_from", default=None, metavar="AUDIO",
                   help="continue this audio file (its last 20 s at most)")
    p.add_argument("--continue-start", type=float_in(0, 1e6), default=0.0, help="seconds into AUDIO to start")
    p.add_argument("--continue-end", type=float_in(0, 1e6), default=None, help="seconds into AUDIO to end")
    p.add_argument("--melody", default=None, metavar="AUDIO", help="follow this audio's melody (a melody model: musicgen-melody)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the best available)")
    p.add_argument("--out", default=None, help="FILE.wav or .flac (variations: FILE-1.wav, ...; "
                                               "default: the prompt's first words in this folder)")


def _outputs(args: argparse.Namespace) -> list[Path]:
    from engine.batch.inputs import prompt_slug

    out = Path(args.out) if args.out else Path(f"{prompt_slug(args.prompt)}.wav")
    if args.variations == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, args.variations + 1)]


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.audio.files import AudioFileError
    from engine.audio.generations import GenerationError, GenerationLibrary, write_tagged
    from engine.device import DeviceError, choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.models.common.errors import CheckpointError
    from engine.tasks.generate import GenerateRequest, generate_music

    outs = _outputs(args)
    if outs[0].suffix.lower() not in (".wav", ".flac"):
        return fail(f"--out {args.out}: choose a .wav or .flac file")
    if not outs[0].parent.is_dir():
        return fail(f"--out {args.out}: the folder {outs[0].parent} does not exist")
    try:
        device = choose_device(args.device)
        folder = resolve_model(args.model, family_name="musicgen")
    except (DeviceError, CheckpointError) as exc:
        return fail(str(exc))
    request = GenerateRequest(args.prompt, args.seconds, args.cfg, args.temperature, args.top_k, args.top_p,
                              args.seed, args.variations, args.continue_from, args.continue_start, args.continue_end,
                              args.melody, args.compute_type)
    show = progress_bar(f"generating {args.seconds:g} s")
    library = GenerationLibrary()

    try:
        results = generate_music(None, folder, request, str(device.torch_device), choose_dtype(device),
                                 library=library, report=lambda fraction, message: fraction is not None and show(fraction))
    except (CheckpointError, AudioFileError, GenerationError, ValueError) as exc:
        return fail(str(exc), after_progress=True)
    end_progress()
    status = 0
    for g, out in zip(results, outs):
        try:
            audio, rate = library.audio(g.id)
            write_tagged(audio, rate, out, g)
        except GenerationError as exc:
            warn(str(exc))
            status = 1
            continue
        print(f"{out}  ({g.seconds:.1f} s, {g.model}, seed {g.seed})")
    return status
