"""The real app on a real X server (Xvfb), started the way a user starts it."""

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run not installed")
def test_motet_opens_on_x11_and_closes_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(MOTET_DATA_DIR=str(tmp_path / "data"), MOTET_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "gui.main"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    ini = tmp_path / "config" / "motet.ini"
    deadline = time.monotonic() + 90
    app = None
    while app is None and time.monotonic() < deadline:  # xvfb-run starts Xvfb, then the app
        assert proc.poll() is None, proc.stdout.read()
        app = next((c for c in psutil.Process(proc.pid).children(recursive=True)
                    if "gui.main" in " ".join(c.cmdline())), None)
        time.sleep(0.2)
    assert app is not None
    while not (tmp_path / "data" / "takes").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the main window creates the take library as it opens
    time.sleep(2)
    assert proc.poll() is None and app.is_running(), proc.stdout.read()  # still up: the window is open
    app.send_signal(signal.SIGTERM)  # it closes the window and saves its settings
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    output = proc.stdout.read()
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    assert "window" in ini.read_text()  # geometry and state were saved on close
