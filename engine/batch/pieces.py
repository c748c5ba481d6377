"""Long files cut at silences into pieces that several workers share, and the pieces' transcripts
stitched back with the times of the whole file.

A cut goes at the quietest 0.3 s in the last quarter of each ``piece_seconds`` stretch, so a piece
is never longer than ``piece_seconds`` and a word is rarely cut (speech has a pause every few
seconds). The plan depends only on the file and ``piece_seconds``: in-process and on a cluster the
same pieces are transcribed, so the outputs are the same.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.transcript import Segment, TranscriptionResult, Word

PIECE_SECONDS = 180.0  # six Whisper windows: short enough to share a 10-minute file among workers
FRAME_SECONDS = 0.02
QUIET_FRAMES = 15  # 0.3 s: the stretch whose loudness decides a cut
SEARCH_FRACTION = 0.25


def file_loudness_db(path: Path) -> np.ndarray:
    """The level of every 20 ms of the file (mono), read in 10 s blocks: a long file's samples
    never sit in memory whole."""
    import os

    import soundfile as sf

    from engine.audio.dsp import frame_loudness_db  # here: dsp imports torch, and `motet --version` must not

    with sf.SoundFile(os.fsencode(path)) as f:
        frame = max(1, round(f.samplerate * FRAME_SECONDS))
        levels = [frame_loudness_db(block.mean(axis=1), frame)
                  for block in f.blocks(blocksize=frame * 500, dtype="float32", always_2d=True) if len(block) >= frame]
    return np.concatenate(levels) if levels else np.zeros(0)


def cut_points(loudness_db: np.ndarray, duration: float, piece_seconds: float = PIECE_SECONDS) -> list[float]:
    """Where to cut (seconds), from the levels of every 20 ms."""
    if piece_seconds <= 0:
        raise ValueError(f"a piece must be longer than 0 s, not {piece_seconds:g}")
    power = 10.0 ** (loudness_db / 10.0)
    half = QUIET_FRAMES // 2  # edges padded with their own level: the file's end is not quieter than it is
    quiet = np.convolve(np.pad(power, (half, QUIET_FRAMES - 1 - half), mode="edge"), np.ones(QUIET_FRAMES) / QUIET_FRAMES,
                        mode="valid") if len(power) else power
    cuts: list[float] = []
    start = 0.0
    while duration - start > piece_seconds:
        first = int((start + piece_seconds * (1 - SEARCH_FRACTION)) / FRAME_SECONDS)
        last = min(int((start + piece_seconds) / FRAME_SECONDS), len(quiet))
        if last <= first:  # the levels end early (a header longer than the audio): cut at the stretch's end
            cut = start + piece_seconds
        else:
            stretch = quiet[first:last][::-1]  # the latest of equally quiet places: pieces as long as allowed
            cut = (last - 1 - int(np.argmin(stretch)) + 0.5) * FRAME_SECONDS
        cuts.append(round(cut, 3))
        start = cuts[-1]
    return cuts


def plan_pieces(path: Path, duration: float, piece_seconds: float = PIECE_SECONDS) -> list[tuple[float, float | None]]:
    """(start, end) of each piece in seconds; the last ends at the file's end (None)."""
    if duration <= piece_seconds:
        return [(0.0, None)]
    cuts = cut_points(file_loudness_db(path), duration, piece_seconds)
    starts = [0.0, *cuts]
    return list(zip(starts, [*cuts, None]))


def stitch(parts: list[tuple[float, TranscriptionResult]], duration: float) -> TranscriptionResult:
    """One transcript from the pieces' (start, transcript): times moved by each piece's start,
    segments numbered in order, the language that of the first piece that has speech."""
    segments: list[Segment] = []
    for start, part in parts:
        for s in part.segments:
            words = [Word(w.start + start, w.end + start, w.word, w.probability) for w in s.words] \
                if s.words is not None else None
            segments.append(replace(s, id=len(segments), seek=s.seek + round(start * 100), start=s.start + start,
                                    end=s.end + start, words=words))
    speaking = next((part for _, part in parts if part.segments), parts[0][1])
    return TranscriptionResult(language=speaking.language, language_probability=speaking.language_probability,
                               duration=duration, segments=segments,
                               compute_seconds=sum(part.compute_seconds for _, part in parts),
                               model_name=parts[0][1].model_name, options=parts[0][1].options)
