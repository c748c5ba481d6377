"""A private PulseAudio server with a null sink whose monitor is the default source (DESIGN.md
§6): a file played into the sink with paplay is captured through sounddevice exactly as from a
microphone. Used by the tests' ``pulse`` fixture and by benchmarks/live_latency.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

TOOLS = ("pulseaudio", "paplay", "parec")


class PulseUnavailable(RuntimeError):
    pass


class PulseServer:
    def __init__(self, socket: Path, sink: str = "virt") -> None:
        self.socket = socket
        self.sink = sink
        self.server = f"unix:{socket}"
        self.keeper: subprocess.Popen | None = None
        self.process: subprocess.Popen | None = None

    def _pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", f"--server={self.server}", *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def start_keeper(self) -> None:
        """An idle null sink renders in blocks of up to 2 s, so a new recording stream would wait
        that long for its first audio. A microphone delivers at once; a low-latency reader kept
        open on the monitor makes the virtual one behave the same."""
        self.keeper = subprocess.Popen(
            ["parec", f"--server={self.server}", f"--device={self.sink}.monitor", "--latency-msec=10"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(2.1)  # let the sink finish the long block it was in

    def stop_keeper(self) -> None:
        if self.keeper is not None:
            self.keeper.kill()
            self.keeper.wait()
            self.keeper = None

    def remove_sink(self) -> None:
        """Unplug the virtual microphone: its monitor source disappears under any recording."""
        for line in self._pactl("list", "short", "modules").splitlines():
            if "module-null-sink" in line:
                self._pactl("unload-module", line.split()[0])
        self.stop_keeper()

    def restore_sink(self) -> None:
        self._pactl("load-module", "module-null-sink", f"sink_name={self.sink}", "rate=48000")
        self._pactl("set-default-source", f"{self.sink}.monitor")
        self.start_keeper()

    def play(self, path: str | Path, wait: bool = True) -> subprocess.Popen:
        """Play a file into the null sink: Motet hears it on the default input."""
        proc = subprocess.Popen(["paplay", f"--server={self.server}", f"--device={self.sink}", str(path)])
        if wait:
            proc.wait(timeout=120)
            if proc.returncode:
                raise RuntimeError(f"paplay failed with {proc.returncode}")
        return proc

    def stop(self) -> None:
        self.stop_keeper()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def start_pulse(folder: Path) -> PulseServer:
    """Start the server in ``folder``; raises PulseUnavailable with the reason if it cannot."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise PulseUnavailable(f"PulseAudio tools not installed: {', '.join(missing)}")
    folder.mkdir(parents=True, exist_ok=True)
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
            raise PulseUnavailable(f"PulseAudio did not start:\n{log}")
        time.sleep(0.05)
    server = PulseServer(socket)
    server.process = proc
    server.start_keeper()
    return server
