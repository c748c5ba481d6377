"""A batch from start to summary: find the work, skip what the manifest says is done, run the rest
on an executor (in-process or a Ray cluster), write each output atomically as soon as it is
complete, and record it. ``motet batch`` and the Transcribe page's folder job both call these.

What a batch promises about its output folder (DESIGN.md §8): one batch at a time writes into it
(``lock.folder_lock``); nothing is written through a symbolic link (the manifest, an output, or a
folder under the output folder); a file there that the manifest does not record as a batch's own
output is never replaced: the output goes beside it under a free name (``talk-2.txt``), and the
summary's ``renamed`` and ``notes`` say so. An input is fingerprinted (device, inode, size,
modification and change times) before it is hashed and again when its work is in: if anything
wrote to it, truncated or replaced it meanwhile (the change time cannot be set back), the item
fails ("changed while it was transcribed") instead of being recorded under a hash of other bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.atomic import WriteError, free_path, write_bytes, write_text
from engine.audio.generations import GenerationError
from engine.batch.executors import WorkerSpec, executor, worker_bytes
from engine.batch.inputs import (
    BatchInputError,
    content_hash,
    find_sources,
    output_collision,
    prompt_slug,
    settings_hash,
    unwritable,
)
from engine.batch.lock import folder_lock
from engine.batch.manifest import Manifest, safe_output
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
    renamed: dict[str, str] = field(default_factory=dict)  # output asked -> written (a file not ours was there)
    notes: list[str] = field(default_factory=list)  # warnings: fewer workers than asked, outputs renamed
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
    facts: dict = field(default_factory=dict)  # more for its manifest line (targets; prompt and seed)
    fingerprints: list = field(default_factory=list)  # (input, its fingerprint when hashed)
    replace: set = field(default_factory=set)  # targets that are this folder's own outputs (replaced, not renamed)
    received: int = 0
    workers: set = field(default_factory=set)  # host:pid of the processes that did its parts
    results: dict = field(default_factory=dict)
    error: str | None = None


def _note(summary: BatchSummary, warn: Callable[[str], None] | None, message: str) -> None:
    summary.notes.append(message)
    if warn:
        warn(message)


@contextlib.contextmanager
def _output_folder(out_dir: Path) -> Iterator[None]:
    """``out_dir`` made if missing and locked for this batch; BatchInputError (one line) if it
    cannot be made or written in, or another batch holds it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchInputError(f"--output-dir {out_dir} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchInputError(unwritable(out_dir, exc)) from exc
    with folder_lock(out_dir):
        yield


def _folders_for(out_dir: Path, target: Path) -> None:
    """Make ``target``'s folders under ``out_dir``, refusing any that is a link or not a folder
    (nothing is written through a link)."""
    folder = out_dir
    for part in target.relative_to(out_dir).parts[:-1]:
        folder = folder / part
        try:
            os.mkdir(folder)
            continue
        except FileExistsError:
            pass
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            raise WriteError(errno.ELOOP, f"could not save '{target.name}': {folder} is a symbolic link; "
                                          f"Motet does not write through links")
        if not stat.S_ISDIR(mode):
            raise WriteError(errno.ENOTDIR, f"could not save '{target.name}': {folder} is not a folder")


def _rel(out_dir: Path, path: Path) -> str:
    return path.relative_to(out_dir).as_posix()


def _claim(out_dir: Path, target: Path, owned: set[str], mine: dict[str, str], planned: set[str]) -> tuple[Path, bool]:
    """Where an output asked at ``target`` goes, and whether it may replace a file there: the name
    itself when it is free, or a regular file the manifest records as a batch's own (``owned``);
    else the output this folder's batches wrote for that name before (``mine``: asked -> written),
    else a free name beside it. ``planned``: the names this batch writes (kept free)."""
    name = _rel(out_dir, target)
    if not os.path.lexists(target):
        return target, False
    if name in owned and safe_output(out_dir, name):
        return target, True
    earlier = mine.get(name)
    if earlier and earlier not in planned and safe_output(out_dir, earlier):
        planned.add(earlier)
        return out_dir / earlier, True
    folder = Path(name).parent
    taken = {Path(n).name for n in owned | planned if Path(n).parent == folder}
    chosen = free_path(target, taken)
    planned.add(_rel(out_dir, chosen))
    return chosen, False


def _fingerprint(path: Path) -> tuple:
    """What changes whenever a file is written, truncated, replaced or touched."""
    info = os.stat(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _changed(item: _Item, verb: str) -> str | None:
    """Why ``item``'s work no longer matches its inputs (one was changed since it was hashed), or None."""
    for path, before in item.fingerprints:
        try:
            now = _fingerprint(path)
        except OSError:
            now = None
        if now != before:
            return f"{path} changed while it was {verb}; run the batch again"
    return None


def _run(summary: BatchSummary, items: dict[str, _Item], work: list, spec: WorkerSpec, cluster: str | None,
         workers: int | None, threads: int | None, finish: Callable[[_Item], list[Path]], manifest: Manifest,
         out_dir: Path, state: BatchProgress, progress: Callable[[BatchProgress], None] | None,
         should_stop: Callable[[], bool] | None, warn: Callable[[str], None] | None = None,
         per_worker: int | None = None, verb: str = "transcribed") -> BatchSummary:
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
        item.error = _changed(item, verb) or item.error
        if not item.error:
            try:
                written = finish(item)
                manifest.record(item.key, "done", sources=names, outputs=[_rel(out_dir, p) for p in written],
                                **item.facts, seconds=round(item.duration, 3), workers=sorted(item.workers))
                summary.done += names
                summary.outputs += [str(p) for p in written]
                summary.audio_seconds += item.duration
                state.items_done += len(names)
                return
            except (OSError, ValueError, RuntimeError, GenerationError) as exc:  # a full disk, a damaged result
                item.error = str(exc)
        for name in names:
            summary.failed[name] = item.error
        state.items_done += len(names)
        state.failed += len(names)
        manifest.record(item.key, "failed", sources=names, error=item.error)

    if work:
        started = time.monotonic()
        run = executor(cluster, spec, workers, threads, should_stop, per_worker)
        summary.workers = run.workers
        if getattr(run, "note", None):
            _note(summary, warn, run.note)
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
                     should_stop: Callable[[], bool] | None = None,
                     warn: Callable[[str], None] | None = None) -> BatchSummary:
    """Transcribe files and folders of audio into ``out_dir`` (outputs named like ``motet
    transcribe``'s, a folder's layout kept). Long files are cut at silences into pieces that the
    workers share. Raises BatchInputError (bad inputs or outputs, another batch in ``out_dir``:
    before any work), ClusterError, CheckpointError (no such model), Cancelled; a file that fails
    is in the summary. ``warn``: each warning line (also in the summary's notes) as it comes."""
    from engine.audio.files import AudioFileError, audio_info
    from engine.transcript import render

    options = options or TranscribeOptions()
    out_dir = Path(out_dir)
    sources = find_sources(inputs)
    targets = {s.path: out_dir / s.stem.parent / f"{s.stem.name}.{fmt}" for s in sources}
    problem = output_collision(out_dir, list(targets.items()))
    if problem:
        raise BatchInputError(problem)
    model_key, per_worker = _model(model, cluster, "whisper")
    settings = {"model": model_key, "format": fmt, "options": asdict(options), "piece_seconds": piece_seconds,
                "compute_type": compute_type or "default"}
    with _output_folder(out_dir):
        manifest = Manifest(out_dir)
        summary = BatchSummary("transcribe", str(out_dir), cluster or "in-process", 1)
        owned, mine = manifest.owned(), _written_for(manifest)
        planned = {_rel(out_dir, t) for t in targets.values()}
        items: dict[str, _Item] = {}
        work: list[Piece] = []

        def claim(target: Path) -> tuple[Path, bool]:
            dest, replace = _claim(out_dir, target, owned, mine, planned)
            if dest != target:
                summary.renamed[str(target)] = str(dest)
                _note(summary, warn, f"{target} is there and is not this batch's output: "
                                     f"writing {dest.name} beside it")
            return dest, replace

        for source in sources:
            name, target = str(source.path), targets[source.path]
            try:
                before = _fingerprint(source.path)
                key = f"{content_hash(source.path)[:32]}-{settings_hash(settings)}"
                changed = _fingerprint(source.path) != before
            except OSError as exc:
                summary.failed[name] = f"cannot read {source.path}: {exc.strerror or exc}"
                continue
            if changed:
                summary.failed[name] = f"{source.path} changed while it was read; run the batch again"
                continue
            record = manifest.done_record(key)
            if record and _rel(out_dir, target) in (record.get("targets") or record["outputs"]):
                summary.skipped.append(name)  # done, and its output is there
                continue
            if key in items:  # the same content under another name: one transcription, two outputs
                dest, replace = claim(target)
                item = items[key]
                item.sources.append(source.path)
                item.targets.append(dest)
                item.facts["targets"].append(_rel(out_dir, target))
                item.fingerprints.append((source.path, before))
                if replace:
                    item.replace.add(dest)
                continue
            if record and Path(record["outputs"][0]).suffix == target.suffix:
                try:  # done under another name (a renamed file): a copy of its output
                    _copy_done(manifest, record, name, target, claim, owned, mine)
                    summary.skipped.append(name)
                except OSError as exc:
                    summary.failed[name] = str(exc)
                continue
            try:
                duration = audio_info(source.path).duration
                pieces = plan_pieces(source.path, duration, piece_seconds)
            except (AudioFileError, OSError, ValueError) as exc:
                summary.failed[name] = str(exc)
                manifest.record(key, "failed", sources=[name], error=str(exc))
                continue
            dest, replace = claim(target)
            items[key] = _Item(key, [source.path], [dest], duration, len(pieces), [start for start, _ in pieces],
                               facts={"targets": [_rel(out_dir, target)]}, fingerprints=[(source.path, before)],
                               replace={dest} if replace else set())
            for index, (start, end) in enumerate(pieces):
                work.append(Piece(key, index, str(source.path), start, end,
                                  (end if end is not None else duration) - start))
        work.sort(key=lambda p: -p.seconds)  # longest first: the pieces of long files do not trail at the end

        def finish(item: _Item) -> list[Path]:
            parts = [item.results[i] for i in range(item.parts)]
            result = stitch(list(zip(item.starts, parts)), item.duration) if item.parts > 1 else parts[0]
            text = render(result, fmt)
            for target in item.targets:
                _folders_for(out_dir, target)
                write_text(target, text, replace=target in item.replace)  # a name taken meanwhile: refused
            return item.targets

        state = BatchProgress("files", len(sources) - len(summary.skipped), sum(i.duration for i in items.values()))
        state.items_done = state.failed = len(summary.failed)
        spec = WorkerSpec(TranscribeWorker, {"model": model, "options": options, "device": device,
                                             "compute_type": compute_type})
        return _run(summary, items, work, spec, cluster, workers, threads, finish, manifest, out_dir, state,
                    progress, should_stop, warn, per_worker, "transcribed")


def _model(model: str | None, cluster: str | None, family: str) -> tuple[str, int | None]:
    """The model as part of the settings, and the memory a worker needs for it: its folder's name
    and size when this machine has it (an early, clear error if not, before any work); on a
    remote cluster the name as given (and no size)."""
    if cluster in (None, "local"):
        from engine.models.catalog import resolve_model

        folder = resolve_model(model, family_name=family)
        return folder.name, worker_bytes(folder)
    return model or "default", None


def _model_key(model: str | None, cluster: str | None, family: str) -> str:
    return _model(model, cluster, family)[0]


def _written_for(manifest: Manifest) -> dict[str, str]:
    """Output names asked -> the names written instead, from the done lines (latest last)."""
    mine: dict[str, str] = {}
    for record in manifest.records.values():
        if record.get("status") == "done" and "targets" in record:
            mine.update(zip(record["targets"], record["outputs"]))
    return mine


def _copy_done(manifest: Manifest, record: dict, name: str, target: Path, claim, owned: set[str],
               mine: dict[str, str]) -> None:
    """A done item's output copied for another input of the same content (a renamed file is not
    transcribed again), and recorded as that item's output too."""
    out_dir = manifest.out_dir
    source = safe_output(out_dir, record["outputs"][0])
    if source is None:
        raise WriteError(errno.ENOENT, f"{record['outputs'][0]} is gone")
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise WriteError(errno.EINVAL, f"{source} is not a regular file")
        data = f.read()
    dest, replace = claim(target)
    _folders_for(out_dir, dest)
    write_bytes(dest, data, replace=replace)
    asked = list(record.get("targets") or record["outputs"])
    manifest.record(record["key"], "done", sources=[*_names(record.get("sources")), name],
                    outputs=[*record["outputs"], _rel(out_dir, dest)], targets=[*asked, _rel(out_dir, target)],
                    **{k: record[k] for k in ("seconds", "workers") if k in record})
    owned.add(_rel(out_dir, dest))
    mine[_rel(out_dir, target)] = _rel(out_dir, dest)


def _names(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


MAX_PROMPTS_BYTES = 16 << 20
MAX_PROMPT_CHARS = 2000  # far past what MusicGen reads (512 tokens)
MAX_PROMPTS = 100_000


def read_prompts(path: str | Path) -> list[str]:
    """One prompt a line ("\\n"-separated, a trailing "\\r" dropped; nothing else splits a line);
    blank lines and lines starting with # are skipped. BatchInputError (one line) for a file that
    is missing, not a regular file, over MAX_PROMPTS_BYTES, not UTF-8, without prompts, with a
    prompt over MAX_PROMPT_CHARS characters or more than MAX_PROMPTS prompts."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO: no wait
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BatchInputError(f"cannot read the prompts in {path}: it is "
                                      f"{'a folder' if stat.S_ISDIR(info.st_mode) else 'not a regular file'}")
            if info.st_size > MAX_PROMPTS_BYTES:
                raise BatchInputError(f"{path} is {info.st_size / 2**20:.1f} MB; a prompts file is at most "
                                      f"{MAX_PROMPTS_BYTES >> 20} MB (one prompt a line)")
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read(MAX_PROMPTS_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise BatchInputError(f"cannot read the prompts in {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_PROMPTS_BYTES:  # grew since
        raise BatchInputError(f"{path} is more than {MAX_PROMPTS_BYTES >> 20} MB; a prompts file is at most that")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BatchInputError(f"{path} is not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8") from None
    prompts = []
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), 1):
        line = line.removesuffix("\r").strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_PROMPT_CHARS:
            raise BatchInputError(f"line {number} of {path} has {len(line)} characters; a prompt is at most "
                                  f"{MAX_PROMPT_CHARS} (MusicGen reads its first 512 tokens)")
        prompts.append(line)
        if len(prompts) > MAX_PROMPTS:
            raise BatchInputError(f"{path} has more than {MAX_PROMPTS} prompts; split it into several batches")
    if not prompts:
        raise BatchInputError(f"{path} has no prompts (one a line; lines starting with # are skipped)")
    return prompts


def generate_batch(prompts_file: str | Path, out_dir: str | Path, model: str | None = None,
                   settings: RenderSettings | None = None, seed: int | None = None, cluster: str | None = None,
                   workers: int | None = None, threads: int | None = None, device: str | None = "auto",
                   progress: Callable[[BatchProgress], None] | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   warn: Callable[[str], None] | None = None) -> BatchSummary:
    """Render every prompt of ``prompts_file`` with MusicGen into ``out_dir`` as WAV, the prompt,
    model and seed in each file's tags and in the manifest's line. With ``seed``, each prompt's
    seed comes from it and the prompt (reproducible, and the same whatever the prompts' order);
    without, each is drawn. Outputs get names no file has (``slow-piano-2.wav``)."""
    from engine.audio.generations import Generation
    from engine.models.musicgen.options import SEED_MAX, check_options

    settings = settings or RenderSettings()
    s = settings
    check_options(s.seconds, s.guidance, s.temperature, s.top_k, s.top_p, s.variations, seed)
    prompts = read_prompts(prompts_file)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchInputError(f"--output-dir {out_dir} is a file, not a folder")
    model_key, per_worker = _model(model, cluster, "musicgen")
    digest = settings_hash({"model": model_key, **asdict(settings), "seed": seed})
    with _output_folder(out_dir):
        manifest = Manifest(out_dir)
        summary = BatchSummary("generate", str(out_dir), cluster or "in-process", 1)
        items: dict[str, _Item] = {}
        work: list[Render] = []
        seen: dict[str, int] = {}
        used = manifest.owned()

        def names(stem: str, n: int) -> list[str]:
            return [f"{stem if n == 1 else f'{stem}-{n}'}{suffix}.wav" for suffix in _suffixes(s.variations)]

        def first_free(stem: str, on_disk: bool) -> int:
            n = 1
            while any(name in used or (on_disk and os.path.lexists(out_dir / name)) for name in names(stem, n)):
                n += 1
            return n

        for prompt in prompts:
            seen[prompt] = occurrence = seen.get(prompt, 0) + 1  # the same line twice: two renders
            key = hashlib.sha256(f"{prompt}\0{occurrence}\0{digest}".encode()).hexdigest()[:40]
            label = prompt if occurrence == 1 else f"{prompt} (#{occurrence})"
            if manifest.is_done(key):
                summary.skipped.append(label)
                continue
            stem = prompt_slug(prompt)
            n, asked = first_free(stem, True), first_free(stem, False)
            targets = [out_dir / name for name in names(stem, n)]
            if n != asked:  # a file not from this folder's batches has the name: never replaced
                summary.renamed[str(out_dir / names(stem, asked)[0])] = str(targets[0])
                _note(summary, warn, f"{out_dir / names(stem, asked)[0]} is there and is not this batch's output: "
                                     f"writing {targets[0].name} instead")
            used.update(t.name for t in targets)
            if seed is None:
                this_seed = random.randint(0, SEED_MAX)
            else:
                drawn = hashlib.sha256(f"{seed}\0{prompt}\0{occurrence}".encode()).hexdigest()
                this_seed = int(drawn, 16) % (SEED_MAX + 1)
            items[key] = _Item(key, [label], targets, s.seconds * s.variations, 1, prompt=prompt, seed=this_seed,
                               facts={"prompt": prompt, "seed": this_seed})
            work.append(Render(key, prompt, this_seed, s.seconds * s.variations))

        def finish(item: _Item) -> list[Path]:
            audio, rate, name, notes = item.results[0]
            for index, target in enumerate(item.targets):
                extra = {"variation": index + 1, "variations": s.variations} if s.variations > 1 else {}
                g = Generation(item.key[:12], item.prompt, name, item.seed, audio.shape[-1] / rate, rate,
                               audio.shape[1], time.time(), {**_generation_settings(s), **notes, **extra})
                _write_wav(audio[index], rate, target, g)
            return item.targets

        state = BatchProgress("prompts", len(work), sum(r.seconds for r in work))
        spec = WorkerSpec(GenerateWorker, {"model": model, "settings": settings, "device": device})
        return _run(summary, items, work, spec, cluster, workers, threads, finish, manifest, out_dir, state,
                    progress, should_stop, warn, per_worker, "rendered")


def _write_wav(audio, rate: int, target: Path, g) -> None:
    """``audio`` (channels, N) as a tagged WAV under a name no file has (a name taken meanwhile is
    refused: OutputExistsError), never through a link; damaged (non-finite) music is not written."""
    import numpy as np

    from engine.audio.generations import write_tagged

    if not np.isfinite(audio).all():
        raise GenerationError(f"the music made for {target.name} is damaged (not-a-number samples); "
                              f"nothing was written")
    write_tagged(audio, rate, target, g, replace=False)


def _suffixes(variations: int) -> list[str]:
    return [""] if variations == 1 else [f"-{i}" for i in range(1, variations + 1)]


def _generation_settings(s: RenderSettings) -> dict:
    out = {"guidance": s.guidance, "temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p}
    if s.compute_type != "float32":
        out["compute"] = s.compute_type
    return out
