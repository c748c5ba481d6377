"""Shared fixtures: offscreen Qt, per-test data and settings folders, a private PulseAudio server.

The PulseAudio server (DESIGN.md §6) has a null sink whose monitor is the default source, so a
file played into the sink with paplay is captured through sounddevice exactly as a microphone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_folders(tmp_path, monkeypatch):
    """Every test gets its own take library and settings file; nothing touches the user's."""
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOTET_CONFIG_DIR", str(tmp_path / "config"))
    yield


class PulseServer:
    def __init__(self, socket: Path, sink: str = "virt") -> None:
        self.socket = socket
        self.sink = sink
        self.server = f"unix:{socket}"

    def play(self, path: str | Path, wait: bool = True) -> subprocess.Popen:
        """Play a file into the null sink: Motet hears it on the default input."""
        proc = subprocess.Popen(["paplay", f"--server={self.server}", f"--device={self.sink}", str(path)])
        if wait:
            proc.wait(timeout=120)
            if proc.returncode:
                raise RuntimeError(f"paplay failed with {proc.returncode}")
        return proc


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A private PulseAudio server; skipped (or failed, with MOTET_REQUIRE_PULSE=1) if absent."""
    missing = [tool for tool in ("pulseaudio", "paplay", "parec") if shutil.which(tool) is None]
    if missing:
        message = f"PulseAudio tools not installed: {', '.join(missing)}"
        if os.environ.get("MOTET_REQUIRE_PULSE"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("pulse")
    socket = folder / "pulse.sock"
    config = folder / "motet.pa"
    config.write_text(
        "load-module module-null-sink sink_name=virt rate=48000\n"
        f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n"
        "set-default-source virt.monitor\n"
    )
    env = dict(os.environ, HOME=str(folder), XDG_RUNTIME_DIR=str(folder))
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(config), "--exit-idle-time=-1", "--use-pid-file=no",
         "--daemonize=no", "--log-target=stderr", "--disallow-exit"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "pulse.log", "w"),
    )
    deadline = time.monotonic() + 15
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (folder / "pulse.log").read_text()[-2000:]
            proc.kill()
            pytest.fail(f"PulseAudio did not start:\n{log}")
        time.sleep(0.05)
    # An idle null sink renders in blocks of up to 2 s, so a new recording stream would wait that
    # long for its first audio. A microphone delivers at once; a low-latency reader kept open on
    # the monitor makes the virtual one behave the same.
    keeper = subprocess.Popen(
        ["parec", f"--server=unix:{socket}", "--device=virt.monitor", "--latency-msec=10"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(2.1)  # let the sink finish the long block it was in
    old = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = f"unix:{socket}"
    from engine.audio import devices

    devices.rescan()  # PortAudio lists devices once; let it see the new server
    yield PulseServer(socket)
    keeper.kill()
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    if old is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = old
    devices.rescan()
