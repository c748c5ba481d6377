"""The sound server's inputs as Motet reads them from pactl (JSON, or the text of an older pactl),
and the fallback to PortAudio's list when no server answers. Canned pactl output; no audio."""

import json

import pytest

from engine.audio import devices
from engine.audio.devices import AudioDevice

TEXT = """Source #0
\tState: RUNNING
\tName: alsa_output.pci.analog-stereo.monitor
\tDescription: Monitor of Built-in Audio Analog Stereo
\tDriver: module-alsa-card.c
\tSample Specification: s16le 2ch 48000Hz
\tMonitor of Sink: alsa_output.pci.analog-stereo
\tProperties:
\t\tdevice.description = "Monitor of Built-in Audio Analog Stereo"
\t\tdevice.class = "monitor"

Source #1
\tState: SUSPENDED
\tName: alsa_input.usb-Blue_Yeti.analog-stereo
\tDescription: Yeti Stereo Microphone Analog Stereo
\tSample Specification: s24le 2ch 96000Hz
\tMonitor of Sink: n/a
\tProperties:
\t\tdevice.class = "sound"
"""

JSON = [
    {"name": "alsa_output.pci.analog-stereo.monitor", "description": "Monitor of Built-in Audio Analog Stereo",
     "sample_specification": "s16le 2ch 48000Hz", "monitor_source": "alsa_output.pci.analog-stereo",
     "properties": {"device.class": "monitor"}},
    {"name": "alsa_input.usb-Blue_Yeti.analog-stereo", "description": "Yeti Stereo Microphone Analog Stereo",
     "sample_specification": "s24le 2ch 96000Hz", "monitor_source": "", "properties": {"device.class": "sound"}},
    {"name": "alsa_input.pci.analog-stereo", "description": "Built-in Audio Analog Stereo",
     "sample_specification": "s16le 2ch 44100Hz", "monitor_source": "", "properties": {}},
    "not a source",
]
INFO = "Server Name: pulseaudio\nDefault Source: alsa_input.usb-Blue_Yeti.analog-stereo\n"
PULSE = AudioDevice(0, "pulse", "ALSA", 32, 32, 44100.0)
DEFAULT = AudioDevice(1, "default", "ALSA", 32, 32, 44100.0, is_default_input=True, is_default_output=True)


def fake_pactl(monkeypatch, json_works=True, server=True):
    def pactl(*args):
        if not server:
            return None
        if args == ("info",):
            return INFO
        if args[:2] == ("-f", "json"):
            return json.dumps(JSON) if json_works else None
        return TEXT
    monkeypatch.setattr(devices, "_pactl", pactl)
    monkeypatch.setattr(devices, "list_devices", lambda: [PULSE, DEFAULT])


@pytest.mark.parametrize("json_works", [True, False])
def test_sources_by_name_default_marked_monitors_last_at_their_rate(monkeypatch, json_works):
    fake_pactl(monkeypatch, json_works)
    inputs = devices.recording_inputs()
    names = [d.name for d in inputs]
    assert names[0] == "Yeti Stereo Microphone Analog Stereo"
    assert names[-1] == "Monitor of Built-in Audio Analog Stereo" and inputs[-1].is_monitor
    assert [d.name for d in inputs if d.is_default_input] == ["Yeti Stereo Microphone Analog Stereo"]
    yeti = inputs[0]
    assert yeti.default_samplerate == 96000 and yeti.max_input_channels == 2
    assert yeti.source == "alsa_input.usb-Blue_Yeti.analog-stereo" and yeti.index == PULSE.index
    assert devices.find_device(None).name == yeti.name
    assert devices.find_device("1", exact=True) == DEFAULT  # `motet devices` numbers are PortAudio's


def test_without_a_sound_server_the_portaudio_inputs(monkeypatch):
    fake_pactl(monkeypatch, server=False)
    assert devices.recording_inputs() == [PULSE, DEFAULT]


def test_the_source_is_chosen_only_while_the_stream_opens(monkeypatch):
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    mic = AudioDevice(0, "Yeti", "PulseAudio", 2, 0, 96000.0, source="yeti")
    import os

    assert devices.open_on_source(mic, lambda: os.environ.get("PULSE_SOURCE")) == "yeti"
    assert "PULSE_SOURCE" not in os.environ
    assert devices.open_on_source(PULSE, lambda: os.environ.get("PULSE_SOURCE")) is None
