"""Training (checkpoints, resume) on a few corpus pieces, and the `motet train` / `motet continue`
commands."""

import json
import subprocess
import sys

import pytest
import torch

pytest.importorskip("music21")

from engine.models.music_transformer.data import Batches, build_dataset, load_split, split_of  # noqa: E402
from engine.models.music_transformer.events import BOS, EOS, PAD  # noqa: E402
from engine.models.music_transformer.model import MusicTransformerConfig  # noqa: E402
from engine.models.music_transformer.train import TrainOptions, train  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mtdata")
    info = build_dataset(folder, limit=24)
    assert info["failed"] == []
    return folder, info


def test_split_is_fixed_by_piece_and_batches_are_augmented_windows(dataset):
    folder, info = dataset
    assert split_of("bach/bwv66.6.mxl") == split_of("bach/bwv66.6.mxl")
    for split in ("train", "valid", "test"):
        assert all(split_of(name) == split for name in info[split]["names"])
    pieces = load_split(folder, "train")
    batch = Batches(pieces, length=64, seed=1).sample(4)
    assert batch.shape == (4, 65)
    assert set(batch.ravel()) - {PAD, BOS, EOS} and batch.max() <= EOS


def test_training_checkpoints_and_resumes(dataset, tmp_path):
    folder, _ = dataset
    cfg = MusicTransformerConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, max_len=256)
    log = train(folder, tmp_path / "run", cfg, TrainOptions(steps=4, batch=2, length=64, eval_every=2, warmup=2))
    assert log["steps"] == [2, 4] and all(x > 0 for x in log["valid_nll"])
    assert (tmp_path / "run" / "checkpoint.pt").exists() and (tmp_path / "run" / "best" / "model.safetensors").exists()
    again = train(folder, tmp_path / "run", cfg, TrainOptions(steps=6, batch=2, length=64, eval_every=2, warmup=2))
    assert again["steps"] == [2, 4, 6]  # went on from step 4
    other = MusicTransformerConfig(d_model=64, n_heads=4, n_layers=1, d_ff=64, max_len=256)
    with pytest.raises(ValueError, match="another configuration"):
        train(folder, tmp_path / "run", other, TrainOptions(steps=8, length=64))


@pytest.mark.timeout(900)  # the three commands' own bounds (300 + 300 + 120 s), not the suite's 300 s
def test_cli_train_and_continue(dataset, tmp_path):
    folder, _ = dataset
    out = subprocess.run([sys.executable, "-m", "gui.shell.main", "train", "music-transformer", "--data", str(folder),
                          "--out", str(tmp_path / "run"), "--steps", "2", "--batch", "2", "--length", "64",
                          "--d-model", "32", "--layers", "1", "--heads", "4", "--eval-every", "2", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["test_nll"] > 0
    from engine.midi.synth import ASSETS

    out = subprocess.run([sys.executable, "-m", "gui.shell.main", "continue", str(ASSETS / "motifs" / "walking-motif.mid"),
                          "--bars", "2", "--variations", "2", "--seed", "1", "--out", str(tmp_path / "cont")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "cont").glob("*.mid"))
    assert [f.name for f in files] == ["walking-motif-continued-1.mid", "walking-motif-continued-2.mid"]
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd")
    out = subprocess.run([sys.executable, "-m", "gui.shell.main", "continue", str(bad)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "not a readable MIDI file" in out.stderr


class _RunsCode:
    """Unpickling this would run code (write a marker file): what a crafted checkpoint does."""

    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['MOTET_PWNED'], 'w').write('ran')",))


def test_a_crafted_checkpoint_never_runs_code(dataset, tmp_path, monkeypatch):
    folder, _ = dataset
    marker = tmp_path / "ran.txt"
    monkeypatch.setenv("MOTET_PWNED", str(marker))
    (tmp_path / "run").mkdir()
    torch.save({"model": {}, "step": 1, "payload": _RunsCode()}, tmp_path / "run" / "checkpoint.pt")
    cfg = MusicTransformerConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, max_len=256)
    with pytest.raises(ValueError) as err:
        train(folder, tmp_path / "run", cfg, TrainOptions(steps=2, batch=2, length=64, eval_every=2, warmup=2))
    assert not marker.exists()
    message = str(err.value)
    assert "checkpoint.pt was refused" in message and "running code" in message and "cannot be resumed" in message
    assert "weights_only" not in message and "can still be loaded" not in message and "\n" not in message, message
