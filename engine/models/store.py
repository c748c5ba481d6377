"""Where Motet keeps the models it installs itself: ``<data>/models`` (``$MOTET_DATA_DIR`` or the
platform's data folder), one subfolder per family except Whisper's, which were there first."""

from __future__ import annotations

from pathlib import Path

MODELS_FOLDER = "models"  # under the data folder
PARTIAL = ".partial-"  # <data>/models/.NAME.partial-<id>: a model being installed, never listed


def models_dir(family_folder: str = "") -> Path:
    """``<data>/models`` or, for a family with its own folder, ``<data>/models/<family_folder>``."""
    from engine.audio.takes import data_dir

    root = data_dir() / MODELS_FOLDER
    return root / family_folder if family_folder else root
