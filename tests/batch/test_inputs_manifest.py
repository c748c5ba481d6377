"""What a batch works on, and the manifest that lets a rerun skip what is done."""

import json

import numpy as np
import pytest
import soundfile as sf

from engine.batch.inputs import BatchInputError, content_hash, find_sources, output_collision, prompt_slug
from engine.batch.manifest import MANIFEST_NAME, Manifest


def _wav(path, seconds=0.2, value=0.1):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.full(int(16000 * seconds), value, np.float32), 16000)
    return path


def test_folders_are_searched_for_audio_and_keep_their_layout(tmp_path):
    _wav(tmp_path / "in" / "a.wav")
    _wav(tmp_path / "in" / "day 2" / "b.FLAC")
    _wav(tmp_path / "in" / ".hidden" / "c.wav")
    _wav(tmp_path / "in" / ".d.wav")
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    single = _wav(tmp_path / "x.ogg")
    sources = find_sources([tmp_path / "in", single])
    assert [(s.path.name, str(s.stem)) for s in sources] == [("a.wav", "a"), ("b.FLAC", "day 2/b"), ("x.ogg", "x")]
    with pytest.raises(BatchInputError, match="does not exist"):
        find_sources([tmp_path / "missing.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="no audio files in"):
        find_sources([tmp_path / "empty"])


def test_two_inputs_writing_one_output_are_refused(tmp_path):
    out = tmp_path / "out"
    assert output_collision(out, [(tmp_path / "a/t.wav", out / "t.txt"), (tmp_path / "b/t.wav", out / "u.txt")]) is None
    problem = output_collision(out, [(tmp_path / "a/t.wav", out / "t.txt"), (tmp_path / "b/t.wav", out / "t.txt")])
    assert "would both be written to" in problem
    (tmp_path / "file").write_text("x")
    assert "is a file" in output_collision(tmp_path / "file", [])


def test_the_hash_is_of_the_content_not_the_name(tmp_path):
    a, b, c = _wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav"), _wav(tmp_path / "c.wav", value=0.2)
    assert content_hash(a) == content_hash(b) != content_hash(c)
    assert prompt_slug("Lofi piano, with SOFT drums & rain at night!") == "lofi-piano-with-soft-drums-rain"
    assert prompt_slug("!!!") == "motet"


def test_the_manifest_survives_a_torn_line_and_checks_outputs_exist(tmp_path):
    m = Manifest(tmp_path)
    (tmp_path / "a.txt").write_text("hello")
    m.record("k1", "done", outputs=["a.txt"])
    m.record("k2", "failed", error="corrupt")
    m.record("k3", "done", outputs=["gone.txt"])
    with open(tmp_path / MANIFEST_NAME, "a") as f:
        f.write('{"key": "k4", "status": "do')  # a batch killed mid-line
    again = Manifest(tmp_path)
    assert again.is_done("k1", tmp_path)
    assert not again.is_done("k2", tmp_path) and not again.is_done("k3", tmp_path) and not again.is_done("k4", tmp_path)
    lines = (tmp_path / MANIFEST_NAME).read_text().splitlines()
    assert json.loads(lines[0]) == {"key": "k1", "status": "done", "outputs": ["a.txt"]}
