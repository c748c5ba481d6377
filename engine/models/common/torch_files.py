"""Reading PyTorch's pickle files (``.pt``, ``.bin``) without ever running code (DESIGN.md §8).

``torch.load(weights_only=True)`` rebuilds only tensors and plain containers; a file that needs
anything else is refused. torch's own message for that advises turning the safety off, which
Motet never does, so callers get ``RefusedFile`` with Motet's words instead, and
``DamagedFile`` for a file that is not a readable PyTorch file at all; both are one line.
"""

from __future__ import annotations

import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import torch


class DamagedFile(ValueError):
    """Not a readable PyTorch file (truncated, foreign, corrupt)."""


class RefusedFile(ValueError):
    """A PyTorch file holding Python objects that only running code could rebuild."""


def _first_line(exc: BaseException) -> str:
    from engine.models.common.errors import printable

    line = printable((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    return line if len(line) <= 200 else line[:197] + "..."


def load_safely(path: str | Path, map_location: Any = "cpu", mmap: bool = False) -> Any:
    """``torch.load`` with ``weights_only=True`` of a regular file (a FIFO would block); failures
    are one-line ``DamagedFile`` / ``RefusedFile`` naming ``path``, and torch's warnings (an
    unusual pickle protocol, ...) are not printed: the one line says it all. ``mmap``: tensors
    mapped from the file, not read (the file must be in PyTorch's zip format)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:
        raise DamagedFile(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(mode):
        raise DamagedFile(f"{path} is not a regular file (a folder, a FIFO or a device); Motet reads weights only "
                          f"from regular files")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower():
            raise RefusedFile(f"{path} was refused: besides tensors it holds Python objects that only running "
                              f"code could rebuild, which Motet never does") from None
        raise DamagedFile(f"{path} is damaged or not a PyTorch file: {_first_line(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - zip, EOF and pickle errors come in many types
        raise DamagedFile(f"{path} is damaged or truncated, or not a PyTorch file: {_first_line(exc)}") from exc
