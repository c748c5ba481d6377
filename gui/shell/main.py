"""Entry point of the `motet` command: a subcommand runs headless, no arguments opens the app."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from engine.cli import run

    code = run(argv)
    if code is not None:
        return code
    from gui.shell.app import run_app  # Qt is imported only when the window is wanted

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
