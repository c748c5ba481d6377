"""The real app on a real X server (Xvfb), started the way a user starts it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


def _stop(proc: subprocess.Popen, app: psutil.Process | None) -> None:
    """Leave nothing running: on a hang, SIGABRT makes faulthandler print every thread's stack."""
    if proc.poll() is None:
        if app is not None and app.is_running():
            app.send_signal(signal.SIGABRT)
            time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _find_app(root: int) -> psutil.Process | None:
    """xvfb-run's own subshells carry "gui.shell.main" in their command line too: match the app's."""
    for child in psutil.Process(root).children(recursive=True):
        try:
            if child.cmdline()[:3] == [sys.executable, "-m", "gui.shell.main"]:
                return child
        except psutil.Error:  # a subshell that just ended
            pass
    return None


def _catches_sigterm(pid: int) -> bool:
    """The process has a handler of its own for SIGTERM: the app installs one after show()."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) >> (signal.SIGTERM - 1) & 1)


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run not installed")
def test_motet_opens_on_x11_and_closes_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(MOTET_DATA_DIR=str(tmp_path / "data"), MOTET_CONFIG_DIR=str(tmp_path / "config"),
               PYTHONFAULTHANDLER="1")
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "gui.shell.main"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ini = tmp_path / "config" / "motet.ini"
    app = None
    try:
        deadline = time.monotonic() + 120
        while app is None and time.monotonic() < deadline:  # xvfb-run starts Xvfb, then the app
            assert proc.poll() is None, log_path.read_text()
            app = _find_app(proc.pid)
            time.sleep(0.2)
        assert app is not None, "the app process never started"
        takes = tmp_path / "data" / "takes"
        while not takes.exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # the main window creates the take library as it opens
        assert takes.exists(), "the window never came up:\n" + log_path.read_text()
        while not _catches_sigterm(app.pid) and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.2)  # show() and the signal handlers follow
        assert _catches_sigterm(app.pid), "the app never set up its SIGTERM handler:\n" + log_path.read_text()
        assert proc.poll() is None and app.is_running(), log_path.read_text()  # still up: the window is open
        app.send_signal(signal.SIGTERM)  # it closes the window and saves its settings
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            _stop(proc, app)
            pytest.fail("the app did not close on SIGTERM:\n" + log_path.read_text())
    finally:
        _stop(proc, app)
    output = log_path.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    assert "window" in ini.read_text()  # geometry and state were saved on close


def test_an_unusable_data_folder_is_one_line_not_a_traceback(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    env = {**os.environ, "MOTET_DATA_DIR": str(tmp_path / "a-file" / "data"), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "gui.shell.main"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    line, = proc.stderr.strip().splitlines()
    assert line.startswith("motet: cannot use the take library in ") and "is not a folder" in line
