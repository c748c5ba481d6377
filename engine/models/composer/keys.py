"""Key finding (Krumhansl–Schmuckler, with the Krumhansl–Kessler probe-tone profiles): the
training data's key labels and the measure of whether a generated piece is in the asked key."""

from __future__ import annotations

import numpy as np

from engine.models.composer.controls import Key

MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def to_c(tonic: int) -> int:
    """The transposition (-6..+5 semitones) that moves ``tonic`` to C."""
    return (6 - tonic) % 12 - 6


def pitch_classes(pitches, durations) -> np.ndarray:
    """The duration-weighted share of each pitch class (zeros when there are no notes)."""
    histogram = np.zeros(12)
    np.add.at(histogram, np.asarray(pitches, dtype=int) % 12, np.asarray(durations, dtype=float))
    return histogram / max(histogram.sum(), 1e-9)


def estimate_key(pitches, durations) -> Key:
    """The key whose profile correlates best with the duration-weighted pitch classes."""
    histogram = pitch_classes(pitches, durations)
    if not histogram.any():
        return Key(0, "major")
    best, best_r = Key(0, "major"), -2.0
    for mode, profile in (("major", MAJOR), ("minor", MINOR)):
        for tonic in range(12):
            r = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best
