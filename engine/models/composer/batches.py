"""Training batches and evaluation windows of the composer's data (data.py's pieces), for the
shared training loop (engine/models/music_transformer/train.py).

A window is ``BOS, controls, SEP`` then whole bars of one piece from a bar on (the first bar half
of the time, so that beginnings are learnt), ``EOS`` where the piece ends. Every piece is moved to the tonic C (by its key's tonic, -6..+5 semitones; the mode is kept, so
the KEY control says major or minor), so the model learns one tonality per mode instead of
twelve; the sampler moves what it composes to the asked tonic. Augmentation when batches are
drawn: controls dropped at random (the style 15 % of the time, each of voices, density and
register 30 %) so that the model also composes when they are not asked, and Continue can give
only what the notes say. The unconditioned baseline (``conditioned=False``) sees ``BOS, SEP`` and the same bars.
Losses and NLL count the body only (bars and EOS), so both models are measured on the same tokens.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from engine.models.composer.data import controls_of, load_pieces
from engine.models.composer.keys import to_c
from engine.models.composer.tokens import (
    BAR0,
    BOS,
    EOS,
    HIGH_PITCH,
    LOW_PITCH,
    PAD,
    SEP,
    BarNote,
    body_tokens,
    control_tokens,
)


def piece_notes(piece: dict, transpose: int = 0) -> list[BarNote]:
    """A corpus piece's notes as BarNotes, moved by ``transpose`` (those leaving the piano's range dropped)."""
    return [BarNote(b, p, pitch + transpose, d) for b, p, pitch, d in piece["notes"]
            if LOW_PITCH <= pitch + transpose <= HIGH_PITCH]


VOCABULARY = "remi-controls"  # config.json's "vocabulary" of a composer model


class ComposerData:
    vocabulary = VOCABULARY

    def __init__(self, data_dir: str | Path, conditioned: bool = True) -> None:
        self.data_dir, self.conditioned = data_dir, conditioned

    def prefix(self, piece: dict, transpose: int = 0, rng: random.Random | None = None) -> list[int]:
        if not self.conditioned:
            return [BOS, SEP]
        keep = (lambda p: rng.random() < p) if rng is not None else (lambda p: True)
        controls = controls_of(piece, transpose)
        return [BOS] + control_tokens(controls, keep(0.85), (keep(0.7), keep(0.7), keep(0.7))) + [SEP]

    def batches(self, length: int, seed: int) -> Sampler:
        return Sampler(self, load_pieces(self.data_dir, "train"), length, seed)

    def windows(self, split: str, length: int, openings: bool = False) -> list[np.ndarray]:
        """Every piece of ``split`` as consecutive windows of whole bars (a bar longer than a
        window is cut), moved to C, with every control; ``openings``: each piece's first only."""
        out = []
        for piece in load_pieces(self.data_dir, split):
            shift = to_c(piece["key"][0])
            notes, bars, prefix = piece_notes(piece, shift), piece["bars"], self.prefix(piece, shift)
            window = list(prefix)
            for bar in range(bars):
                tokens = body_tokens(notes, bars, bar, bar + 1) + ([EOS] if bar == bars - 1 else [])
                if len(window) > len(prefix) and len(window) + len(tokens) > length + 1:
                    out.append(_padded(window, length))
                    window = list(prefix)
                    if openings:
                        break
                window += tokens
            else:
                out.append(_padded(window, length))
        return out

    @staticmethod
    def counted(targets: torch.Tensor) -> torch.Tensor:
        """The body's tokens (bars, positions, pitches, durations) and EOS; not the controls."""
        return (targets >= BAR0) | (targets == EOS)


def _padded(window: list[int], length: int) -> np.ndarray:
    window = window[:length + 1]
    return np.array(window + [PAD] * (length + 1 - len(window)), np.int64)


class Sampler:
    """Random training windows of ``length + 1`` tokens (inputs and shifted targets)."""

    def __init__(self, data: ComposerData, pieces: list[dict], length: int, seed: int) -> None:
        if not pieces:
            raise ValueError(f"no training pieces in {data.data_dir}")
        self.data, self.pieces, self.length = data, pieces, length
        self.rng = random.Random(seed)

    def sample(self, batch: int) -> np.ndarray:
        out = np.full((batch, self.length + 1), PAD, np.int64)
        for row in range(batch):
            piece = self.rng.choice(self.pieces)
            transpose = to_c(piece["key"][0])
            bars = piece["bars"]
            first = 0 if self.rng.random() < 0.5 else self.rng.randrange(bars)
            window = self.data.prefix(piece, transpose, self.rng)
            notes = piece_notes(piece, transpose)
            bar = first
            while len(window) <= self.length and bar < bars:
                last = min(bars, bar + 8)
                window += body_tokens(notes, bars, bar, last) + ([EOS] if last == bars else [])
                bar = last
            out[row] = _padded(window, self.length)
        return out
