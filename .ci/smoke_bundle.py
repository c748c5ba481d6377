"""Smoke test of the built one-folder app (build_installer.py), run as a user would run it.

    python3 -m uv run --locked python .ci/smoke_bundle.py [dist/Motet] [--keep]

The bundle is copied into a temporary folder elsewhere and every command runs from there with a
fresh HOME (and XDG folders), a scrubbed environment (PATH=/usr/bin:/bin, no PYTHONPATH, no
MOTET_* or HF_* variables), its working folder outside the repo, and, where `unshare` allows it
(root), no network and the repo hidden under an empty folder, so nothing can come from the
source tree or the hub. Steps, each printed PASS or FAIL with its time:

  --version; `models list` names the bundled tiny.en; `transcribe` an espeak-ng file with the
  bundled model (most words right); `record --transcribe` through a private PulseAudio server's
  virtual microphone (tests/pulse_server.py) while the same kind of file plays into it (live
  transcription works); `continue` an example motif shipped in the bundle (a MIDI file with more
  notes); the app's main window under Xvfb within GUI_WAIT_S, with screenshots of its first
  page and of the Transcribe page (smoke-gui*.png, copied beside the bundle); no crash log written.

Needs espeak-ng, pulseaudio + pulseaudio-utils, Xvfb and xdotool; the checks use
mido from the project's environment. Exits 1 if any step fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_WAIT_S = 90  # the window shows in about a second; generous for a slow, busy machine
COMMAND_S = 300  # any one headless command: a model load and a few seconds of audio
SPEECH = ("A large size in stockings is hard to sell. The salt breeze came across from the sea. "
          "The juice of lemons makes fine punch.")  # sentences tiny.en hears whole (tests/speech.py)
LIVE_SPEECH = "It is easy to tell the depth of a well. Rice is often served in round bowls."  # as tests/e2e


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def recall(expected: str, heard: str) -> float:
    """Share of the expected words that were heard (in any order)."""
    want, got = words(expected), set(words(heard))
    return sum(w in got for w in want) / len(want)


class Smoke:
    def __init__(self, bundle: Path, work: Path) -> None:
        self.work = work
        self.home = work / "home"
        self.cwd = work / "cwd"
        for folder in (self.home, self.cwd, work / "run"):
            folder.mkdir(parents=True, exist_ok=True)
        (work / "run").chmod(0o700)
        self.app = work / "app" / "Motet"
        started = time.monotonic()
        try:  # hard links where the file system allows: a copy elsewhere without 3 GB of writes
            shutil.copytree(bundle, self.app, symlinks=True, copy_function=os.link)
            how = "hard-linked"
        except OSError:
            shutil.rmtree(self.app, ignore_errors=True)
            shutil.copytree(bundle, self.app, symlinks=True)
            how = "copied"
        print(f"bundle {how} to {self.app} in {time.monotonic() - started:.1f} s", flush=True)
        self.exe = self.app / "Motet"
        self.isolation = self._isolation()
        self.failures: list[str] = []
        self.pulse = None  # the private PulseAudio server, once the record step has started it

    def start_pulse(self):
        if self.pulse is None:
            spec = importlib.util.spec_from_file_location("pulse_server", ROOT / "tests" / "pulse_server.py")
            pulse_server = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(pulse_server)
            self.pulse = pulse_server.start_pulse(self.work / "pulse")
        return self.pulse

    def _isolation(self) -> list[str]:
        """A prefix that runs a command without network and with the repo hidden, if possible."""
        if self.work.resolve().is_relative_to(ROOT):
            print("NOTE: the work folder is inside the repo, which cannot be hidden", flush=True)
            return []
        prefix = ["unshare", "--net", "--mount", "--", "sh", "-c",
                  'mount -t tmpfs -o size=1m,mode=0755 motet-smoke-hidden "$0" && exec "$@"', str(ROOT)]
        probe = subprocess.run([*prefix, "sh", "-c", 'test -z "$(ls -A "$0")"', str(ROOT)],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            print("isolation: no network (unshare --net), the repo hidden (tmpfs over it)", flush=True)
            return prefix
        print(f"NOTE: unshare is not allowed here ({probe.stderr.strip() or probe.returncode}): commands run "
              "with the network and the repo visible; the scrubbed environment and the copy still apply",
              flush=True)
        return []

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_RUNTIME_DIR": str(self.work / "run"),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [*self.isolation, str(self.exe), *args]

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), cwd=self.cwd, env=self.env(**extra), capture_output=True,
                              text=True, timeout=COMMAND_S)

    def step(self, name: str, body) -> None:
        started = time.monotonic()
        try:
            detail = body()
            ok = True
        except Exception as exc:  # noqa: BLE001 - every failure is reported, the other steps still run
            detail, ok = f"{type(exc).__name__}: {exc}", False
        print(f"{'PASS' if ok else 'FAIL'} {name} ({time.monotonic() - started:.1f} s){': ' + detail if detail else ''}",
              flush=True)
        if not ok:
            self.failures.append(name)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def output(proc: subprocess.CompletedProcess | None, out: str = "", err: str = "") -> str:
    if proc is not None:
        out, err = proc.stdout, proc.stderr
    return f"\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"


def espeak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text], check=True)
    return path


# -- the steps --------------------------------------------------------------------------------
def check_version(s: Smoke) -> str:
    proc = s.run("--version")
    expect(proc.returncode == 0 and proc.stdout.startswith("motet "), f"exit {proc.returncode}" + output(proc))
    return proc.stdout.strip()


def check_models(s: Smoke) -> str:
    proc = s.run("models", "list", "--family", "whisper")
    expect(proc.returncode == 0, f"exit {proc.returncode}" + output(proc))
    line = next((x for x in proc.stdout.splitlines() if x.split()[:1] == ["tiny.en"]), None)
    expect(line is not None and str(s.app) in line, "the bundled tiny.en is not listed from the bundle" + output(proc))
    return " ".join(line.split())


def check_transcribe(s: Smoke) -> str:
    wav = espeak(SPEECH, s.cwd / "speech.wav")
    proc = s.run("transcribe", wav.name, "--output-dir", "out")
    expect(proc.returncode == 0, f"exit {proc.returncode}" + output(proc))
    text = (s.cwd / "out" / "speech.txt").read_text()
    share = recall(SPEECH, text)
    expect(share >= 0.7, f"{share:.0%} of the words heard: {text!r}")
    return f"{share:.0%} of the words: {' '.join(text.split())!r}"


def check_record(s: Smoke) -> str:
    wav = espeak(LIVE_SPEECH, s.work / "live.wav")
    pulse = s.start_pulse()
    proc = None
    try:
        proc = subprocess.Popen(s.command("record", "--transcribe", "--name", "Smoke"), cwd=s.cwd,
                                env=s.env(PULSE_SERVER=pulse.server), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        first = first_line(proc, COMMAND_S)  # printed once the model is loaded and the capture runs
        if "recording from" not in first:
            proc.kill()
            out, err = proc.communicate()
            why = f"exit {proc.returncode}" if first or proc.returncode != -signal.SIGKILL else f"nothing in {COMMAND_S} s"
            raise AssertionError(f"no recording started ({why})" + output(None, first + out, err))
        time.sleep(1.5)  # the voice detector and the live loop start
        pulse.play(wav)
        time.sleep(1.5)  # the last words reach the capture
        proc.send_signal(signal.SIGINT)  # Ctrl+C: stop, finish the transcript
        out, err = proc.communicate(timeout=COMMAND_S)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    expect(proc.returncode == 0, f"exit {proc.returncode}" + output(None, out, err))
    lines = [x for x in out.splitlines() if x.startswith("[")]
    expect(lines and "saved 'Smoke'" in out, "no transcript lines or no take saved" + output(None, out, err))
    stored = list(s.home.rglob("*.transcript.json"))
    expect(len(stored) == 1, f"transcripts stored under the fresh HOME: {stored}")
    heard = " ".join(x.split("]", 1)[1] for x in lines)
    share = recall(LIVE_SPEECH, heard)
    expect(share >= 0.5, f"{share:.0%} of the words heard live: {heard!r}")
    return f"{share:.0%} of the words, {len(lines)} lines: {' | '.join(x.strip() for x in lines)}"


def first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line the process prints, or '' if none comes within ``timeout`` seconds."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else ""


def check_continue(s: Smoke) -> str:
    import mido

    motif = s.app / "_internal" / "assets" / "motifs" / "walking-motif.mid"
    proc = s.run("continue", str(motif), "--bars", "2", "--seed", "1", "--out", "continued")
    expect(proc.returncode == 0, f"exit {proc.returncode}" + output(proc))
    made = sorted((s.cwd / "continued").glob("*.mid"))
    expect(len(made) == 1, f"files written: {made}" + output(proc))

    def notes(path: Path) -> int:
        return sum(m.type == "note_on" and m.velocity > 0 for track in mido.MidiFile(path).tracks for m in track)

    before, after = notes(motif), notes(made[0])
    expect(after > before, f"{made[0].name}: {after} notes, the motif had {before}")
    return f"{made[0].name}: {after} notes (the motif {before})"


def xwd_to_png(xwd: Path, png: Path) -> tuple[int, int, int]:
    """Xvfb's frame buffer file (XWD, 24/32-bit TrueColor) as a PNG; (width, height, colours)."""
    data = xwd.read_bytes()
    header = struct.unpack(">25I", data[:100])
    header_size, width, height = header[0], header[4], header[5]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = header[7], header[11], header[12], header[19]
    masks = header[14:17]
    expect(bits_per_pixel == 32 and masks == (0xFF0000, 0xFF00, 0xFF), f"unexpected XWD format {header}")
    pixels = data[header_size + 12 * ncolors:]
    r, g, b = (2, 1, 0) if byte_order == 0 else (1, 2, 3)  # LSBFirst: B G R x
    raw = bytearray()
    colours = set()
    for y in range(height):
        row = pixels[y * bytes_per_line:y * bytes_per_line + 4 * width]
        rgb = bytearray(3 * width)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[r::4], row[g::4], row[b::4]
        raw += b"\0" + rgb
        if y % 8 == 0:
            colours.update(bytes(rgb[i:i + 3]) for i in range(0, len(rgb), 24))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))
    return width, height, len(colours)


