"""The Music Transformer's attention against naive O(L²·D) computations, incremental decoding
against full passes, and the performance-event vocabulary."""

import math

import pytest
import torch

from engine.models.music_transformer import events as ev
from engine.models.music_transformer.model import MusicTransformer, MusicTransformerConfig, skew


def naive_relative_logits(q, rel_table, max_len):
    """S_rel[i, j] = q_i · E[distance i-j], built entry by entry (the paper's O(L²·D) way)."""
    b, h, length, d = q.shape
    out = torch.zeros(b, h, length, length, dtype=q.dtype)
    for i in range(length):
        for j in range(i + 1):
            e = rel_table[max_len - 1 - (i - j)]
            out[:, :, i, j] = (q[:, :, i] * e).sum(-1)
    return out


def test_skewing_equals_the_naive_relative_logits():
    torch.manual_seed(0)
    max_len, length = 64, 37
    q = torch.randn(2, 3, length, 16, dtype=torch.float64)
    table = torch.randn(max_len, 16, dtype=torch.float64)
    rel = q @ table[max_len - length:].T
    mask = torch.ones(length, length, dtype=torch.bool).tril()
    got = skew(rel).masked_fill(~mask, 0)
    want = naive_relative_logits(q, table, max_len)
    assert torch.allclose(got, want, atol=1e-5)


def naive_attention(layer, x, window=None):
    """Attention output computed query by query, with explicit relative terms."""
    b, t, d = x.shape
    h, dh = layer.n_heads, layer.d_head
    q, k, v = (y.view(b, t, h, dh).transpose(1, 2) for y in layer.qkv(x).chunk(3, dim=-1))
    out = torch.zeros(b, h, t, dh, dtype=x.dtype)
    for i in range(t):
        first = 0 if window is None else (i // window - 1) * window
        keys = list(range(max(0, first), i + 1))
        scores = []
        for j in keys:
            s = (q[:, :, i] * k[:, :, j]).sum(-1)
            if layer.relative:
                s = s + (q[:, :, i] * layer.rel[layer.max_len - 1 - (i - j)]).sum(-1)
            scores.append(s / math.sqrt(dh))
        w = torch.stack(scores, -1).softmax(-1)
        out[:, :, i] = (w[..., None] * v[:, :, keys]).sum(-2)
    return layer.out(out.transpose(1, 2).reshape(b, t, d))


@pytest.mark.parametrize("local_block", [None, 8])
def test_attention_equals_its_naive_counterpart(local_block):
    torch.manual_seed(1)
    cfg = MusicTransformerConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, max_len=64, dropout=0.0,
                                 local_block=local_block)
    layer = MusicTransformer(cfg).double().blocks[0].attn
    x = torch.randn(2, 29, 32, dtype=torch.float64)
    with torch.no_grad():
        got = layer(x)
        want = naive_attention(layer, x, window=local_block)
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_incremental_decoding_equals_full_passes(position):
    torch.manual_seed(2)
    cfg = MusicTransformerConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=64, dropout=0.0,
                                 position=position)
    model = MusicTransformer(cfg).double().eval()
    tokens = torch.randint(0, ev.VOCAB_SIZE - 3, (2, 40))
    with torch.no_grad():
        full = model(tokens)
        cache = model.new_cache(batch=2)
        steps = [model(tokens[:, :10], cache)]  # a prompt, then a few tokens at once, then one by one
        steps.append(model(tokens[:, 10:13], cache))
        steps += [model(tokens[:, i:i + 1], cache) for i in range(13, 40)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-9)


