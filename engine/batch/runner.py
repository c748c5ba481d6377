"""A batch from start to summary: find the work, skip what the manifest says is done, run the rest
on an executor (in-process or a Ray cluster), write each output atomically as soon as it is
complete, and record it. ``motet batch`` and the Transcribe page's folder job both call these."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.audio.generations import GenerationError
from engine.batch.executors import WorkerSpec, executor
from engine.batch.inputs import (
    BatchInputError,
    content_hash,
    find_sources,
    output_collision,
    prompt_slug,
    settings_hash,
)
from engine.batch.manifest import Manifest
from engine.batch.pieces import PIECE_SECONDS, plan_pieces, stitch
from engine.batch.workers import GenerateWorker, Outcome, Piece, Render, RenderSettings, TranscribeWorker
from engine.models.whisper.options import TranscribeOptions


@dataclass
class BatchProgress:
    """What a progress bar shows: items and audio done, throughput, time left."""

    unit: str  # "files" or "prompts"
    items_total: int
    seconds_total: float  # audio to process (transcribe) or to make (generate)
    items_done: int = 0
    failed: int = 0
    seconds_done: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def fraction(self) -> float:
        return self.seconds_done / self.seconds_total if self.seconds_total else 1.0

    @property
    def speed(self) -> float:
        """Seconds of audio per second of wall time (times real time)."""
        return self.seconds_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        return (self.seconds_total - self.seconds_done) / self.speed if self.speed > 0 else None

    def line(self) -> str:
        unit, scale = ("h", 3600) if self.seconds_total >= 3600 else ("min", 60)
        hours = f"{self.seconds_done / scale:.2f} of {self.seconds_total / scale:.2f} {unit} audio"
        left = self.seconds_left
        eta = "" if left is None else f" · {_duration(left)} left"
        failed = f" ({self.failed} failed)" if self.failed else ""
        return (f"{self.items_done}/{self.items_total} {self.unit}{failed} · {hours} · "
                f"{self.speed:.1f}x real time{eta}")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@dataclass
class BatchSummary:
    kind: str
    out_dir: str
    cluster: str
    workers: int
    done: list[str] = field(default_factory=list)  # inputs made now
    skipped: list[str] = field(default_factory=list)  # done by an earlier run (the manifest)
    failed: dict[str, str] = field(default_factory=dict)  # input -> why
    outputs: list[str] = field(default_factory=list)
    audio_seconds: float = 0.0  # processed (or made) now
    wall_seconds: float = 0.0
    startup_seconds: float = 0.0  # of the wall: until every worker had its model (and the cluster was up)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["speed_x_real_time"] = round(self.audio_seconds / self.wall_seconds, 3) if self.wall_seconds else None
        for key in ("audio_seconds", "wall_seconds", "startup_seconds"):
            out[key] = round(out[key], 3)
        return out


@dataclass
class _Item:
    key: str
    sources: list  # inputs sharing this content (and so this work)
    targets: list[Path]
    duration: float
    parts: int
    starts: list[float] = field(default_factory=lambda: [0.0])  # each part's start in the input (seconds)
    prompt: str = ""  # a render's
    seed: int = 0
    received: int = 0
    workers: set = field(default_factory=set)  # host:pid of the processes that did its parts
    results: dict = field(default_factory=dict)
    error: str | None = None


def _run(summary: BatchSummary, items: dict[str, _Item], work: list, spec: WorkerSpec, cluster: str | None,
         workers: int | None, threads: int | None, finish: Callable[[_Item], list[Path]], manifest: Manifest,
         out_dir: Path, state: BatchProgress, progress: Callable[[BatchProgress], None] | None,
         should_stop: Callable[[], bool] | None) -> BatchSummary:
    """Run ``work`` (pieces or renders of ``items``) and finish each item when its last part is in."""
    def done(outcome: Outcome) -> None:
        item = items[outcome.item.key]
        item.received += 1
        item.workers.add(outcome.worker)
        if outcome.error:
            item.error = item.error or outcome.error
        else:
            item.results[getattr(outcome.item, "index", 0)] = outcome.value
        state.seconds_done += outcome.item.seconds
        if item.received == item.parts:
            _finish(item)
        if progress:
            progress(state)

    def _finish(item: _Item) -> None:
        names = [str(s) for s in item.sources]
        if not item.error:
            try:
                written = finish(item)
                manifest.record(item.key, "done", sources=names, outputs=[str(p.relative_to(out_dir)) for p in written],
                                seconds=round(item.duration, 3), workers=sorted(item.workers))
                summary.done += names
                summary.outputs += [str(p) for p in written]
                summary.audio_seconds += item.duration
                state.items_done += len(names)
                return
            except (OSError, ValueError, GenerationError) as exc:  # a full disk, a damaged result
                item.error = str(exc)
        for name in names:
            summary.failed[name] = item.error
        state.items_done += len(names)
        state.failed += len(names)
        manifest.record(item.key, "failed", sources=names, error=item.error)

    if work:
        started = time.monotonic()
        run = executor(cluster, spec, workers, threads, should_stop)
        summary.workers = run.workers
        try:
            run.start()
            summary.startup_seconds = time.monotonic() - started
            state.started = time.monotonic()  # throughput and time left count from here
            if progress:
                progress(state)
            run.run(work, done)
        finally:
            run.close()
    summary.wall_seconds = summary.startup_seconds + state.elapsed
    return summary


def transcribe_batch(inputs: list[str | Path], out_dir: str | Path, fmt: str = "txt", model: str | None = None,
                     options: TranscribeOptions | None = None, cluster: str | None = None,
                     workers: int | None = None, threads: int | None = None,
                     piece_seconds: float = PIECE_SECONDS, device: str | None = "auto",
                     compute_type: str | None = None, progress: Callable[[BatchProgress], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Transcribe files and folders of audio into ``out_dir`` (outputs named like ``motet
    transcribe``'s, a folder's layout kept). Long files are cut at silences into pieces that the
    workers share. Raises BatchInputError (bad inputs or outputs, before any work), ClusterError,
    CheckpointError (no such model), Cancelled; a file that fails is in the summary."""
    from engine.audio.files import AudioFileError, audio_info
    from engine.transcript import write_transcript

    options = options or TranscribeOptions()
    out_dir = Path(out_dir)
    sources = find_sources(inputs)
    targets = {s.path: out_dir / s.stem.parent / f"{s.stem.name}.{fmt}" for s in sources}
    problem = output_collision(out_dir, list(targets.items()))
    if problem:
        raise BatchInputError(problem)
    model_key = _model_key(model, cluster, "whisper")
    settings = {"model": model_key, "format": fmt, "options": asdict(options), "piece_seconds": piece_seconds,
                "compute_type": compute_type or "default"}
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    summary = BatchSummary("transcribe", str(out_dir), cluster or "in-process", 1)
    items: dict[str, _Item] = {}
    work: list[Piece] = []
    for source in sources:
        name, target = str(source.path), targets[source.path]
        try:
            key = f"{content_hash(source.path)[:32]}-{settings_hash(settings)}"
        except OSError as exc:
            summary.failed[name] = f"cannot read {source.path}: {exc.strerror or exc}"
            continue
        if manifest.is_done(key, out_dir) and _reuse(manifest.records[key], target, out_dir):
            summary.skipped.append(name)
            continue
        if key in items:  # the same content under another name: one transcription, two outputs
            items[key].sources.append(source.path)
            items[key].targets.append(target)
            continue
        try:
            duration = audio_info(source.path).duration
            pieces = plan_pieces(source.path, duration, piece_seconds)
        except (AudioFileError, OSError, ValueError) as exc:
            summary.failed[name] = str(exc)
            manifest.record(key, "failed", sources=[name], error=str(exc))
            continue
        items[key] = _Item(key, [source.path], [target], duration, len(pieces), [start for start, _ in pieces])
        for index, (start, end) in enumerate(pieces):
            work.append(Piece(key, index, str(source.path), start, end, (end if end is not None else duration) - start))
    work.sort(key=lambda p: -p.seconds)  # longest first: the pieces of long files do not trail at the end

    def finish(item: _Item) -> list[Path]:
        parts = [item.results[i] for i in range(item.parts)]
        result = stitch(list(zip(item.starts, parts)), item.duration) if item.parts > 1 else parts[0]
        for target in item.targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_transcript(result, target, fmt)
        return item.targets

    state = BatchProgress("files", len(sources) - len(summary.skipped), sum(i.duration for i in items.values()))
    state.items_done = state.failed = len(summary.failed)
    spec = WorkerSpec(TranscribeWorker, {"model": model, "options": options, "device": device,
                                         "compute_type": compute_type})
    return _run(summary, items, work, spec, cluster, workers, threads, finish, manifest, out_dir, state, progress,
                should_stop)


