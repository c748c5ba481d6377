"""A private PulseAudio server with a null sink whose monitor is the default source (DESIGN.md
§6): a file played into the sink with paplay is captured through sounddevice exactly as from a
microphone. Used by the tests' ``pulse`` fixture and by benchmarks/live_latency.py."""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

TOOLS = ("pulseaudio", "paplay", "parec")
READY_S = 60  # bound on the server or a stream coming up: no real work, but a slow, busy machine


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
                              capture_output=True, text=True, timeout=READY_S).stdout

    def start_keeper(self) -> None:
        """An idle null sink renders in blocks of up to 2 s, so a new recording stream would wait
        that long for its first audio. A microphone delivers at once; a low-latency reader kept
        open on the monitor makes the virtual one behave the same.

        The keeper's own first audio arrives when the sink has finished the long block it was in;
        from then on a new stream gets audio at once. So this returns once that first audio has
        arrived, not after a fixed time that a slow machine could need more than. The keeper's
        first byte comes to this process; the rest is dropped in the pipeline (no thread here)."""
        reader = (f"parec --server={shlex.quote(self.server)} --device={shlex.quote(self.sink)}.monitor"
                  " --latency-msec=10")
        self.keeper = subprocess.Popen(
            ["sh", "-c", f"{reader} | {{ head -c 1; exec cat >/dev/null; }}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        ready, _, _ = select.select([self.keeper.stdout], [], [], READY_S)
        if not ready or not self.keeper.stdout.read(1):
            self.stop_keeper()
            raise PulseUnavailable(f"the virtual microphone delivered no audio within {READY_S} s")

    def stop_keeper(self) -> None:
        if self.keeper is not None:
            try:
                os.killpg(self.keeper.pid, signal.SIGKILL)  # the shell, parec and cat
            except ProcessLookupError:
                pass
            self.keeper.wait()
            self.keeper.stdout.close()
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

    def add_microphone(self, name: str, description: str, rate: int = 48000) -> "VirtualMicrophone":
        """Another input, listed as ``description``: a source (not a monitor) of its own null sink,
        so a file played with ``mic.play(path)`` is heard on it alone. ``mic.remove()`` unplugs it."""
        sink = f"{name}_out"
        modules = [
            self._pactl("load-module", "module-null-sink", f"sink_name={sink}", f"rate={rate}",
                        f"sink_properties=\"device.description='{description} output'\"").strip(),
            self._pactl("load-module", "module-remap-source", f"master={sink}.monitor", f"source_name={name}",
                        f"rate={rate}", f"source_properties=\"device.description='{description}'\"").strip(),
        ]
        mic = VirtualMicrophone(self, name, sink, modules)
        mic.keeper = PulseServer(self.socket, sink)  # its own low-latency reader (see start_keeper)
        mic.keeper.start_keeper()
        return mic

    def stop(self) -> None:
        self.stop_keeper()
        for mic in list(getattr(self, "microphones", [])):
            mic.remove()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


class VirtualMicrophone:
    """A source added by ``PulseServer.add_microphone``."""

    def __init__(self, server: PulseServer, name: str, sink: str, modules: list[str]) -> None:
        self.server, self.name, self.sink, self.modules = server, name, sink, modules
        self.keeper: PulseServer | None = None
        server.__dict__.setdefault("microphones", []).append(self)

    def play(self, path: str | Path, wait: bool = True) -> subprocess.Popen:
        proc = subprocess.Popen(["paplay", f"--server={self.server.server}", f"--device={self.sink}", str(path)])
        if wait:
            proc.wait(timeout=120)
            if proc.returncode:
                raise RuntimeError(f"paplay failed with {proc.returncode}")
        return proc

    def remove(self) -> None:
        if self.keeper is not None:
            self.keeper.stop_keeper()
            self.keeper = None
        for module in reversed(self.modules):
            try:
                self.server._pactl("unload-module", module)
            except subprocess.CalledProcessError:
                pass  # already gone (remove_sink unloads every null sink)
        self.modules = []
        if self in self.server.__dict__.get("microphones", []):
            self.server.microphones.remove(self)


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
    deadline = time.monotonic() + READY_S
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
