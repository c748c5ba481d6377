"""What a piece is asked to be: the controls the composer model is conditioned on, their
vocabularies and limits, and each style's usual values (what the prompt leaves unsaid).

Styles are the ones the training data labels (music21's corpus: Ryan's Mammoth and O'Neill's
1850 tune types, Aird's airs, the Essen folk songs, Bach's chorales, Palestrina); a style with no
training pieces (waltz, march, polka) is not offered as a style: the prompt reader maps it to
the nearest one and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# name -> (meter, quarter-note BPM, General MIDI program, voices, description). The meter is the
# one most of the style's training pieces have (reels: 2/2 458, 2/4 269, 4/4 36; hornpipes: 2/4 256,
# 2/2 249, 4/4 17 — 2/2, so that 8 bars are a whole strain): a style asked in a meter it was
# hardly trained in gets neither its rhythm nor its sound.
STYLES: dict[str, tuple[tuple[int, int], float, int, int, str]] = {
    "reel": ((2, 2), 200, 40, 1, "Irish and Scottish reels"),
    "jig": ((6, 8), 174, 40, 1, "double jigs"),
    "slip jig": ((9, 8), 174, 40, 1, "slip jigs"),
    "hornpipe": ((2, 2), 160, 40, 1, "hornpipes and clogs"),
    "strathspey": ((4, 4), 120, 40, 1, "strathspeys and highland flings"),
    "air": ((3, 4), 80, 73, 1, "slow airs (Aird's, O'Neill's)"),
    "folk song": ((4, 4), 100, 0, 1, "German folk songs (Essen)"),
    "chinese folk song": ((2, 4), 80, 73, 1, "Chinese folk songs (Essen)"),
    "chorale": ((4, 4), 80, 19, 4, "Bach's four-part chorales"),
    "renaissance": ((4, 2), 120, 52, 4, "Palestrina's polyphony"),
}
METERS: tuple[tuple[int, int], ...] = ((2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (2, 2), (3, 2), (4, 2),
                                       (3, 8), (6, 8), (9, 8), (12, 8))
TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
# Quarter-note BPM buckets: a tempo bucket is the first bound it does not exceed
TEMPO_BOUNDS = (70, 95, 125, 160, 200, float("inf"))
TEMPO_NAMES = ("very slow", "slow", "moderate", "lively", "fast", "very fast")
MIN_BARS, MAX_BARS = 1, 64
MAX_VOICES = 4
MIN_BPM, MAX_BPM = 20, 400
DENSITY_BOUNDS = (1.0, 2.0, 3.0, float("inf"))  # note onsets per quarter note
DENSITY_NAMES = ("sparse", "moderate", "busy", "very busy")
REGISTER_BOUNDS = (55, 67, 79, 128)  # the median MIDI pitch
REGISTER_NAMES = ("low", "middle", "high", "very high")


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" | "minor"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12 or self.mode not in MODES:
            raise ValueError(f"not a key: {self.tonic} {self.mode}")

    @property
    def index(self) -> int:
        return self.tonic + 12 * MODES.index(self.mode)

    def transposed(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)

    def __str__(self) -> str:
        return f"{TONICS[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class Controls:
    """Everything the model is conditioned on, plus what only the written file carries
    (``bpm`` exactly, ``program``). ``voices``, ``density`` and ``register`` may be None (not
    asked): the model then chooses them."""

    style: str
    key: Key
    meter: tuple[int, int]
    bpm: float
    bars: int
    program: int = 0
    voices: int | None = None
    density: int | None = None  # an index into DENSITY_NAMES
    register: int | None = None  # an index into REGISTER_NAMES

    def __post_init__(self) -> None:
        check_controls(self)

    def with_(self, **changes) -> Controls:
        return replace(self, **changes)

    @property
    def tempo_bucket(self) -> int:
        return bucket(self.bpm, TEMPO_BOUNDS)


def bucket(value: float, bounds: tuple[float, ...]) -> int:
    return next(i for i, bound in enumerate(bounds) if value <= bound)


def check_controls(c: Controls) -> None:
    """A clear error for each control out of its range (the prompt reader and the CLI show it)."""
    if c.style not in STYLES:
        raise ValueError(f"unknown style {c.style!r}; the styles are: {', '.join(STYLES)}")
    if tuple(c.meter) not in METERS:
        raise ValueError(f"the meter {c.meter[0]}/{c.meter[1]} is not one the model knows; it knows "
                         + ", ".join(f"{a}/{b}" for a, b in METERS))
    if isinstance(c.bars, bool) or not isinstance(c.bars, int) or not MIN_BARS <= c.bars <= MAX_BARS:
        raise ValueError(f"a piece has {MIN_BARS} to {MAX_BARS} bars, not {c.bars!r}")
    if not MIN_BPM <= c.bpm <= MAX_BPM:
        raise ValueError(f"the tempo is {MIN_BPM} to {MAX_BPM} BPM, not {c.bpm:g}")
    if not 0 <= c.program <= 127:
        raise ValueError(f"a General MIDI program is 0 to 127, not {c.program}")
    if c.voices is not None and not 1 <= c.voices <= MAX_VOICES:
        raise ValueError(f"voices are 1 to {MAX_VOICES}, not {c.voices}")
    if c.density is not None and not 0 <= c.density < len(DENSITY_NAMES):
        raise ValueError(f"density is an index 0 to {len(DENSITY_NAMES) - 1}, not {c.density}")
    if c.register is not None and not 0 <= c.register < len(REGISTER_NAMES):
        raise ValueError(f"register is an index 0 to {len(REGISTER_NAMES) - 1}, not {c.register}")


def style_defaults(style: str, key: Key | None = None, bars: int = 16) -> Controls:
    """The style's usual meter, tempo, instrument and texture (C major / A minor when no key)."""
    meter, bpm, program, voices, _ = STYLES[style]
    return Controls(style, key or Key(0, "major"), meter, float(bpm), bars, program, voices)
