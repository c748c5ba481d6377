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


def test_the_key_prior_moves_probability_among_pitches_only():
    """How likely a pitch comes next at all stays the model's; among the pitches the key decides."""
    import torch

    from engine.models.composer.generate import PITCHES, key_bias, with_key
    from engine.models.composer.tokens import LOW_PITCH, PITCH0, VOCAB_SIZE

    torch.manual_seed(0)
    logits = torch.randn(3, VOCAB_SIZE)
    masks = torch.ones(3, VOCAB_SIZE, dtype=torch.bool)
    masks[1, PITCHES] = False  # a row where the grammar allows no pitch
    masks[2, 0] = False
    bias = key_bias(Key(0, "major"), 2.0)
    before, after = logits.masked_fill(~masks, float("-inf")).softmax(-1), with_key(logits, bias, masks).softmax(-1)
    assert torch.allclose(after[:, PITCHES].sum(-1), before[:, PITCHES].sum(-1), atol=1e-6)
    assert torch.equal(after[1], before[1]) and after[2, 0] == 0
    c, c_sharp = PITCH0 + 60 - LOW_PITCH, PITCH0 + 61 - LOW_PITCH  # C is in C major, C sharp is not
    assert after[0, c] / after[0, c_sharp] > before[0, c] / before[0, c_sharp] * 5


def test_pieces_are_composed_in_c_and_moved_to_the_asked_key():
    """The model learnt its pieces in C (batches.py); a strong key prior keeps a random model on
    C's scale, so every pitch of the returned piece is on the asked key's."""
    scale = {0, 2, 4, 5, 7, 9, 11}
    for key in (Key(2, "major"), Key(7, "major"), Key(10, "major")):
        pieces = compose(random_composer_model(), style_defaults("reel", key, bars=2), variations=2, seed=4,
                         key_guidance=40.0)
        assert all((n.pitch - key.tonic) % 12 in scale for notes in pieces for n in notes)


def test_a_prompt_is_kept_as_it_was_whatever_its_key():
    prompt = [BarNote(0, 0, 62, 12), BarNote(0, 12, 66, 12), BarNote(0, 24, 69, 12), BarNote(0, 36, 74, 12)]
    controls = style_defaults("reel", Key(2, "major"), bars=3)
    for notes in compose(random_composer_model(), controls, variations=2, seed=2, prompt=prompt):
        assert [n for n in notes if n.bar == 0][:4] == prompt


def test_the_texture_prior_adds_voices_below_the_motifs_and_removes_them_above():
    import torch

    from engine.models.composer.generate import PITCHES, _Row, with_voices
    from engine.models.composer.tokens import BAR0, DUR0, DURATIONS, PITCH0, POS0, VOCAB_SIZE

    row = _Row(bars=2, bar_length=48)
    quarter, half = DUR0 + DURATIONS.index(12), DUR0 + DURATIONS.index(24)
    for token in (BAR0 + 1, POS0, PITCH0 + 10, half, PITCH0 + 20, quarter, POS0 + 12):
        row.advance(token)
    assert row.sounding == 1  # the quarter note ended where the half note goes on
    logits = torch.zeros(3, VOCAB_SIZE)
    out = with_voices(logits, [1, 4, 6], polyphony=4.0, weight=2.0)
    assert out[:, PITCHES].tolist() == [[2.0] * 88, [0.0] * 88, [-2.0] * 88]
    assert not out[:, :PITCHES.start].any() and not out[:, PITCHES.stop:].any()


def test_the_texture_prior_steers_the_sampler_between_single_notes_and_chords():
    import collections

    def notes_per_onset(polyphony):
        pieces = compose(random_composer_model(), style_defaults("chorale", bars=2), variations=4, seed=3,
                         polyphony=polyphony, texture_guidance=20.0)
        onsets = collections.Counter((n.bar, n.position) for notes in pieces for n in notes)
        return sum(onsets.values()) / len(onsets)

    assert notes_per_onset(1.0) < 1.7 and notes_per_onset(8.0) > 2.5  # one note sounding: the model chooses
