"""Which models are installed, where, how big; which can be downloaded; resolving a name.

The catalog knows model *families* (``FAMILIES``): each says how to recognise one of its folders,
what ships with Motet, which Hugging Face cache repositories may hold one, where Motet installs
its own (``<data>/models``, engine/models/store.py) and how to download one. A new family (MusicGen,
T5, EnCodec) plugs in with ``register`` and every listing — ``motet models list``, the GUI's
pickers — shows it. Sources are listed in order: bundled, the Hugging Face cache, Motet's own
folder, folders the user added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.models.common.errors import CheckpointError
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
    own_folder: str = ""  # its folder under <data>/models ("" is that folder itself)
    downloadable: Callable[[], list[Downloadable]] = lambda: []
    download: Callable[[str, Progress, Stop], Path] | None = None
    aliases: Callable[[str], set[str]] = lambda name: {name}  # names that mean the same model
    none_installed: str = "none is installed"  # what to do about it, for the message


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _entry(family: Family, name: str, folder: Path, source: str) -> ModelEntry | None:
    try:
        fmt = family.detect(folder)
    except CheckpointError:
        return None
    return ModelEntry(name, folder, fmt, _size(folder), source, family.name)


def _own_models(family: Family) -> Iterable[ModelEntry]:
    try:
        root = models_dir(family.own_folder)
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:  # no folder yet, unreadable: nothing installed there
        return
    for folder in folders:
        entry = _entry(family, folder.name, folder, "motet")
        if entry:
            yield entry


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
            if entry:
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
    from engine.models.music_transformer.generate import ASSET_DIR, detect_folder

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
    from engine.models.musicgen.pipeline import detect_folder

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
def installed_models(extra_folders: Iterable[str | Path] = (), family_name: str = "whisper") -> list[ModelEntry]:
    """Installed models of one family: bundled, Hugging Face cache, Motet's folder, ``extra_folders``."""
    f = family(family_name)
    found = [e for name, path in f.bundled() if (e := _entry(f, name, path, "bundled"))]
    found.extend(_cached(f))
    found.extend(_own_models(f))
    for folder in extra_folders:
        entry = _entry(f, Path(folder).name, Path(folder), "folder")
        if entry:
            found.append(entry)
    return found


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
    models = installed_models(extra_folders, family_name)
    if not name_or_path:
        if models:
            return models[0].path
        raise CheckpointError(f.none_installed)
    names = f.aliases(name_or_path)
    for m in models:
        if m.name.lower() in names:
            return m.path
    listed = ", ".join(m.name for m in models) or "none"
    packaged = [d.name for d in f.downloadable() if d.source == "packages" and d.name.lower() in names]
    if packaged:
        raise CheckpointError(f"no installed model called {name_or_path!r} (installed: {listed}), but it is in "
                              f"installed packages: `motet models download {packaged[0]}` sets it up without network")
    if f.download is None:
        raise CheckpointError(f"no {f.title} called {name_or_path!r} (installed: {listed}); give a model folder")
    raise CheckpointError(f"no installed model called {name_or_path!r} (installed: {listed}); "
                          f"download it with `motet models download {name_or_path}` or give a folder")


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
        raise CheckpointError(f"not enough disk space to download {name}: it needs about {size / 1024:.1f} GB, "
                              f"{free / 2**30:.1f} GB are free in {folder}. Nothing was downloaded.")


def download_model(name: str, progress: Progress = None, should_stop: Stop = None,
                   family_name: str | None = None) -> Path:
    """Install a model (from packages or the hub; the family found by its name when not given);
    its folder. Resumable and cancellable where the family's source allows; the disk's free room
    is checked first; a CheckpointError says what went wrong."""
    f = family(family_name or family_of(name))
    if f.download is None:
        raise CheckpointError(f"{f.title} models are not downloaded: {f.none_installed}")
    _check_room(f, name)
    return f.download(name, progress, should_stop)
