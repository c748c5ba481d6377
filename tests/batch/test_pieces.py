"""Long files cut at silences, and the pieces' transcripts stitched back."""

import numpy as np
import pytest
import soundfile as sf

from engine.batch.pieces import cut_points, plan_pieces, stitch
from engine.transcript import Segment, TranscriptionResult, Word


def _levels(seconds: float, quiet_at: list[float]) -> np.ndarray:
    """-20 dB everywhere but for 0.5 s of -80 dB around each time in ``quiet_at``."""
    levels = np.full(int(seconds / 0.02), -20.0)
    for t in quiet_at:
        levels[int((t - 0.25) / 0.02): int((t + 0.25) / 0.02)] = -80.0
    return levels


def test_cuts_fall_in_the_pauses_and_no_piece_is_too_long():
    # each cut is looked for in the last quarter of the 30 s after the one before: 41 is too early
    cuts = cut_points(_levels(100, [25.0, 41.0, 50.0, 75.0]), 100.0, piece_seconds=30)
    assert [round(c) for c in cuts] == [25, 50, 75]
    edges = [0.0, *cuts, 100.0]
    assert all(0 < b - a <= 30 for a, b in zip(edges, edges[1:]))


def test_without_pauses_a_cut_still_comes_before_the_limit():
    cuts = cut_points(np.full(5000, -20.0), 100.0, piece_seconds=30)
    edges = [0.0, *cuts, 100.0]
    assert len(cuts) == 3 and all(0 < b - a <= 30 for a, b in zip(edges, edges[1:]))
    with pytest.raises(ValueError, match="longer than 0"):
        cut_points(np.zeros(10), 1.0, piece_seconds=0)


def test_plan_reads_the_file_and_cuts_in_its_silences(tmp_path):
    rate = 22050
    t = np.arange(rate * 70) / rate
    audio = 0.3 * np.sin(2 * np.pi * 220 * t)
    for gap in (27.0, 51.0):  # two pauses
        audio[int((gap - 0.4) * rate): int((gap + 0.4) * rate)] = 0.0
    path = tmp_path / "long.wav"
    sf.write(path, np.stack([audio, audio], axis=1), rate)  # stereo, another rate: read as mono levels
    pieces = plan_pieces(path, 70.0, piece_seconds=30)
    assert len(pieces) == 3 and pieces[-1][1] is None
    assert abs(pieces[1][0] - 27.0) < 0.3 and abs(pieces[2][0] - 51.0) < 0.3
    assert plan_pieces(path, 70.0, piece_seconds=100) == [(0.0, None)]


def _segment(i, start, end, text):
    return Segment(i, 0, start, end, text, [1], -0.1, 1.2, 0.01, 0.0, [Word(start, end, text, 0.9)])


def test_stitch_moves_times_and_numbers_segments_in_order():
    first = TranscriptionResult("en", 0.9, 30.0, [_segment(0, 0.0, 2.0, " one"), _segment(1, 3.0, 5.0, " two")],
                                compute_seconds=1.0, model_name="tiny.en")
    empty = TranscriptionResult("en", 0.5, 20.0, [], compute_seconds=0.5, model_name="tiny.en")
    last = TranscriptionResult("en", 0.8, 20.0, [_segment(0, 1.0, 2.5, " three")], compute_seconds=0.7,
                               model_name="tiny.en")
    whole = stitch([(0.0, first), (30.0, empty), (50.0, last)], 70.0)
    assert [(s.id, s.start, s.end, s.text) for s in whole.segments] == [
        (0, 0.0, 2.0, " one"), (1, 3.0, 5.0, " two"), (2, 51.0, 52.5, " three")]
    assert whole.segments[2].words[0].start == 51.0 and whole.segments[2].seek == 5000
    assert whole.duration == 70.0 and whole.compute_seconds == pytest.approx(2.2) and whole.text == "one two three"
    assert first.segments[0].id == 0 and last.segments[0].start == 1.0  # the pieces are left as they were
