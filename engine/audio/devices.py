"""Audio device listing through sounddevice (PortAudio), tolerant of machines with no audio.

PortAudio reads the device list once when it initialises; ``rescan()`` re-initialises it so a
device plugged in (or a PulseAudio server started) after launch shows up.
"""

from __future__ import annotations

from dataclasses import dataclass


class AudioUnavailable(RuntimeError):
    """No audio backend or no device of the kind asked for; the message says why."""


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})"


def _sd():
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise AudioUnavailable(f"the audio library PortAudio could not be loaded: {exc}") from exc
    return sd


def rescan() -> None:
    """Re-read the device list from the system (PortAudio caches it at start-up)."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def list_devices() -> list[AudioDevice]:
    sd = _sd()
    try:
        raw = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:  # noqa: BLE001 - PortAudio errors come in several types
        raise AudioUnavailable(f"could not list audio devices: {exc}") from exc
    out = []
    for i, d in enumerate(raw):
        out.append(AudioDevice(
            index=i, name=d["name"], hostapi=hostapis[d["hostapi"]]["name"],
            max_input_channels=d["max_input_channels"], max_output_channels=d["max_output_channels"],
            default_samplerate=float(d["default_samplerate"]),
            is_default_input=(i == default_in), is_default_output=(i == default_out),
        ))
    return out


def input_devices() -> list[AudioDevice]:
    """Devices that can capture; empty list when there are none (or no backend)."""
    try:
        return [d for d in list_devices() if d.max_input_channels > 0]
    except AudioUnavailable:
        return []


def output_devices() -> list[AudioDevice]:
    try:
        return [d for d in list_devices() if d.max_output_channels > 0]
    except AudioUnavailable:
        return []


def find_device(name: str | None, kind: str = "input", exact: bool = False) -> AudioDevice:
    """The device called ``name`` (as remembered in settings), else the default, else the first.

    ``exact`` (a name the user typed): ``name`` must be a device's name or its number in
    `motet devices`; recording from another device than the one asked for would be a surprise.
    Raises AudioUnavailable when there is no such device, or none of that kind at all.
    """
    devices = input_devices() if kind == "input" else output_devices()
    if not devices:
        raise AudioUnavailable(f"no audio {kind} device found")
    for d in devices:
        if name and d.name == name:
            return d
    if exact and name:
        for d in devices:
            if name.strip().isdigit() and d.index == int(name):
                return d
        listed = ", ".join(f"{d.index}: {d.name}" for d in devices)
        raise AudioUnavailable(f"no audio {kind} device called {name!r} (there are {listed}; see `motet devices`)")
    for d in devices:
        if (d.is_default_input if kind == "input" else d.is_default_output):
            return d
    return devices[0]
