"""The composer's sampler on a small random model: whatever the model says, the grammar makes
a piece of exactly the asked bars, every note inside its bar, a chord's pitches distinct; seeds
reproduce; Cancel stops; a piece longer than the context goes on from a new prompt."""

import pytest
from composer_helpers import random_composer_model

from engine.cancel import Cancelled
from engine.models.composer.controls import Key, style_defaults
from engine.models.composer.generate import compose
from engine.models.composer.tokens import TPQ, BarNote, bar_ticks, body_tokens, decode


@pytest.mark.parametrize("style,bars", [("jig", 4), ("chorale", 3), ("renaissance", 2)])
def test_every_piece_has_the_asked_bars_and_notes_inside_them(style, bars):
    controls = style_defaults(style, Key(2, "major"), bars)
    pieces = compose(random_composer_model(), controls, variations=3, seed=1)
    length = bar_ticks(controls.meter)
    assert len(pieces) == 3
    for notes in pieces:
        assert notes and max(n.bar for n in notes) < bars
        assert all(0 <= n.position < length and n.duration >= 1 for n in notes)
        onsets = [(n.bar, n.position, n.pitch) for n in notes]
        assert len(onsets) == len(set(onsets))


def test_tokens_round_trip():
    notes = sorted([BarNote(0, 0, 60, 12), BarNote(0, 0, 64, 12), BarNote(0, 6, 67, 6), BarNote(2, 3 * TPQ, 72, 24)])
    assert decode(body_tokens(notes, 3)) == notes


def test_seeds_reproduce_and_differ():
    model, controls = random_composer_model(), style_defaults("reel", bars=2)
    assert compose(model, controls, seed=5) == compose(model, controls, seed=5)
    assert compose(model, controls, seed=5) != compose(model, controls, seed=6)


def test_a_piece_longer_than_the_context_is_whole():
    controls = style_defaults("hornpipe", bars=12)
    notes = compose(random_composer_model(max_len=48), controls, seed=3)[0]
    assert max(n.bar for n in notes) >= 8  # bars after the first refills have notes


def test_cancel_stops_and_options_are_checked():
    with pytest.raises(Cancelled):
        compose(random_composer_model(), style_defaults("air"), should_stop=lambda: True)
    with pytest.raises(ValueError, match="variations"):
        compose(random_composer_model(), style_defaults("air"), variations=0)
    with pytest.raises(ValueError, match="temperature"):
        compose(random_composer_model(), style_defaults("air"), temperature=5)