def check_gui(s: Smoke) -> str:
    fb = s.work / "framebuffer"
    fb.mkdir()
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-fbdir", str(fb),
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    app = None
    try:
        with os.fdopen(read) as pipe:
            display = ":" + pipe.readline().strip()
        expect(display != ":", "Xvfb did not start")
        log = open(s.work / "gui.log", "w+")
        audio = {"PULSE_SERVER": s.pulse.server} if s.pulse is not None else {}  # the virtual microphone
        app = subprocess.Popen(s.command(), cwd=s.cwd, env=s.env(DISPLAY=display, QT_QPA_PLATFORM="xcb", **audio),
                               stdout=log, stderr=subprocess.STDOUT)
        x = {**os.environ, "DISPLAY": display}
        started = time.monotonic()
        shown = None
        while time.monotonic() - started < GUI_WAIT_S:
            if subprocess.run(["xdotool", "search", "--name", "^Motet$"], env=x, capture_output=True).returncode == 0:
                shown = time.monotonic() - started
                break
            expect(app.poll() is None, f"the app exited with {app.returncode}: {log_tail(log)}")
            time.sleep(0.25)
        expect(shown is not None, f"no window named Motet within {GUI_WAIT_S} s: {log_tail(log)}")
        time.sleep(10)  # the engine and the pages load behind the window
        expect(app.poll() is None, f"the app exited with {app.returncode} after its window showed: {log_tail(log)}")
        width, height, colours = xwd_to_png(fb / "Xvfb_screen0", s.cwd / "smoke-gui.png")
        expect(colours > 20, f"the screen looks empty ({colours} colours)")
        # the Transcribe page (Ctrl+2 typed into the window; no window manager gives it the focus), to
        # see that it offers the bundled model
        window = subprocess.run(["xdotool", "search", "--name", "^Motet$"], env=x, capture_output=True,
                                text=True).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=x, check=True, timeout=30)
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+2"], env=x, check=True, timeout=30)
        time.sleep(3)
        expect(app.poll() is None, f"the app exited with {app.returncode} on its Transcribe page: {log_tail(log)}")
        xwd_to_png(fb / "Xvfb_screen0", s.cwd / "smoke-gui-transcribe.png")
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
        text = log_tail(log)
        expect("Traceback" not in text, f"the app printed a traceback: {text}")
        return f"window after {shown:.1f} s; screenshots {width}x{height} ({colours} colours): smoke-gui.png, " \
               "smoke-gui-transcribe.png"
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        xvfb.terminate()
        xvfb.wait()