def _model_key(model: str | None, cluster: str | None, family: str) -> str:
    """The model as part of the settings: its folder's name when this machine has it (an early,
    clear error if not, before any work); on a remote cluster the name as given."""
    if cluster in (None, "local"):
        from engine.models.catalog import resolve_model

        return resolve_model(model, family_name=family).name
    return model or "default"


def _reuse(record: dict, target: Path, out_dir: Path) -> bool:
    """A done item's output for this input: already there, or copied from the output an earlier
    name of the same content got (a renamed file is not transcribed again)."""
    import shutil

    from engine.atomic import atomic_path

    if target.is_file():
        return True
    outputs = [out_dir / name for name in record.get("outputs", [])]
    if not outputs or target.suffix != outputs[0].suffix:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(outputs[0], tmp)
    return True


def read_prompts(path: str | Path) -> list[str]:
    """One prompt a line; blank lines and lines starting with # are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"cannot read the prompts in {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    prompts = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise BatchInputError(f"{path} has no prompts (one a line; lines starting with # are skipped)")
    return prompts


def generate_batch(prompts_file: str | Path, out_dir: str | Path, model: str | None = None,
                   settings: RenderSettings | None = None, seed: int | None = None, cluster: str | None = None,
                   workers: int | None = None, threads: int | None = None, device: str | None = "auto",
                   progress: Callable[[BatchProgress], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Render every prompt of ``prompts_file`` with MusicGen into ``out_dir`` as WAV, the prompt,
    model and seed in each file's tags. With ``seed``, each prompt's seed comes from it and the
    prompt (reproducible, and the same whatever the prompts' order); without, each is drawn and
    recorded in the manifest and the file."""
    from engine.audio.generations import Generation, write_tagged
    from engine.models.musicgen.options import SEED_MAX, check_options

    settings = settings or RenderSettings()
    s = settings
    check_options(s.seconds, s.guidance, s.temperature, s.top_k, s.top_p, s.variations, seed)
    prompts = read_prompts(prompts_file)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchInputError(f"--output-dir {out_dir} is a file, not a folder")
    model_key = _model_key(model, cluster, "musicgen")
    digest = settings_hash({"model": model_key, **asdict(settings), "seed": seed})
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    summary = BatchSummary("generate", str(out_dir), cluster or "in-process", 1)
    items: dict[str, _Item] = {}
    work: list[Render] = []
    seen: dict[str, int] = {}
    used: set[str] = {name for r in manifest.records.values() for name in r.get("outputs", [])}
    for prompt in prompts:
        seen[prompt] = occurrence = seen.get(prompt, 0) + 1  # the same line twice: two renders
        key = hashlib.sha256(f"{prompt}\0{occurrence}\0{digest}".encode()).hexdigest()[:40]
        label = prompt if occurrence == 1 else f"{prompt} (#{occurrence})"
        if manifest.is_done(key, out_dir):
            summary.skipped.append(label)
            continue
        stem = prompt_slug(prompt)
        n = 1
        while any(f"{stem if n == 1 else f'{stem}-{n}'}{suffix}.wav" in used for suffix in _suffixes(s.variations)):
            n += 1
        stem = stem if n == 1 else f"{stem}-{n}"
        targets = [out_dir / f"{stem}{suffix}.wav" for suffix in _suffixes(s.variations)]
        used.update(t.name for t in targets)
        if seed is None:
            this_seed = random.randint(0, SEED_MAX)
        else:
            this_seed = int(hashlib.sha256(f"{seed}\0{prompt}\0{occurrence}".encode()).hexdigest(), 16) % (SEED_MAX + 1)
        items[key] = _Item(key, [label], targets, s.seconds * s.variations, 1, prompt=prompt, seed=this_seed)
        work.append(Render(key, prompt, this_seed, s.seconds * s.variations))

    def finish(item: _Item) -> list[Path]:
        audio, rate, name, notes = item.results[0]
        for index, target in enumerate(item.targets):
            extra = {"variation": index + 1, "variations": s.variations} if s.variations > 1 else {}
            g = Generation(item.key[:12], item.prompt, name, item.seed, audio.shape[-1] / rate, rate,
                           audio.shape[1], time.time(), {**_generation_settings(s), **notes, **extra})
            write_tagged(audio[index], rate, target, g)
        return item.targets

    state = BatchProgress("prompts", len(work), sum(r.seconds for r in work))
    spec = WorkerSpec(GenerateWorker, {"model": model, "settings": settings, "device": device})
    return _run(summary, items, work, spec, cluster, workers, threads, finish, manifest, out_dir, state, progress,
                should_stop)


def _suffixes(variations: int) -> list[str]:
    return [""] if variations == 1 else [f"-{i}" for i in range(1, variations + 1)]


def _generation_settings(s: RenderSettings) -> dict:
    out = {"guidance": s.guidance, "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p}
    if s.compute_type != "float32":
        out["compute"] = s.compute_type
    return out
