"""The composer's data: abc labels, a music21 score into bars (pickup placed at the end of its
bar), the facts read from notes, training windows and their counted tokens, the key finder,
and a piece written as a Score."""

import json

import pytest
import torch

from engine.midi.score import Note, Score, TimeSignature, Track
from engine.models.composer.batches import ComposerData
from engine.models.composer.controls import Key, style_defaults
from engine.models.composer.data import abc_fields, describe, piece_of, split_of, tune_style
from engine.models.composer.keys import estimate_key
from engine.models.composer.score import from_score, to_score
from engine.models.composer.tokens import BAR0, BOS, EOS, KEY0, PAD, SEP, TPQ, BarNote, decode, kind

ABC = """X: 7
T: The Test Jig
R: double jig
M: 6/8
L: 1/8
K: D
A | dfa afd | e2f gfe | dfa afd | e3 d2 :|
"""


def test_abc_labels():
    assert abc_fields(ABC) == {7: ("double jig", "The Test Jig")}
    assert tune_style("double jig", "", None) == "jig"
    assert tune_style("", "ACROBAT'S -- HORNPIPE", None) == "hornpipe"
    assert tune_style("slip jig", "", None) == "slip jig"
    assert tune_style("", "Lament for Owen", "air") == "air"
    assert split_of("bach/bwv1.6.mxl") in ("train", "valid", "test")


def test_a_tune_in_bars_with_its_pickup_at_the_end_of_the_first_bar():
    music21 = pytest.importorskip("music21")
    piece = piece_of(music21.converter.parse(ABC, format="abc"), "test#7", "jig")
    assert piece["meter"] == [6, 8] and piece["bars"] == 5
    first = piece["notes"][0]  # the pickup A (an eighth) sits at the last eighth of bar 0
    assert first[:3] == (0, 5 * TPQ // 2, 69)
    assert piece["notes"][1][:3] == (1, 0, 74)  # d on the downbeat of bar 1
    facts = describe([BarNote(*n) for n in piece["notes"]], (6, 8), piece["bars"])
    assert facts["key"] == Key(2, "major") and facts["voices"] == 1


def test_key_finder():
    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
    assert estimate_key(c_major, [1] * len(c_major)) == Key(0, "major")
    a_minor = [57, 60, 64, 69, 68, 69, 71, 72, 64, 57, 64, 69]
    assert estimate_key(a_minor, [2, 1, 1, 3, 1, 1, 1, 1, 1, 3, 1, 4]) == Key(9, "minor")


def test_windows_start_with_controls_and_count_only_the_body(tmp_path):
    piece = {"name": "x", "style": "reel", "meter": [4, 4], "bpm": 200.0, "bars": 3, "voices": 1, "density": 2,
             "register": 2, "key": [2, "major"], "split": "valid",
             "notes": [[0, 0, 62, 6], [0, 6, 66, 6], [1, 0, 69, 12], [2, 0, 74, 48]]}
    (tmp_path / "pieces.json").write_text(json.dumps([piece]))
    [window] = ComposerData(tmp_path).windows("valid", 64)
    tokens = [t for t in window.tolist() if t != PAD]
    sep = tokens.index(SEP)
    assert tokens[0] == BOS and 5 <= sep <= 9 and tokens[sep + 1] == BAR0 + 2 and tokens[-1] == EOS
    assert KEY0 + Key(0, "major").index in tokens[:sep]  # the piece in D major is learnt in C major
    assert [n.pitch for n in decode(tokens[sep + 1:])] == [60, 64, 67, 72]
    counted = ComposerData.counted(torch.tensor(tokens[1:]))
    assert not counted[:sep].any() and counted[sep:].all()
    [bare] = ComposerData(tmp_path, conditioned=False).windows("valid", 64)
    assert bare.tolist()[:2] == [BOS, SEP] and [t for t in bare.tolist()[2:] if t != PAD] == tokens[sep + 1:]
    short = ComposerData(tmp_path).windows("valid", 16)
    assert len(short) > 1 and [w.tolist() for w in ComposerData(tmp_path).windows("valid", 16, openings=True)] == [
        short[0].tolist()]
    with pytest.raises(ValueError, match="no training pieces"):
        ComposerData(tmp_path).batches(32, seed=0)
    (tmp_path / "pieces.json").write_text(json.dumps([{**piece, "split": "train"}]))
    rows = ComposerData(tmp_path).batches(32, seed=0).sample(8)
    assert rows.shape == (8, 33) and (rows[:, 0] == BOS).all() and all(SEP in row for row in rows.tolist())
    assert (rows == ComposerData(tmp_path).batches(32, seed=0).sample(8)).all()


def test_a_piece_as_a_score_has_its_meter_tempo_instrument_and_no_overlaps():
    controls = style_defaults("jig", Key(2, "major"), bars=2).with_(program=73, bpm=150.0)
    notes = [BarNote(0, 0, 62, 18), BarNote(0, 6, 62, 6), BarNote(1, 30, 74, 96)]
    score = to_score(notes, controls)
    track = score.tracks[0]
    assert track.program == 73 and round(score.bpm) == 150
    assert (score.time_signature.numerator, score.time_signature.denominator) == (6, 8)
    d1, d2, last = track.notes
    assert d1.end <= d2.start  # the same pitch again: the first stops there
    assert last.end == 2 * score.ticks_per_bar  # nothing hangs past the last bar line
    back, bars = from_score(score, track.notes)
    assert bars == 2 and [n.position for n in back] == [0, 6, 30]


def test_continue_prompt_from_a_score_counts_from_the_first_bar():
    score = Score(tracks=[Track(notes=[Note(1920 + 240, 60, 240), Note(3840, 64, 480)])],
                  time_signatures=[TimeSignature(0, 4, 4)])
    notes, bars = from_score(score, score.tracks[0].notes)
    assert bars == 2 and notes[0] == BarNote(0, 6, 60, 6) and notes[1].bar == 1
    assert kind(BAR0) == "BAR"
