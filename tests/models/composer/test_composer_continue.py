"""Continue with the composer (a small random model): new notes only after the motif's last
onset, inside the asked bars, never longer than two bars when the motif has no such note,
never two of one pitch at once; a meter it does not know and an empty motif are clear errors."""

import json

import pytest
from composer_helpers import random_composer, random_composer_model

from engine.midi.score import Note, Score, TimeSignature, Track
from engine.models.composer.continuation import continue_motif
from engine.models.composer.evaluate import same_pitch_overlaps


def motif_score(numerator: int = 4, denominator: int = 4) -> Score:
    # a walking line in bar 2 and 3 (ticks 1920..), eighth notes
    notes = [Note(1920 + i * 240, 60 + (i % 5), 240) for i in range(14)]
    return Score(tracks=[Track(notes=notes)], time_signatures=[TimeSignature(0, numerator, denominator)])


def test_continuations_follow_the_motif_inside_the_bars():
    score = motif_score()
    prompt = score.tracks[0].notes
    last = max(n.start for n in prompt)
    end = 1920 + (2 + 3) * 1920  # the motif's two bars, then three more
    for notes in continue_motif(random_composer_model(), score, prompt, bars=3, variations=3, seed=2):
        assert notes and all(last < n.start and n.end <= end for n in notes)
        assert all(n.duration <= 2 * 1920 for n in notes)
        assert same_pitch_overlaps(notes) == 0


def test_bad_motifs_are_clear_errors():
    with pytest.raises(ValueError, match="nothing to continue"):
        continue_motif(random_composer_model(), motif_score(), [], bars=2)
    score = motif_score(7, 8)
    with pytest.raises(ValueError, match="7/8"):
        continue_motif(random_composer_model(), score, score.tracks[0].notes, bars=2)


def test_the_job_picks_the_model_by_its_vocabulary(tmp_path):
    from engine.tasks.music import continuation_model

    random_composer(tmp_path / "composer")
    assert continuation_model(tmp_path / "composer") == ("remi-controls", tmp_path / "composer")
    (tmp_path / "mt").mkdir()
    (tmp_path / "mt" / "config.json").write_text(json.dumps({"d_model": 8}))
    assert continuation_model(tmp_path / "mt")[0] == "performance-events"


def test_of_two_equal_textures_the_one_in_the_motifs_key_ranks_first():
    from engine.models.composer.continuation import distance, pitch_classes
    from engine.models.composer.evaluate import texture

    c_major = [Note(i * 480, p, 480) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    same_key = [Note(n.start, n.pitch, n.duration) for n in reversed(c_major)]
    far_key = [Note(n.start, n.pitch + 6, n.duration) for n in c_major]
    want, classes = texture(c_major, 480), pitch_classes(c_major)
    assert texture(same_key, 480) == texture(far_key, 480) == want
    assert distance(want, classes, same_key, 480) < distance(want, classes, far_key, 480)
    assert distance(want, classes, [], 480) > distance(want, classes, far_key, 480)  # nothing is worst
