"""The headless `motet` command."""

import json
import subprocess
import sys

from engine import __version__


def _motet(*args, **kw):
    return subprocess.run([sys.executable, "-m", "gui.shell.main", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def test_version_and_help():
    out = _motet("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"motet {__version__}"
    out = _motet("--help")
    assert out.returncode == 0
    for word in ("devices", "record", "takes"):
        assert word in out.stdout


def test_devices_lists_compute_devices_and_needs_no_qt():
    out = _motet("devices", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["compute"][-1]["kind"] == "cpu"
    assert isinstance(data["audio"], list)
    # the headless path never loads Qt
    code = "import sys; from engine.cli import run; run(['devices']); assert 'PySide6' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120).returncode == 0


def test_the_parser_and_version_import_neither_torch_nor_qt():
    """`motet --version`, `--help` and every command's parsing wait for no heavy import: torch is
    imported where a model runs (a module-level import here once cost every start 3 s)."""
    code = ("import sys\nfrom engine.cli import build_parser\nbuild_parser()\n"
            "heavy = [m for m in ('torch', 'torchaudio', 'PySide6', 'ray', 'transformers') if m in sys.modules]\n"
            "assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_record_without_an_input_device_fails_clearly(tmp_path):
    import os

    # No PulseAudio server and no sound card: PortAudio finds no input at all.
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent", "MOTET_DATA_DIR": str(tmp_path)}
    out = _motet("record", "--seconds", "1", env=env)
    assert out.returncode == 2
    assert "motet: no audio input device found" in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.rglob("*.wav"))  # nothing half-made left behind


def test_record_checks_the_live_compute_type_before_recording(tmp_path):
    import os

    env = {**os.environ, "MOTET_DATA_DIR": str(tmp_path)}
    out = _motet("record", "--seconds", "1", "--transcribe", "--compute-type", "int4", env=env)
    assert out.returncode == 2
    assert "argument --compute-type: invalid choice: 'int4'" in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.rglob("*.wav"))


def test_engine_never_imports_qt():
    import pathlib
    import re

    for path in pathlib.Path("engine").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(PySide6|PyQt|pyqtgraph|shiboken)", text, re.M), path


def test_usage_errors_are_one_line(tmp_path):
    out = _motet("transcribe", "--beam-size", "x", "a.wav")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "motet transcribe: argument --beam-size: 'x' is not a whole number (see motet transcribe --help)"]
    out = _motet("nosuchcommand")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    import os

    env = {**os.environ, "MOTET_DATA_DIR": str(tmp_path)}
    code = ("import sys; from engine.cli import audio; "
            "audio.cmd_devices = lambda a: [print('line', i) for i in range(200000)] and 0; "
            "from engine.cli import run; import engine.cli as c; c.COMMANDS['devices'] = audio.cmd_devices; "
            "sys.exit(run(['devices']))")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -1", shell=True, capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.stdout == "line 0\n"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_an_unexpected_error_is_one_line_and_its_traceback_is_kept(tmp_path):
    import os

    env = {**os.environ, "MOTET_DATA_DIR": str(tmp_path)}
    code = ("import sys; import engine.cli as c; "
            "c.COMMANDS['devices'] = lambda a: 1 / 0; sys.exit(c.run(['devices']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 70
    line, = proc.stderr.strip().splitlines()
    assert line.startswith("motet devices: unexpected error: ZeroDivisionError: division by zero (details in ")
    logs = list((tmp_path / "logs").glob("crash-*-devices.txt"))
    assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text()
