"""The one check of an option's range, shared by every family's options module (no torch here:
the command line's parser imports the limits)."""

from __future__ import annotations


def check_range(name: str, value, limits: tuple) -> None:
    """ValueError naming ``name`` unless ``value`` is a finite number within ``limits``."""
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
