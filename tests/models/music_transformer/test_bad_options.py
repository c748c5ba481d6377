"""`motet continue` and `motet train` with bad options, bad files and unwritable outputs: one line
naming the problem and exit status 2, never a traceback; and the limits are the GUI's."""

import mido
import pytest
import torch

from engine.cli import run
from engine.models.music_transformer import generate as gen
from engine.models.music_transformer.generate import ASSET_DIR, continue_notes, generate, load_model
from engine.models.music_transformer.model import MusicTransformer, MusicTransformerConfig


def motif(path, tempo=500000):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=tempo),
        mido.Message("note_on", note=60, velocity=90, time=0), mido.Message("note_off", note=60, time=480),
        mido.Message("note_on", note=64, velocity=90, time=0), mido.Message("note_off", note=64, time=480)]))
    mid.save(path)
    return str(path)


def one_line_error(capsys, argv, option=None, status=2):
    """Run the CLI; it must exit with ``status`` and one line on stderr (naming ``option`` if given)."""
    try:
        rc = run(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == status, err
    assert err and "\n" not in err and "Traceback" not in err and "unexpected error" not in err, err
    if option:
        assert option in err, err
    return err


@pytest.mark.parametrize("option, value", [
    ("--variations", "0"), ("--variations", "9"), ("--variations", "1000"), ("--variations", "two"),
    ("--temperature", "nan"), ("--temperature", "0"), ("--temperature", "inf"), ("--temperature", "5"),
    ("--top-p", "0"), ("--top-p", "1.5"), ("--top-p", "nan"),
    ("--bars", "inf"), ("--bars", "0"), ("--bars", "-2"), ("--bars", "33"), ("--bars", "nan"),
    ("--track", "-1"), ("--seed", "-1"), ("--seed", str(2**70)),
])
def test_continue_options_are_checked_by_the_parser(tmp_path, capsys, option, value):
    one_line_error(capsys, ["continue", motif(tmp_path / "m.mid"), option, value, "--out", str(tmp_path)], option)


def test_continue_track_out_of_range(tmp_path, capsys):
    err = one_line_error(capsys, ["continue", motif(tmp_path / "m.mid"), "--track", "99", "--out", str(tmp_path)],
                         "--track 99")
    assert "1 track" in err


def test_continue_a_file_with_tempo_zero(tmp_path, capsys):
    err = one_line_error(capsys, ["continue", motif(tmp_path / "still.mid", tempo=0), "--out", str(tmp_path)])
    assert "'still.mid'" in err and "tempo" in err


def test_continue_to_an_unusable_out_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gen, "continue_notes", lambda *a, **k: pytest.fail("generated before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = one_line_error(capsys, ["continue", motif(tmp_path / "m.mid"), "--out", str(blocker / "sub")], "--out")
    assert "a-file" in err


def test_continue_when_the_write_fails(tmp_path, capsys, monkeypatch):
    """A write that fails after generating (a full disk) is one line naming the file."""
    from engine.atomic import WriteError
    from engine.midi import midifile

    def full_disk(score, path, midi_type=1, replace=True):
        raise WriteError(28, f"could not save '{path.name}': the disk is full")

    monkeypatch.setattr(midifile, "write_midi", full_disk)
    monkeypatch.setattr(gen, "continue_notes", lambda *a, **k: [[]])
    err = one_line_error(capsys, ["continue", motif(tmp_path / "m.mid"), "--out", str(tmp_path)], status=1)
    assert "m-continued-1.mid" in err and "the disk is full" in err


def test_continue_never_replaces_a_file_already_there(tmp_path, capsys, monkeypatch):
    """A second run into the same folder (or a file of the user's under that name) keeps what is
    there: the new variation goes beside it under a free name, and stderr says so."""
    monkeypatch.setattr(gen, "continue_notes", lambda *a, **k: [[]])
    mine = tmp_path / "m-continued-1.mid"
    mine.write_bytes(b"the user's own file")
    assert run(["continue", motif(tmp_path / "m.mid"), "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert mine.read_bytes() == b"the user's own file"
    assert (tmp_path / "m-continued-1-2.mid").is_file()
    assert "m-continued-1.mid exists already; wrote m-continued-1-2.mid" in captured.err


@pytest.mark.parametrize("argv, option", [
    (["--heads", "3"], "divisible"),
    (["--length", "0"], "--length"),
    (["--steps", "0"], "--steps"),
    (["--batch", "0"], "--batch"),
    (["--d-model", "-8"], "--d-model"),
    (["--d-model", "100000"], "--d-model"),
    (["--layers", "1000"], "--layers"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--eval-every", "0"], "--eval-every"),
    (["--threads", "0"], "--threads"),
    (["--length", "100000"], "--length"),
    (["--batch", "4096"], "--batch"),
    (["--batch", "1024", "--length", "2048"], "memory"),
    (["--device", "tpu"], "tpu"),
    (["--device", "cuda:x"], "cuda:x"),
])
def test_train_options_are_checked_before_any_work(tmp_path, capsys, monkeypatch, argv, option):
    from engine.models.music_transformer import data, train

    monkeypatch.setattr(data, "build_dataset", lambda *a, **k: pytest.fail("built a dataset with bad options"))
    monkeypatch.setattr(train, "train", lambda *a, **k: pytest.fail("trained with bad options"))
    one_line_error(capsys, ["train", "music-transformer", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
                            *argv], option)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_train_on_cuda_without_cuda(tmp_path, capsys):
    err = one_line_error(capsys, ["train", "music-transformer", "--data", str(tmp_path / "d"), "--device", "cuda"])
    assert "'cuda' is not available here" in err


def test_the_engine_refuses_out_of_range_options_too():
    """What the GUI and other callers reach: the same limits, as ValueErrors naming the option."""
    model = MusicTransformer(MusicTransformerConfig(d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=64))
    from engine.midi.score import Note, Score

    score, prompt = Score(), [Note(0, 60, 480)]
    for kwargs, word in [({"variations": 0}, "variations"), ({"variations": 1000}, "variations"),
                         ({"temperature": float("nan")}, "temperature"), ({"top_p": 0.0}, "top-p"),
                         ({"bars": float("inf")}, "bars"), ({"bars": 0}, "bars")]:
        with pytest.raises(ValueError, match=word):
            continue_notes(model, score, prompt, **kwargs)


def test_the_kv_cache_is_bounded_before_it_is_allocated(monkeypatch):
    """1000 variations of the shipped model would need 12.6 GB of cache: refused up front."""
    model = load_model(ASSET_DIR)
    monkeypatch.setattr(model, "new_cache", lambda *a: pytest.fail("allocated the cache"))
    with pytest.raises(ValueError, match="memory"):
        generate(model, [1, 2, 3], seconds=1.0, variations=1000)


def test_the_continue_panel_uses_the_engine_limits(qtbot):
    from engine.jobs import JobQueue
    from engine.models.music_transformer.generate import BARS, TEMPERATURE, TOP_P, VARIATIONS
    from gui.common.settings import app_settings
    from gui.jobs.bridge import JobsBridge
    from gui.pianoroll.view import PianoRollView

    queue = JobQueue()
    bridge = JobsBridge(queue)
    try:
        view = PianoRollView(queue, bridge, app_settings())
        qtbot.addWidget(view)
        for spin, limits in ((view.bars_spin, BARS), (view.temperature_spin, TEMPERATURE),
                             (view.top_p_spin, TOP_P), (view.variations_spin, VARIATIONS)):
            assert (spin.minimum(), spin.maximum()) == pytest.approx(limits)
    finally:
        bridge.close()
        queue.shutdown()
