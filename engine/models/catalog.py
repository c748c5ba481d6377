"""Which models are installed, where, how big; which can be downloaded; resolving a name.

The catalog knows model *families* (``FAMILIES``): each says how to recognise one of its folders,
what ships with Motet, which Hugging Face cache repositories may hold one, where Motet installs
its own (``<data>/models``, engine/models/store.py) and how to download one. A new family (MusicGen,
T5, EnCodec) plugs in with ``register`` and every listing — ``motet models list``, the GUI's
pickers — shows it. Sources are listed in order: bundled, the Hugging Face cache, Motet's own
folder, folders the user added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.models.common.errors import CheckpointError, printable, shown
from engine.models.store import models_dir


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    format: str
    size_bytes: int
    source: str  # "bundled" | "hugging face cache" | "motet" (<data>/models) | "folder"
    family: str = "whisper"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.size_bytes / 2**20:.0f} MB · {self.format}"


@dataclass(frozen=True)
class Downloadable:
    """A model that ``download_model`` can install: its size (MB, None when unknown) is shown first."""

    name: str
    size_mb: float | None
    source: str  # "hugging face hub" | "packages" (installed Python packages: no network)
    family: str = "whisper"


@dataclass(frozen=True)
class BrokenEntry:
    """A folder where a model should be that cannot be used: listed with why, never loaded."""

    name: str
    path: Path
    reason: str  # the CheckpointError's line
    source: str
    family: str = "whisper"


Progress = Callable[[float], None] | None
Stop = Callable[[], bool] | None


@dataclass(frozen=True)
class Family:
    """What the catalog needs to know of one model family."""

    name: str  # "whisper"
    title: str  # "Whisper", for people
    detect: Callable[[Path], str]  # a folder's format; CheckpointError when it is not this family's
    bundled: Callable[[], list[tuple[str, Path]]] = lambda: []  # (name, folder) shipped with Motet
    in_hub_cache: Callable[[str], bool] | None = None  # cache repositories (ids) that may hold one
    own_folder: str = ""  # its folder under <data>/models, named after the family ("" is that folder itself)
    downloadable: Callable[[], list[Downloadable]] = lambda: []
    download: Callable[[str, Progress, Stop], Path] | None = None
    aliases: Callable[[str], set[str]] = lambda name: {name}  # names that mean the same model
    none_installed: str = "none is installed"  # what to do about it, for the message


def _size(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    except OSError:
        return 0


def _check(family: Family, name: str, folder: Path, source: str) -> ModelEntry | BrokenEntry:
    """The folder as an installed model, or as a broken one with the reason: whatever is wrong with
    it (even a bug of ours) never stops a listing."""
    try:
        fmt = family.detect(folder)
    except CheckpointError as exc:
        return BrokenEntry(name, folder, str(exc), source, family.name)
    except (RecursionError, MemoryError) as exc:
        return BrokenEntry(name, folder, f"{folder} cannot be read ({type(exc).__name__})", source, family.name)
    except Exception as exc:  # noqa: BLE001 - one folder's surprise must not hide every other model
        return BrokenEntry(name, folder, f"{folder} cannot be read: {type(exc).__name__}: {shown(str(exc), 200)}",
                           source, family.name)
    return ModelEntry(name, folder, fmt, _size(folder), source, family.name)


def _entry(family: Family, name: str, folder: Path, source: str) -> ModelEntry | None:
    entry = _check(family, name, folder, source)
    return entry if isinstance(entry, ModelEntry) else None


def _own_models(family: Family) -> Iterable[ModelEntry | BrokenEntry]:
    try:
        root = models_dir(family.own_folder)
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:  # no folder yet, unreadable: nothing installed there
        return
    skip = set(FAMILIES) if not family.own_folder else set()  # the root holds the other families' folders
    for folder in folders:
        if folder.name not in skip:
            yield _check(family, folder.name, folder, "motet")


def _cached(family: Family) -> Iterable[ModelEntry]:
    if family.in_hub_cache is None:
        return
    try:
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir()
    except Exception:  # noqa: BLE001 - no cache yet, unreadable cache: nothing installed there
        return
    for repo in cache.repos:
        if repo.repo_type != "model" or not family.in_hub_cache(repo.repo_id):
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            entry = _entry(family, repo.repo_id, Path(revision.snapshot_path), "hugging face cache")
            if entry:  # a cache repository without a usable revision is not a model folder of ours: skipped
                yield entry
                break


# -- the families ---------------------------------------------------------------------------
def _whisper() -> Family:
    from engine.models.whisper import sources
    from engine.models.whisper.loading import detect_format

    def detect(folder: Path) -> str:
        """A Whisper folder's format; a Hugging Face folder must also say it holds Whisper."""
        fmt = detect_format(folder)
        if fmt == "huggingface":
            from engine.models.common.checkpoints import read_json

            kind = read_json(folder / "config.json").get("model_type")
            if kind != "whisper":
                raise CheckpointError(f"{folder} holds a {kind!r} model, not Whisper")
        return fmt

    def bundled() -> list[tuple[str, Path]]:
        path = sources.bundled_model()
        return [(sources.BUNDLED, path)] if path is not None else []

    def downloadable() -> list[Downloadable]:
        found = [Downloadable(p.model.name, p.size_bytes / 2**20, "packages") for p in sources.available_packaged()]
        packaged = {d.name for d in found}  # download_model takes those from the packages
        return found + [Downloadable(n, mb, "hugging face hub") for n, mb in sources.HUB_SIZES.items()
                        if n not in packaged]

    def aliases(name: str) -> set[str]:
        short = name.lower()
        for prefix in ("openai/whisper-", "systran/faster-whisper-"):
            short = short.removeprefix(prefix)
        return {name.lower(), short, f"openai/whisper-{short}", f"systran/faster-whisper-{short}"}

    return Family("whisper", "Whisper", detect, bundled, sources.is_whisper_repo, "", downloadable,
                  sources.download_model, aliases,
                  "no Whisper model is installed: run `motet models download tiny.en` "
                  "or pass --model with a model folder")


