"""Measures of a composed piece against what was asked and against the corpus: the meter felt
(where the onsets fall), the key (Krumhansl–Schmuckler), and the style, by a small classifier
trained on held-out corpus pieces. benchmarks/compose_eval.py reports them; the tests use them
on the shipped model."""

from __future__ import annotations

import numpy as np
import torch

from engine.models.composer.controls import METERS, STYLES
from engine.models.composer.keys import estimate_key
from engine.models.composer.tokens import TPQ, BarNote, bar_ticks

LEVELS = ("downbeat", "beat", "half beat", "off the grid")


def beat_ticks(meter: tuple[int, int]) -> tuple[int, int]:
    """The beat and its subdivision in ticks: compound meters (6/8, 9/8, 12/8, 3/8) beat in
    dotted quarters divided in three, the others in the denominator's note divided in two."""
    numerator, denominator = meter
    unit = TPQ * 4 // denominator
    if denominator == 8 and numerator % 3 == 0:
        return 3 * unit, unit
    return unit, max(unit // 2, 1)


def onset_levels(notes: list[BarNote], meter: tuple[int, int]) -> np.ndarray:
    """The share of onsets (one per position, chords count once) on each of ``LEVELS``."""
    beat, half = beat_ticks(meter)
    counts = np.zeros(len(LEVELS))
    for bar, position in {(n.bar, n.position) for n in notes}:
        level = 0 if position == 0 else 1 if position % beat == 0 else 2 if position % half == 0 else 3
        counts[level] += 1
    return counts / max(counts.sum(), 1)


def strong_beat_share(notes: list[BarNote], meter: tuple[int, int]) -> float:
    """Onsets on a downbeat or a beat, as a share of all onsets: how much the meter is felt."""
    levels = onset_levels(notes, meter)
    return float(levels[0] + levels[1])


def key_of(notes: list[BarNote]):
    return estimate_key([n.pitch for n in notes], [n.duration for n in notes])


def features(notes: list[BarNote], meter: tuple[int, int], bars: int) -> np.ndarray:
    """What tells the styles apart without being told the style: the meter, where onsets fall,
    the note lengths, the melodic steps of the top line, the pitch classes from the key's tonic,
    how many notes sound at once, how busy and how high."""
    meter_1hot = np.eye(len(METERS))[METERS.index(tuple(meter))] if tuple(meter) in METERS else np.zeros(len(METERS))
    if not notes:
        return np.concatenate([meter_1hot, np.zeros(4 + 8 + 13 + 12 + 3)])
    durations = np.histogram(np.log2([n.duration / TPQ for n in notes]), bins=8, range=(-3, 3))[0]
    top: dict[tuple[int, int], int] = {}
    for n in notes:
        top[(n.bar, n.position)] = max(top.get((n.bar, n.position), 0), n.pitch)
    line = np.array([top[k] for k in sorted(top)])
    steps = np.histogram(np.clip(np.diff(line), -6, 6), bins=13, range=(-6.5, 6.5))[0] if len(line) > 1 else np.zeros(13)
    tonic = key_of(notes).tonic
    classes = np.bincount([(n.pitch - tonic) % 12 for n in notes], minlength=12)
    length = bar_ticks(meter)
    sounding = sum(n.duration for n in notes) / max(bars * length, 1)
    onsets = len(top) / max(bars * length / TPQ, 1)
    register = np.median([n.pitch for n in notes]) / 127
    return np.concatenate([meter_1hot, onset_levels(notes, meter), durations / max(durations.sum(), 1),
                           steps / max(steps.sum(), 1), classes / classes.sum(),
                           [min(sounding, 6) / 6, min(onsets, 8) / 8, register]])


class StyleClassifier:
    """Softmax regression on ``features`` (standardised), trained with weight decay: small, so
    that what it recognises is the style's surface, not a memory of pieces."""

    def __init__(self, styles: tuple[str, ...] = tuple(STYLES)) -> None:
        self.styles = styles

    def fit(self, x: np.ndarray, labels: list[str], steps: int = 600, seed: int = 0) -> StyleClassifier:
        torch.manual_seed(seed)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        inputs = torch.tensor((x - self.mean) / self.std, dtype=torch.float32)
        targets = torch.tensor([self.styles.index(s) for s in labels])
        self.linear = torch.nn.Linear(x.shape[1], len(self.styles))
        optimiser = torch.optim.Adam(self.linear.parameters(), lr=0.05, weight_decay=1e-3)
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(self.linear(inputs), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return self

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> list[str]:
        scores = self.linear(torch.tensor((x - self.mean) / self.std, dtype=torch.float32))
        return [self.styles[i] for i in scores.argmax(-1).tolist()]


def confusion(truth: list[str], predicted: list[str], styles: tuple[str, ...]) -> list[list[int]]:
    matrix = [[0] * len(styles) for _ in styles]
    for t, p in zip(truth, predicted):
        matrix[styles.index(t)][styles.index(p)] += 1
    return matrix


def texture(notes, ticks_per_beat: int) -> dict[str, float]:
    """Notes (Score ticks): mean notes sounding over their span, onsets per quarter note, pitch
    range (semitones), median note length (quarters): what a continuation should keep."""
    if not notes:
        return {"polyphony": 0.0, "onsets_per_beat": 0.0, "pitch_range": 0.0, "median_length": 0.0}
    start, end = min(n.start for n in notes), max(n.end for n in notes)
    beats = max(end - start, 1) / ticks_per_beat
    return {"polyphony": sum(n.duration for n in notes) / max(end - start, 1),
            "onsets_per_beat": len({n.start for n in notes}) / beats,
            "pitch_range": float(max(n.pitch for n in notes) - min(n.pitch for n in notes)),
            "median_length": float(np.median([n.duration for n in notes])) / ticks_per_beat}


def same_pitch_overlaps(notes) -> int:
    """Notes that start while another of the same pitch still sounds."""
    count, sounding = 0, {}
    for n in sorted(notes):
        if sounding.get(n.pitch, -1) > n.start:
            count += 1
        sounding[n.pitch] = max(sounding.get(n.pitch, -1), n.end)
    return count