def log_tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]


def check_no_crash_logs(s: Smoke) -> str:
    crashes = sorted(s.home.rglob("crash-*.txt"))
    expect(not crashes, "crash logs: " + "".join(f"\n{p}:\n{p.read_text()[-2000:]}" for p in crashes))
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "dist" / "Motet")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the copy, HOME, screenshot)")
    args = parser.parse_args(argv)
    if not (args.bundle / "Motet").is_file():
        print(f"smoke_bundle: no bundle at {args.bundle} (run build_installer.py)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="motet-smoke-"))
    started = time.monotonic()
    s = None
    try:
        s = Smoke(args.bundle.resolve(), work)
        s.step("--version", lambda: check_version(s))
        s.step("models list: the bundled tiny.en", lambda: check_models(s))
        s.step("transcribe an espeak-ng file with the bundled model", lambda: check_transcribe(s))
        s.step("record --transcribe through the PulseAudio virtual microphone", lambda: check_record(s))
        s.step("continue an example motif", lambda: check_continue(s))
        s.step("the main window under Xvfb", lambda: check_gui(s))
        s.step("no crash log", lambda: check_no_crash_logs(s))
        for screenshot in sorted(s.cwd.glob("smoke-gui*.png")):  # kept beside the bundle
            shutil.copy(screenshot, args.bundle.parent / screenshot.name)
            print(f"screenshot: {args.bundle.parent / screenshot.name}")
        failed = s.failures
    finally:
        if s is not None and s.pulse is not None:
            s.pulse.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - started
    print(f"{'FAIL' if failed else 'PASS'}: smoke test of the bundle in {total:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
