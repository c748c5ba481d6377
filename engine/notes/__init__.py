"""Sound becomes notes: pitch models' outputs turned into note events (issue #30).

`NoteEvent` is what every note extractor returns (polyphonic Basic Pitch, monophonic SwiftF0):
times in seconds of the input audio, so the caller places and quantizes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NoteEvent:
    """One note heard: ``start``/``end`` in seconds (end > start), ``pitch`` a MIDI number
    (0-127), ``velocity`` 1-127 from the note's loudness or the model's confidence."""

    start: float
    end: float
    pitch: int
    velocity: int