def test_a_sequence_longer_than_the_model_is_refused():
    model = MusicTransformer(MusicTransformerConfig(d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8))
    with pytest.raises(ValueError, match="longer"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_events_round_trip_up_to_the_grid_and_velocity_bins():
    notes = [ev.TimedNote(0.0, 0.5, 60, 100), ev.TimedNote(0.0, 1.25, 64, 80), ev.TimedNote(0.503, 3.7, 67, 20),
             ev.TimedNote(3.7, 3.72, 60, 127)]
    tokens = ev.notes_to_events(notes)
    assert all(0 <= t < ev.PAD for t in tokens)
    back = ev.events_to_notes(tokens)
    assert len(back) == len(notes)
    for a, b in zip(sorted(notes, key=lambda n: (n.start, n.pitch)), back):
        assert a.pitch == b.pitch
        assert abs(a.start - b.start) <= 0.005 + 1e-9 and abs(a.end - b.end) <= 0.005 + 1e-9
        assert ev.velocity_bin(a.velocity) == ev.velocity_bin(b.velocity)
    # a long gap is several time shifts of at most a second
    assert [ev.describe(t) for t in tokens].count("SHIFT1000ms") == 2


def test_events_to_notes_survives_nonsense():
    tokens = [ev.NOTE_OFF + 60, ev.BOS, ev.NOTE_ON + 61, ev.TIME_SHIFT + 9, ev.PAD, ev.EOS]
    notes = ev.events_to_notes(tokens)
    assert [(n.pitch, round(n.end - n.start, 2)) for n in notes] == [(61, 0.1)]


def tiny_model(tmp_path=None, seed=3):
    torch.manual_seed(seed)
    cfg = MusicTransformerConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=256, dropout=0.0)
    return MusicTransformer(cfg).eval()


def test_generation_with_and_without_the_cache_samples_the_same_tokens():
    from engine.models.music_transformer.generate import generate

    model = tiny_model()
    prompt = [ev.BOS, ev.VELOCITY + 20, ev.NOTE_ON + 60, ev.TIME_SHIFT + 49, ev.NOTE_OFF + 60]
    a = generate(model, prompt, seconds=2.0, variations=2, temperature=1.0, top_p=0.9, seed=7, use_cache=True)
    b = generate(model, prompt, seconds=2.0, variations=2, temperature=1.0, top_p=0.9, seed=7, use_cache=False)
    assert a == b and len(a) == 2 and all(len(x) > 0 for x in a)
    assert all(ev.PAD not in x and ev.BOS not in x for x in a)


def test_continue_places_valid_notes_after_the_prompt_within_the_bars(tmp_path):
    from engine.midi.midifile import read_midi, write_midi
    from engine.midi.score import Note, Score, Track
    from engine.models.music_transformer.generate import continue_notes, load_model
    from engine.models.music_transformer.train import save_weights

    save_weights(tiny_model(), tmp_path / "m")
    model = load_model(tmp_path / "m")
    prompt = [Note(i * 240, p, 240, 90) for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62])]
    score = Score(tracks=[Track(notes=list(prompt))])
    variations = continue_notes(model, score, prompt, bars=2, variations=3, seed=1)
    assert len(variations) == 3
    end = max(n.end for n in prompt)
    for notes in variations:
        for n in notes:
            assert end - 1 <= n.start < end + 2 * score.ticks_per_bar and n.end <= end + 2 * score.ticks_per_bar
        score.tracks[0].notes = sorted(prompt + notes)
        write_midi(score, tmp_path / "c.mid")  # valid, playable MIDI
        assert read_midi(tmp_path / "c.mid").note_count() == len(prompt) + len(notes)


def test_a_broken_model_folder_is_a_clear_error(tmp_path):
    from engine.models.common.errors import CheckpointError
    from engine.models.music_transformer.generate import load_model
    from engine.models.music_transformer.train import save_weights

    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path)
    save_weights(tiny_model(), tmp_path / "m")
    data = (tmp_path / "m" / "model.safetensors").read_bytes()
    (tmp_path / "m" / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_model(tmp_path / "m")
    save_weights(tiny_model(), tmp_path / "m")
    cfg = (tmp_path / "m" / "config.json").read_text().replace('"d_ff": 64', '"d_ff": 128')
    (tmp_path / "m" / "config.json").write_text(cfg)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(tmp_path / "m")
