"""Generated music kept across restarts: ``<data>/generations/<id>.flac`` with a JSON sidecar
holding the prompt, the model, the seed and every setting, so any result can be reproduced.

Each result is written whole or not at all (atomic writes, the sidecar last: a clip without its
sidecar is never listed, nor left behind by a failure or Ctrl+C). Exports carry the prompt, model
and seed in the file's own tags (WAV INFO chunk, FLAC Vorbis comments) so they survive being
copied elsewhere: the comment starts with the model, seed and settings, the prompt last and cut
short if need be, so that any prompt leaves the seed readable.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.atomic import FileExistsWriteError, WriteError, atomic_path, write_text

FOLDER = "generations"  # under the data folder


class GenerationError(Exception):
    """A result that cannot be stored, found or exported; ``str()`` is the line to show."""


@dataclass
class Generation:
    id: str
    prompt: str
    model: str
    seed: int
    seconds: float
    sample_rate: int
    channels: int
    created: float
    settings: dict = field(default_factory=dict)  # guidance, temperature, top-k, top-p, variation...
    path: Path | None = None  # the audio, filled in by the library

    @property
    def description(self) -> str:
        """One line for a file's comment tag and the GUI's tooltip."""
        parts = [f"model {self.model}", f"seed {self.seed}"]
        parts += [f"{k} {v}" for k, v in self.settings.items()]
        return f"{self.prompt or '(no prompt: unconditional)'} ({', '.join(parts)})"


# Bytes of UTF-8 per tag: a WAV's INFO strings are dropped whole (silently) past about 2 KB
TITLE_BYTES, COMMENT_BYTES, SOFTWARE_BYTES = 400, 1000, 120


def clip_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, ending with "…" when cut; the tags take
    no NUL (C strings) and no lone surrogate."""
    text = text.replace("\0", " ").encode("utf-8", "replace").decode("utf-8")
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "…"


def comment(g: Generation) -> str:
    """The comment tag: model, seed and settings first, the prompt last (cut short when long), so
    that a long prompt never pushes the seed out."""
    parts = [f"model {g.model}", f"seed {g.seed}"] + [f"{k} {v}" for k, v in g.settings.items()]
    prompt = g.prompt or "(none: unconditional)"
    return clip_text(f"{', '.join(parts)}; prompt: {prompt}", COMMENT_BYTES)


def tag(out: sf.SoundFile, g: Generation) -> None:
    """Prompt, model and seed into the file's tags (what soundfile writes for WAV and FLAC)."""
    out.title = clip_text(g.prompt or "(no prompt: unconditional)", TITLE_BYTES)  # libsndfile refuses an empty tag
    out.comment = comment(g)
    out.software = clip_text(f"Motet, {g.model}", SOFTWARE_BYTES)


class OutputExistsError(GenerationError):
    """``write_tagged(..., replace=False)`` found something under the name; nothing was written."""


def write_tagged(audio: np.ndarray, rate: int, dest: Path | str, g: Generation, replace: bool = True) -> Path:
    """``audio`` (channels, N) as WAV or FLAC (by the suffix) with ``g``'s prompt, model and seed in
    its tags, atomically; never through a symlink. With ``replace=False`` a file (or link) under
    the name is left as it is: OutputExistsError."""
    dest = Path(dest)
    fmt = (dest.suffix.lstrip(".") or "wav").upper()
    if fmt not in ("WAV", "FLAC"):
        raise GenerationError(f"cannot write {dest.name}: choose a .wav or .flac file")
    try:
        with atomic_path(dest, audio.nbytes // 2, replace=replace) as tmp, sf.SoundFile(
                os.fsencode(tmp), "w", rate, audio.shape[0], subtype="PCM_16" if fmt == "WAV" else "PCM_24",
                format=fmt) as out:
            tag(out, g)
            out.write(np.clip(audio.T, -1.0, 1.0))
    except FileExistsWriteError as exc:
        raise OutputExistsError(str(exc)) from exc
    except WriteError as exc:  # already "could not save 'name': the reason"
        raise GenerationError(str(exc)) from exc
    except OSError as exc:
        raise GenerationError(f"could not write {dest}: {exc}") from exc
    return dest


class GenerationLibrary:
    def __init__(self, root: Path | str | None = None) -> None:
        if root is None:
            from engine.audio.takes import data_dir

            root = data_dir() / FOLDER
        self.root = Path(root)

    def add(self, audio: np.ndarray, sample_rate: int, prompt: str, model: str, seed: int,
            settings: dict | None = None) -> Generation:
        """Store ``audio`` (channels, samples) float; the stored Generation."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[None]
        if audio.ndim != 2 or not audio.size or not np.isfinite(audio).all():
            raise GenerationError("the generated audio is empty or damaged; nothing was stored")
        g = Generation(uuid.uuid4().hex[:12], prompt, model, int(seed), audio.shape[1] / sample_rate, sample_rate,
                       audio.shape[0], time.time(), dict(settings or {}))
        path = self.root / f"{g.id}.flac"
        written = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_path(path, audio.nbytes // 2, replace=False) as tmp, \
                    sf.SoundFile(os.fsencode(tmp), "w", sample_rate, audio.shape[0], subtype="PCM_24", format="FLAC") as out:
                tag(out, g)
                out.write(np.clip(audio.T, -1.0, 1.0))
            written = True
            write_text(self.root / f"{g.id}.json", json.dumps(self._meta(g), indent=1), replace=False)
        except BaseException as exc:  # a full disk, or Ctrl+C: no audio left without its sidecar
            if written:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if not isinstance(exc, OSError):
                raise
            reason = str(exc) if isinstance(exc, WriteError) else exc.strerror or str(exc)
            raise GenerationError(f"could not store the result in {self.root}: {reason}") from exc
        g.path = path
        return g

    @staticmethod
    def _meta(g: Generation) -> dict:
        data = asdict(g)
        data.pop("path")
        return data

    def list(self) -> list[Generation]:
        """Every stored result, newest first; a sidecar that cannot be read is passed over."""
        found = []
        try:
            sidecars = list(self.root.glob("*.json"))
        except OSError:
            return []
        for meta in sidecars:
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                g = Generation(**{k: data[k] for k in Generation.__dataclass_fields__ if k in data and k != "path"})
            except (OSError, ValueError, TypeError):
                continue
            g.path = meta.with_suffix(".flac")
            if g.path.is_file():
                found.append(g)
        return sorted(found, key=lambda g: -g.created)

    def get(self, generation_id: str) -> Generation:
        for g in self.list():
            if g.id == generation_id:
                return g
        raise GenerationError(f"no stored result {generation_id!r} in {self.root}")

    def audio(self, generation_id: str) -> tuple[np.ndarray, int]:
        """(channels, samples) float32 and the sample rate."""
        g = self.get(generation_id)
        try:
            data, rate = sf.read(str(g.path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise GenerationError(f"the stored audio of {g.prompt!r} cannot be read ({g.path}): {exc}") from exc
        return data.T, rate

    def delete(self, generation_id: str) -> None:
        """Remove a result: the sidecar first, so a failure never leaves a listed result without audio."""
        for suffix in (".json", ".flac"):
            try:
                (self.root / f"{generation_id}{suffix}").unlink(missing_ok=True)
            except OSError as exc:
                raise GenerationError(f"could not delete the result: {exc}") from exc

    def export(self, generation_id: str, dest: Path | str) -> Path:
        """WAV or FLAC by the suffix, with the prompt, model and seed in its tags, atomically."""
        g = self.get(generation_id)
        audio, rate = self.audio(generation_id)
        return write_tagged(audio, rate, dest, g)
