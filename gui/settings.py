"""Persistent settings (QSettings). ``$MOTET_CONFIG_DIR`` points them at an INI file instead,
which is how tests and portable installs keep them apart from the user's own."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings


def app_settings() -> QSettings:
    folder = os.environ.get("MOTET_CONFIG_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return QSettings(os.path.join(folder, "motet.ini"), QSettings.Format.IniFormat)
    return QSettings("Motet", "Motet")


def get_float(settings: QSettings, key: str, default: float) -> float:
    try:
        return float(settings.value(key, default))
    except (TypeError, ValueError):
        return default


def get_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return default if value is None else str(value)
