"""Build a one-folder Motet app with PyInstaller.

    python3 -m uv run --with pyinstaller python build_installer.py [--clean]

The result is dist/Motet/ with the `Motet` executable; assets/ travels inside it. Model weights
are not bundled: they are downloaded on first use into the Hugging Face cache.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="discard PyInstaller's cache first")
    args = parser.parse_args(argv)
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        print("PyInstaller is not installed: run `python3 -m uv run --with pyinstaller python build_installer.py`",
              file=sys.stderr)
        return 2
    options = [
        str(ROOT / "gui" / "shell" / "main.py"),
        "--name", "Motet",
        "--noconfirm",
        "--onedir",
        "--windowed",
        "--paths", str(ROOT),
        "--add-data", f"{ROOT / 'assets'}{os.pathsep}assets",
        "--collect-submodules", "engine",
        "--collect-submodules", "gui",
        "--collect-data", "pyqtgraph",
        "--collect-binaries", "sounddevice",
        "--collect-data", "_sounddevice_data",
        "--collect-data", "_soundfile_data",
    ]
    if args.clean:
        options.append("--clean")
    pyinstaller.run(options)
    print(f"built {ROOT / 'dist' / 'Motet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