def _music_transformer() -> Family:
    from engine.models.common.files import regular_file
    from engine.models.music_transformer.generate import ASSET_DIR
    from engine.models.music_transformer.model import read_config

    def detect_folder(folder: Path) -> str:
        """``"safetensors"`` for a usable config.json beside model.safetensors (regular files)."""
        read_config(folder)
        regular_file(Path(folder) / "model.safetensors")
        return "safetensors"

    return Family("music_transformer", "Music Transformer", detect_folder,
                  lambda: [("shipped", ASSET_DIR)] if (ASSET_DIR / "config.json").is_file() else [],
                  own_folder="music_transformer",
                  none_installed="no Music Transformer is installed: the one Motet ships is missing from "
                                 "assets/; reinstall Motet or train one with `motet train`")


# the published checkpoints (Hugging Face format, float32; sizes as the hub lists them, in MB)
MUSICGEN_HUB = {"musicgen-small": 2360, "musicgen-medium": 8000, "musicgen-large": 13200,
                "musicgen-stereo-small": 2360, "musicgen-melody": 6240}
MUSICGEN_FILES = ("config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json",
                  "tokenizer_config.json", "special_tokens_map.json", "model.safetensors",
                  "model.safetensors.index.json", "model-*.safetensors")


def _musicgen() -> Family:
    from engine.models.musicgen.audiocraft import check_audiocraft_folder
    from engine.models.musicgen.pipeline import detect_folder as detect_kind

    def detect_folder(folder: Path) -> str:
        """The folder's format; an audiocraft folder's configs checked too (its tensors only mapped)."""
        fmt = detect_kind(folder)
        if fmt == "audiocraft":
            check_audiocraft_folder(folder)
        return fmt

    def download(name: str, progress: Progress, should_stop: Stop) -> Path:
        from engine.models.hub import download_snapshot

        repo = name if "/" in name else f"facebook/{name}"
        folder = download_snapshot(repo, MUSICGEN_FILES, progress, should_stop)
        detect_folder(folder)
        return folder

    def aliases(name: str) -> set[str]:
        short = name.lower().removeprefix("facebook/")
        return {name.lower(), short, f"facebook/{short}", f"musicgen-{short}"}

    return Family("musicgen", "MusicGen", detect_folder, in_hub_cache=lambda repo: "musicgen" in repo.lower(),
                  own_folder="musicgen",
                  downloadable=lambda: [Downloadable(n, mb, "hugging face hub", "musicgen")
                                        for n, mb in MUSICGEN_HUB.items()],
                  download=download, aliases=aliases,
                  none_installed="no MusicGen model is installed: run `motet models download musicgen-small` "
                                 "(about 2.4 GB) or pass --model with a MusicGen folder")


FAMILIES: dict[str, Callable[[], Family]] = {"whisper": _whisper, "music_transformer": _music_transformer,
                                             "musicgen": _musicgen}


def register(name: str, make: Callable[[], Family]) -> None:
    """Add a family; ``make`` is called when the family is first needed (imports stay lazy)."""
    FAMILIES[name] = make


def family(name: str) -> Family:
    try:
        return FAMILIES[name]()
    except KeyError:
        raise CheckpointError(f"no model family called {name!r}; known: {', '.join(FAMILIES)}") from None


# -- what the CLI and the GUI call ------------------------------------------------------------
def _scan(f: Family, extra_folders: Iterable[str | Path]) -> list[ModelEntry | BrokenEntry]:
    found = [_check(f, name, path, "bundled") for name, path in f.bundled()]
    found.extend(_cached(f))
    found.extend(_own_models(f))
    found.extend(_check(f, Path(folder).name, Path(folder), "folder") for folder in extra_folders)
    return found


def installed_models(extra_folders: Iterable[str | Path] = (), family_name: str = "whisper") -> list[ModelEntry]:
    """Installed models of one family: bundled, Hugging Face cache, Motet's folder, ``extra_folders``.
    Broken folders are left out (``broken_models`` lists them)."""
    return [e for e in _scan(family(family_name), extra_folders) if isinstance(e, ModelEntry)]


