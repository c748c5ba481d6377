"""The one error every model family raises for a checkpoint a person has to fix."""

from __future__ import annotations

from collections.abc import Sequence


class CheckpointError(Exception):
    """A model folder or weight file is missing, corrupt, truncated, refused or of the wrong shape.

    ``str()`` is the one line to show: which file, what was expected and what was found.
    """


def first_few(items: Sequence[str], n: int = 5, sep: str = ", ") -> str:
    """``a, b, c, d, e and 7 more``: lists in error messages stay readable."""
    items = list(items)
    text = sep.join(items[:n])
    return text + (f" and {len(items) - n} more" if len(items) > n else "")
