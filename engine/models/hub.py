"""Downloading a model repository from the Hugging Face Hub into its standard cache: resumable,
with progress and Cancel, and one clear line when the hub cannot be reached. Every family's
download goes through here (Whisper, MusicGen, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from engine.models.common.errors import CheckpointError, printable, shown


def _reason(exc: BaseException) -> str:
    """An exception's first line for a message: escaped (it may echo the name) and cut."""
    line = printable((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    return line if len(line) <= 300 else line[:297] + "..."


def download_snapshot(repo: str, patterns: Iterable[str], progress: Callable[[float], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> Path:
    """``repo``'s files matching ``patterns``, fetched (or already cached); its snapshot folder.

    Cancelling or losing the network leaves only huggingface_hub's partial ``.incomplete``
    blobs (resumed next time), never a snapshot that looks complete."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    from tqdm.auto import tqdm as base_tqdm

    from engine.cancel import Cancelled

    class Progress(base_tqdm):  # huggingface_hub reports bytes through tqdm
        def update(self, n=1):
            if should_stop is not None and should_stop():
                raise Cancelled()
            result = super().update(n)
            if progress is not None and self.total:
                progress(min(1.0, self.n / self.total))
            return result

    try:
        return Path(snapshot_download(repo, allow_patterns=list(patterns), tqdm_class=Progress))
    except Cancelled:
        raise
    except (LocalEntryNotFoundError, OSError) as exc:
        raise CheckpointError(f"cannot reach the Hugging Face Hub to download {printable(repo)} (offline?): "
                              f"{_reason(exc)}. "
                              "Nothing was installed; try again when online, or add a model folder.") from exc
    except HFValidationError as exc:
        raise CheckpointError(f"{shown(repo)} is not a model name: {_reason(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - repository not found, HTTP errors
        raise CheckpointError(f"could not download {printable(repo)}: {_reason(exc)}") from exc
