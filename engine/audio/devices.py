"""Audio device listing through sounddevice (PortAudio), tolerant of machines with no audio.

PortAudio reads the device list once when it initialises; ``rescan()`` re-initialises it so a
device plugged in (or a PulseAudio server started) after launch shows up.

Where a sound server answers (PulseAudio, or PipeWire's PulseAudio service), the inputs are the
server's sources by their names (``pactl``), the default marked, monitors of outputs last; each
is recorded through PortAudio's "pulse" ALSA device with ``PULSE_SOURCE`` naming the source
while the stream opens, at the source's own sample rate. Without a server, sounddevice's list.

libasound prints its complaints (``ALSA lib pcm.c:…: underrun occurred``) on stderr; loading
sounddevice here first installs a handler that counts them and logs each kind once instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

PACTL_TIMEOUT_S = 5.0  # a sound server that does not answer in this long is taken as absent


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
    source: str = ""  # the sound server's name of this input (PULSE_SOURCE), "" for a PortAudio device
    is_monitor: bool = False  # the sound server's monitor of an output (what is played), not a microphone

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})"

    def matches(self, name: str) -> bool:
        """``name`` (remembered in settings, or typed) is this device's name or its server name."""
        return bool(name) and name in (self.name, self.source)


# -- libasound's stderr chatter ---------------------------------------------------------------
class _AlsaMessages:
    """What libasound said (counted by kind), instead of on the user's terminal."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.installed = False
        self._handler = None  # the ctypes callback, kept alive as long as libasound may call it
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __call__(self, file, line, function, err, fmt) -> None:  # libasound's thread
        try:
            key = f"{(file or b'').decode(errors='replace')}:{line}:({(function or b'').decode(errors='replace')}) " \
                  f"{(fmt or b'').decode(errors='replace')}"
            with self._lock:
                n = self.counts.get(key, 0) + 1
                self.counts[key] = n
            if n == 1:
                log.info("ALSA lib %s (err %d; repeats are counted, not logged)", key, err)
        except Exception:  # noqa: BLE001 - an exception must never unwind into C
            pass


alsa_messages = _AlsaMessages()


def install_alsa_error_handler() -> bool:
    """Route libasound's error messages to ``alsa_messages`` (the app's log) instead of stderr.

    libasound keeps one handler for the process, shared by PortAudio's copy of it (same soname).
    Returns whether it is installed; a machine without libasound has nothing to silence."""
    if alsa_messages.installed:
        return True
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    except OSError:
        return False
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...):
    # the variadic arguments are not read (the format is logged as it is)
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.c_char_p)
    handler = handler_type(alsa_messages)
    try:
        if lib.snd_lib_error_set_handler(handler) < 0:
            return False
    except AttributeError:
        return False
    alsa_messages._handler = handler
    alsa_messages.installed = True
    return True


def _sd():
    if not alsa_messages.installed and not os.environ.get("MOTET_ALSA_STDERR"):
        install_alsa_error_handler()  # before PortAudio first talks to ALSA
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise AudioUnavailable(f"the audio library PortAudio could not be loaded: {exc}") from exc
    return sd


# -- the sound server's inputs ----------------------------------------------------------------
@dataclass(frozen=True)
class ServerSource:
    name: str  # PULSE_SOURCE
    description: str
    sample_rate: int
    channels: int
    is_monitor: bool


def _pactl(*args: str) -> str | None:
    """pactl's output, or None when it is missing or no server answers."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    try:
        done = subprocess.run([pactl, *args], capture_output=True, text=True, timeout=PACTL_TIMEOUT_S,
                              env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


_SPEC = re.compile(r"(\S+)\s+(\d+)ch\s+(\d+)Hz")


def _parse_spec(spec: str) -> tuple[int, int]:
    """(channels, rate) of "s16le 2ch 48000Hz"; (0, 0) when it cannot be read."""
    m = _SPEC.search(spec or "")
    return (int(m.group(2)), int(m.group(3))) if m else (0, 0)


def _sources_from_json(text: str) -> list[ServerSource]:
    out = []
    for src in json.loads(text):
        if not isinstance(src, dict) or not isinstance(src.get("name"), str):
            continue
        channels, rate = _parse_spec(str(src.get("sample_specification", "")))
        props = src.get("properties") if isinstance(src.get("properties"), dict) else {}
        monitor = bool(src.get("monitor_source")) or props.get("device.class") == "monitor"
        out.append(ServerSource(src["name"], str(src.get("description") or src["name"]), rate, channels, monitor))
    return out


def _sources_from_text(text: str) -> list[ServerSource]:
    """`pactl list sources` (LC_ALL=C), for a pactl older than 16 without ``-f json``."""
    out = []
    for block in re.split(r"^Source #\d+\s*$", text, flags=re.M)[1:]:
        fields = dict(m.groups() for m in re.finditer(r"^\t(\w[\w ]*):\s*(.*)$", block, flags=re.M))
        if "Name" not in fields:
            continue
        channels, rate = _parse_spec(fields.get("Sample Specification", ""))
        monitor = fields.get("Monitor of Sink", "n/a") not in ("", "n/a") or 'device.class = "monitor"' in block
        out.append(ServerSource(fields["Name"], fields.get("Description") or fields["Name"], rate, channels, monitor))
    return out


def server_sources() -> tuple[list[ServerSource], str] | None:
    """The sound server's sources and the default one's name; None when no server answers."""
    info = _pactl("info")
    if info is None:
        return None
    m = re.search(r"^Default Source:\s*(.+)$", info, flags=re.M)
    default = m.group(1).strip() if m else ""
    text = _pactl("-f", "json", "list", "sources")
    try:
        sources = _sources_from_json(text) if text is not None else None
    except (ValueError, TypeError):
        sources = None
    if sources is None:
        text = _pactl("list", "sources")
        if text is None:
            return None
        sources = _sources_from_text(text)
    return sources, default


def _server_inputs(raw_devices: list[AudioDevice]) -> list[AudioDevice] | None:
    """The server's sources as devices recorded through PortAudio's "pulse" device, or None."""
    pulse = next((d for d in raw_devices if d.name == "pulse" and d.max_input_channels > 0), None)
    if pulse is None:
        return None
    found = server_sources()
    if not found or not found[0]:
        return None
    sources, default = found
    inputs = [AudioDevice(
        index=pulse.index, name=s.description, hostapi="PulseAudio",
        max_input_channels=max(1, s.channels or pulse.max_input_channels), max_output_channels=0,
        default_samplerate=float(s.sample_rate or pulse.default_samplerate),
        is_default_input=(s.name == default), source=s.name, is_monitor=s.is_monitor,
    ) for s in sources]
    return [d for d in inputs if not d.is_monitor] + [d for d in inputs if d.is_monitor]


_env_lock = threading.Lock()


def open_on_source(device: AudioDevice | None, open_stream):
    """``open_stream()`` with the sound server's source of ``device`` chosen (PULSE_SOURCE is read
    when the "pulse" ALSA device connects, i.e. while the stream opens)."""
    if device is None or not device.source:
        return open_stream()
    with _env_lock:
        old = os.environ.get("PULSE_SOURCE")
        os.environ["PULSE_SOURCE"] = device.source
        try:
            return open_stream()
        finally:
            if old is None:
                os.environ.pop("PULSE_SOURCE", None)
            else:
                os.environ["PULSE_SOURCE"] = old


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


def recording_inputs() -> list[AudioDevice]:
    """What can be recorded from: the sound server's sources by name (microphones first, monitors
    of outputs last), else PortAudio's input devices. Raises AudioUnavailable with the reason."""
    raw = list_devices()
    server = _server_inputs(raw)
    if server:
        return server
    return [d for d in raw if d.max_input_channels > 0]


def input_devices() -> list[AudioDevice]:
    """Devices that can capture; empty list when there are none (or no backend)."""
    try:
        return recording_inputs()
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
        if name and d.matches(name):
            return d
    if exact and name:
        if name.strip().isdigit():  # a number in `motet devices`: PortAudio's list
            listed_here = [d for d in devices if not d.source]
            if len(listed_here) < len(devices):  # the server's sources are listed instead
                try:
                    listed_here = list_devices()
                except AudioUnavailable:
                    listed_here = []
            for d in listed_here:
                if d.index == int(name) and (d.max_input_channels if kind == "input" else d.max_output_channels):
                    return d
        listed = ", ".join(repr(d.name) if d.source else f"{d.index}: {d.name}" for d in devices)
        raise AudioUnavailable(f"no audio {kind} device called {name!r} (there are {listed}; see `motet devices`)")
    for d in devices:
        if (d.is_default_input if kind == "input" else d.is_default_output):
            return d
    return devices[0]
