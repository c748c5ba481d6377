"""Shared fixtures: offscreen Qt, per-test data and settings folders, a private PulseAudio server,
speech clips for the batch tests.

The PulseAudio server (DESIGN.md §6) has a null sink whose monitor is the default source, so a
file played into the sink with paplay is captured through sounddevice exactly as a microphone.
"""

from __future__ import annotations

import os

import pytest
from pulse_server import PulseUnavailable, start_pulse

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_folders(tmp_path, monkeypatch):
    """Every test gets its own take library and settings file; nothing touches the user's."""
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOTET_CONFIG_DIR", str(tmp_path / "config"))
    yield


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A private PulseAudio server; skipped (or failed, with MOTET_REQUIRE_PULSE=1) if absent."""
    try:
        server = start_pulse(tmp_path_factory.mktemp("pulse"))
    except PulseUnavailable as exc:
        if os.environ.get("MOTET_REQUIRE_PULSE"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    old = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.server
    from engine.audio import devices

    devices.rescan()  # PortAudio lists devices once; let it see the new server
    yield server
    server.stop()
    if old is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = old
    devices.rescan()


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """A folder of 30 short espeak clips (sentences in two voices) and a long file of 20 sentences
    with pauses beside them; and the long file's true sentence spans."""
    import shutil

    from speech import SENTENCES, VOICES, build, espeak

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("batch-input")
    for i in range(30):
        espeak(SENTENCES[i % len(SENTENCES)], VOICES[(i // len(SENTENCES) + i) % 2], folder / f"clip{i:02d}.wav")
    work = tmp_path_factory.mktemp("batch-long")
    path, spans = build([(s, VOICES[i % 2]) for i, s in enumerate(SENTENCES)], work, "long")
    shutil.copy(path, folder / "long.wav")
    return folder, spans


@pytest.fixture(scope="module")
def tiny_musicgen_folder(tmp_path_factory):
    """A small random MusicGen saved in transformers' format (tests/musicgen_helpers.py), one per
    test module (needs transformers: the modules that use it skip without it)."""
    from musicgen_helpers import tiny_musicgen

    path = tmp_path_factory.mktemp("mg") / "tiny-musicgen"
    tiny_musicgen(path)
    return path
