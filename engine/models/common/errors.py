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


SHOWN_CHARS = 100  # the most of a file's value an error message echoes


def _repr() -> "reprlib.Repr":
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 6, 6, 4, 4
    r.maxstring = r.maxother = r.maxlong = SHOWN_CHARS
    return r


def shown(value, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, however large or deep ``value`` is:
    what an error message may echo of a file's contents (control characters escaped)."""
    try:
        text = _repr().repr(value)
    except Exception:  # noqa: BLE001 - a value too deep or too odd to print: its type will do
        text = f"<{type(value).__name__}>"
    text = printable(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def cut(text, limit: int = 200) -> str:
    """``text`` (a message from elsewhere) escaped as ``printable`` does and cut to ``limit`` characters."""
    text = printable(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def printable(text) -> str:
    """``text`` with every control or otherwise unprintable character escaped (``\\x1b``), so a
    name from a user or a file cannot drive the terminal it is printed on."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