def listing(family_name: str = "whisper", extra_folders: Iterable[str | Path] = ()
            ) -> tuple[list[ModelEntry], list[BrokenEntry]]:
    """(installed models, broken folders) of one family, from one scan."""
    found = _scan(family(family_name), extra_folders)
    return ([e for e in found if isinstance(e, ModelEntry)], [e for e in found if isinstance(e, BrokenEntry)])


def broken_models(extra_folders: Iterable[str | Path] = (), family_name: str = "whisper") -> list[BrokenEntry]:
    """Folders where a model of this family should be (bundled, Motet's folder, ``extra_folders``)
    that cannot be used, each with its reason."""
    return [e for e in _scan(family(family_name), extra_folders) if isinstance(e, BrokenEntry)]


def downloadable_models(family_name: str = "whisper") -> list[Downloadable]:
    """What ``download_model`` can install for this family, installed or not, with sizes."""
    return family(family_name).downloadable()


def resolve_model(name_or_path: str | None, extra_folders: Iterable[str | Path] = (),
                  family_name: str = "whisper") -> Path:
    """A model folder for a path, an installed name (``tiny.en``, ``openai/whisper-small``,
    ``small``), or None for the default (the bundled model, else the first installed)."""
    if name_or_path and Path(name_or_path).expanduser().is_dir():
        return Path(name_or_path).expanduser()
    f = family(family_name)
    scanned = _scan(f, extra_folders)
    models = [e for e in scanned if isinstance(e, ModelEntry)]
    if not name_or_path:
        if models:
            return models[0].path
        raise CheckpointError(f.none_installed)
    names = f.aliases(name_or_path)
    for m in models:
        if m.name.lower() in names:
            return m.path
    shown_name = shown(name_or_path)
    broken = next((b for b in scanned if isinstance(b, BrokenEntry) and b.name.lower() in names), None)
    if broken is not None:
        raise CheckpointError(f"the model {shown_name} cannot be used: {printable(broken.reason)}")
    listed = printable(", ".join(m.name for m in models) or "none")
    packaged = [d.name for d in f.downloadable() if d.source == "packages" and d.name.lower() in names]
    if packaged:
        raise CheckpointError(f"no installed model called {shown_name} (installed: {listed}), but it is in "
                              f"installed packages: `motet models download {packaged[0]}` sets it up without network")
    if f.download is None:
        raise CheckpointError(f"no {f.title} called {shown_name} (installed: {listed}); give a model folder")
    raise CheckpointError(f"no installed model called {shown_name} (installed: {listed}); "
                          f"download it with `motet models download {printable(name_or_path)}` or give a folder")


def family_of(name: str, default: str = "whisper") -> str:
    """The family that offers a download called ``name`` (``musicgen-small`` is MusicGen's)."""
    for family_name in FAMILIES:
        f = family(family_name)
        names = f.aliases(name)
        if any(d.name.lower() in names for d in f.downloadable()):
            return family_name
    return default


def _check_room(f: Family, name: str) -> None:
    """Refuse before downloading when the hub cache's disk has less room than the model needs."""
    import shutil

    size = next((d.size_mb for d in f.downloadable() if d.name.lower() in f.aliases(name) and d.size_mb), None)
    if size is None or next((d.source for d in f.downloadable() if d.name.lower() in f.aliases(name)), "") != \
            "hugging face hub":
        return
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        folder = Path(HF_HUB_CACHE)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
    except (ImportError, OSError):
        return
    if free < (size + 64) * 2**20:
        raise CheckpointError(f"not enough disk space to download {printable(name)}: it needs about "
                              f"{size / 1024:.1f} GB, "
                              f"{free / 2**30:.1f} GB are free in {folder}. Nothing was downloaded.")


# what a Hugging Face repository id may be (owner/name or a name), as the hub itself checks
_REPO_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?", re.ASCII)


def check_model_name(name: str) -> None:
    """CheckpointError (the name escaped) unless ``name`` can be a model's name on the hub."""
    if not isinstance(name, str) or not _REPO_NAME.fullmatch(name) or ".." in name:
        raise CheckpointError(f"{shown(name)} is not a model name: names are letters, digits, '-', '_' and '.', "
                              f"with at most one '/' between an owner and a model (openai/whisper-small)")


def download_model(name: str, progress: Progress = None, should_stop: Stop = None,
                   family_name: str | None = None) -> Path:
    """Install a model (from packages or the hub; the family found by its name when not given);
    its folder. Resumable and cancellable where the family's source allows; the name and the
    disk's free room are checked first; a CheckpointError says what went wrong."""
    check_model_name(name)
    f = family(family_name or family_of(name))
    if f.download is None:
        raise CheckpointError(f"{f.title} models are not downloaded: {f.none_installed}")
    _check_room(f, name)
    return f.download(name, progress, should_stop)
