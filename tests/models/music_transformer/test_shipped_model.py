"""The shipped Music Transformer on held-out chorale openings: it keeps the prompt's key better
than a unigram baseline, and what it writes is valid, playable MIDI."""

import json

import numpy as np
import pytest

music21 = pytest.importorskip("music21")

from engine.midi.midifile import read_midi, write_midi  # noqa: E402
from engine.midi.score import Note, Score, Track  # noqa: E402
from engine.midi.synth import get_synthesizer  # noqa: E402
from engine.models.music_transformer.data import corpus_paths, piece_notes, split_of  # noqa: E402
from engine.models.music_transformer.generate import ASSET_DIR, continue_notes, load_model  # noqa: E402


def profile(notes) -> np.ndarray:
    """Pitch-class histogram weighted by duration."""
    h = np.zeros(12)
    for n in notes:
        h[n.pitch % 12] += n.duration
    return h / max(h.sum(), 1e-9)


def to_score(timed, seconds: float, bpm: float = 100.0) -> tuple[Score, list[Note]]:
    tpb = 480
    ticks = lambda s: round(s * bpm / 60 * tpb)  # noqa: E731
    notes = [Note(ticks(n.start), n.pitch, max(1, ticks(n.end) - ticks(n.start)), n.velocity)
             for n in timed if n.start < seconds]
    score = Score(ticks_per_beat=tpb, tracks=[Track(notes=notes)])
    score.tempos[0] = type(score.tempos[0])(0, round(60_000_000 / bpm))
    return score, notes


@pytest.fixture(scope="module")
def openings():
    held_out = [p for p in corpus_paths() if split_of("/".join(p.parts[-2:])) == "test"][:16]
    return [piece_notes(p) for p in held_out]


def test_the_shipped_model_is_described_beside_it():
    config = json.loads((ASSET_DIR / "config.json").read_text())
    assert config["position"] == "relative"
    assert (ASSET_DIR / "model.safetensors").stat().st_size < 25 * 2**20
    card = (ASSET_DIR / "README.md").read_text()
    assert "validation NLL" in card and "test NLL" in card and "absolute" in card


# 16 openings x 2 variations x 4 bars sampled on the CPU: about 150 CPU-seconds on a 2-core machine,
# 400 s of wall time when it is shared. The suite's 300 s default is no bound for that (DESIGN.md
# §9); this one is set from the work, generously, for a slow and busy machine.
@pytest.mark.timeout(1800)
def test_continuations_keep_the_key_better_than_unigram_sampling(openings, tmp_path):
    model = load_model()
    rng = np.random.default_rng(0)
    # the unigram baseline: pitches drawn from how often each appears in the other openings
    all_pitches = np.array([n.pitch for piece in openings for n in piece])
    ours, baseline = [], []
    for k, piece in enumerate(openings):
        score, prompt = to_score(piece, seconds=8.0)
        key = profile(prompt)
        for notes in continue_notes(model, score, prompt, bars=4, variations=2, temperature=1.0, top_p=0.95, seed=k):
            assert len(notes) >= 8
            ours.append(np.corrcoef(key, profile(notes))[0, 1])
            drawn = [Note(n.start, int(rng.choice(all_pitches)), n.duration, n.velocity) for n in notes]
            baseline.append(np.corrcoef(key, profile(drawn))[0, 1])
        # valid, playable MIDI
        score.tracks[0].notes = sorted(prompt + notes)
        path = write_midi(score, tmp_path / f"c{k}.mid")
        back = read_midi(path)
        assert back.note_count() == len(prompt) + len(notes)
        audio = get_synthesizer().render(back, tail=0.2)
        assert np.sqrt(np.mean(audio ** 2)) > 0.005
    print(f"pitch-class correlation with the prompt: model {np.mean(ours):.3f}, unigram {np.mean(baseline):.3f}")
    assert np.mean(ours) > np.mean(baseline) + 0.2
