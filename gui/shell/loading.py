"""What the window loads behind itself: the engine's heavy modules and the compute devices.

Importing torch and the models' code takes seconds; done on a thread after the window's first
paint, the window appears at once and stays responsive. Only Qt-free modules are imported there
(widget modules are imported on the GUI thread as the pages are built).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel

# the engine modules behind the pages, heaviest first (torch alone is most of the time)
ENGINE_MODULES = ("torch", "engine.device", "engine.models.registry", "engine.models.catalog",
                  "engine.tasks.transcribe", "engine.tasks.generate", "engine.tasks.compose",
                  "engine.tasks.music", "engine.tasks.takes", "engine.audio.session", "engine.audio.playback")


@dataclass
class Compute:
    """The devices found here and the device and dtype chosen among them."""

    devices: list[Any]  # engine.device.ComputeDevice, best first
    device: Any
    dtype: Any


def probe_compute(device_pref: str, dtype_pref: str) -> Compute:
    """The remembered choices if they are still there (a GPU may be gone), else the best ones."""
    from engine.device import available_devices, choose_device, choose_dtype

    try:
        device = choose_device(device_pref)
    except ValueError:
        device = choose_device("auto")
    try:
        dtype = choose_dtype(device, dtype_pref)
    except ValueError:
        dtype = choose_dtype(device)
    return Compute(available_devices(), device, dtype)


class EngineLoader(QObject):
    """Imports ``ENGINE_MODULES`` and probes the devices on a thread; ``loaded`` brings back the
    :class:`Compute` (or the exception that stopped it) on the GUI thread."""

    loaded = Signal(object)

    def __init__(self, device_pref: str, dtype_pref: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prefs = (device_pref, dtype_pref)

    def start(self) -> None:
        threading.Thread(target=self._run, name="motet-engine-loader", daemon=True).start()

    def _run(self) -> None:
        try:
            for name in ENGINE_MODULES:
                importlib.import_module(name)
            result: object = probe_compute(*self._prefs)
        except Exception as exc:  # noqa: BLE001 - shown in the window instead of its pages
            result = exc
        try:
            self.loaded.emit(result)
        except RuntimeError:  # the window closed meanwhile
            pass


class LoadingPage(QLabel):
    """Stands in for a page until it is built, and says why if it cannot be."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Loading {name}…")
        self.setObjectName("loadingPage")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setEnabled(False)  # greyed: nothing to do here yet

    def failed(self, message: str) -> None:
        self.setText(message)
        self.setEnabled(True)
