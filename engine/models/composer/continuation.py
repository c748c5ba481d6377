"""Continue a motif with the composer: the motif's own texture as the controls.

The Music Transformer learnt only four-voice chorales, so it answers a one-line motif with
sustained clusters. The composer learnt tunes, songs and polyphony; given what the prompt's notes
are — its key (Krumhansl–Schmuckler), how many notes sound at once, how busy, how high, its meter
— and no style, it continues in kind, within the motif's compass (its lowest to highest pitch). The motif is read in the composer's bars (from the bar of
its first note, positions on a grid of twelve per quarter), kept as the start of the sequence,
and the new bars are sampled after its last onset; what starts before its last note ends is left out.

Sample and rank: ``CANDIDATES`` continuations are drawn per variation asked (one batch: the model
is small, 20 continuations take a second or two), and the ones whose texture (notes sounding,
onsets per beat, pitch range, median note length: ``evaluate.texture``), then pitch classes, are
closest to the motif's are kept (``distance``). The controls tell the model what the motif is; the model follows them loosely (a
sampled piece drifts), and choosing among a few draws keeps what it gets right. While sampling,
a texture prior (``generate.with_voices``) keeps the number of notes sounding near the motif's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.midi.score import Note, Score
from engine.models.composer import keys
from engine.models.composer.controls import MAX_BARS, METERS, STYLES, Controls
from engine.models.composer.data import describe
from engine.models.composer.evaluate import texture
from engine.models.composer.generate import TEXTURE_GUIDANCE, compose
from engine.models.composer.score import from_score, place
from engine.models.composer.tokens import BarNote, bar_ticks
from engine.models.music_transformer.model import MusicTransformer

ANY_STYLE = next(iter(STYLES))  # a placeholder: the style is not given to the model (with_style=False)
CANDIDATES = 16  # drawn per continuation asked; the closest to the motif is kept (see assets/composer/README.md)
TEXTURE = ("polyphony", "onsets_per_beat", "pitch_range", "median_length")


def texture_distance(want: dict[str, float], got: dict[str, float]) -> tuple[int, float]:
    """How far a continuation's texture is from the motif's: the measures off by more than 25 %
    (what a listener notices first), then the sum of the relative differences."""
    off = [abs(got[m] - want[m]) / max(want[m], 1e-9) for m in TEXTURE]
    return sum(d > 0.25 for d in off), sum(off)


def pitch_classes(notes: list[Note]) -> np.ndarray:
    """The notes' duration-weighted share of each pitch class (``keys.pitch_classes``)."""
    return keys.pitch_classes([n.pitch for n in notes], [n.duration for n in notes])


def distance(want: dict[str, float], motif_classes: np.ndarray, notes: list[Note], ticks_per_beat: int) -> tuple:
    """A candidate's rank: none is worst; then its texture's distance (``texture_distance``),
    its pitch classes' distance from the motif's (1 - correlation) added to the sum, so that of
    two equally close textures the one in the motif's key wins."""
    if not notes:
        return (True, 0, 0.0)
    off, total = texture_distance(want, texture(notes, ticks_per_beat))
    r = np.corrcoef(motif_classes, pitch_classes(notes))[0, 1]
    return (False, off, total + (1.0 - (r if np.isfinite(r) else 0.0)))


def continue_motif(model: MusicTransformer, score: Score, prompt_notes: list[Note], bars: float = 4,
                   variations: int = 1, temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                   progress: Callable[[float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, candidates: int = CANDIDATES,
                   texture_guidance: float = TEXTURE_GUIDANCE) -> list[list[Note]]:
    """Continuations of ``prompt_notes`` (notes of ``score``): each a list of Notes from the end
    of the motif's last note, ``bars`` bars (rounded up) after the motif's last bar at most.
    ``texture_guidance``: the weight of the sampler's pull toward the motif's number of voices."""
    if not prompt_notes:
        raise ValueError("there is nothing to continue: select notes or use a track with notes")
    ts = score.time_signature
    meter = (ts.numerator, ts.denominator)
    if meter not in METERS:
        raise ValueError(f"the composer continues in {', '.join(f'{a}/{b}' for a, b in METERS)}, "
                         f"not {meter[0]}/{meter[1]}: change the time signature first")
    notes, prompt_bars = from_score(score, prompt_notes)
    new_bars = max(1, math.ceil(bars))
    if prompt_bars + new_bars > MAX_BARS:  # keep the motif's last bars
        drop = prompt_bars + new_bars - MAX_BARS
        notes = [BarNote(n.bar - drop, n.position, n.pitch, n.duration) for n in notes if n.bar >= drop]
        prompt_bars -= drop
    else:
        drop = 0
    facts = describe(notes, meter, prompt_bars)
    controls = Controls(ANY_STYLE, facts["key"], meter, min(max(score.bpm, 20.0), 400.0), prompt_bars + new_bars,
                        voices=facts["voices"], density=facts["density"], register=facts["register"])
    length = bar_ticks(meter)
    motif_end = max(n.bar * length + n.position + n.duration for n in notes)  # new notes start after it
    two_bars = 2 * bar_ticks(meter)  # no note longer, unless the motif has one
    longest = None if max(n.duration for n in notes) > two_bars else two_bars
    # the motif's compass, kept: a continuation that wanders an octave off is not one
    compass = (min(n.pitch for n in notes), max(n.pitch for n in notes))
    want = texture(prompt_notes, score.ticks_per_beat)
    pieces = compose(model, controls, variations, temperature, top_p, seed, prompt=notes, with_style=False,
                     longest=longest, pitches=compass, progress=progress, should_stop=should_stop,
                     candidates=candidates, polyphony=want["polyphony"],
                     texture_guidance=texture_guidance)
    first_bar = min(n.start for n in prompt_notes) // score.ticks_per_bar + drop
    origin = first_bar * score.ticks_per_bar
    drawn = [place([n for n in piece if n.bar * length + n.position >= motif_end], meter, controls.bars,
                   score.ticks_per_beat, origin) for piece in pieces]
    # each variation keeps the best of its own candidates: variations stay as different as their seeds
    groups = [drawn[i::variations] for i in range(variations)]
    classes = pitch_classes(prompt_notes)
    return [min(group, key=lambda notes: distance(want, classes, notes, score.ticks_per_beat)) for group in groups]
