"""A take's transcript made again, undone and edited (issue #27 item 5): the library's side,
without a model (the job and the CLI with Whisper are in tests/tasks/test_take_and_download_jobs.py)."""

import errno
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.atomic import WriteError
from engine.audio import takes as takes_module
from engine.audio.takes import TakeError, TakeLibrary, previous_transcript_path, take_name_for, transcript_path
from engine.transcript import Segment, TranscriptionResult, Word, edit_segment, render


def _result(*lines: str, words: bool = False) -> TranscriptionResult:
    segments = []
    for i, text in enumerate(lines):
        ws = None
        if words:
            ws = [Word(i + j * 0.3, i + j * 0.3 + 0.25, " " + w, 0.9) for j, w in enumerate(text.split())]
        segments.append(Segment(i, 0, float(i), i + 0.9, " " + text, [1, 2], -0.1, 1.0, 0.0, 0.0, ws))
    return TranscriptionResult("en", 1.0, float(len(lines)), segments, model_name="tiny.en")


@pytest.fixture
def take(tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    t = lib.begin(16000, 1, name="Interview")
    sf.write(t.path, np.zeros(16000, np.float32), 16000)
    t = lib.commit(t, 1.0)
    return lib, t


def test_replace_keeps_the_earlier_transcript_and_undo_swaps_them(take):
    lib, t = take
    lib.save_transcript(t.id, _result("brokne text"))
    assert not lib.has_previous_transcript(t.id)
    lib.replace_transcript(t.id, _result("Broken text, repaired."))
    assert lib.load_transcript(t.id).text == "Broken text, repaired."
    assert lib.has_previous_transcript(t.id)
    back = lib.undo_transcript(t.id)
    assert back.text == "brokne text" and lib.load_transcript(t.id).text == "brokne text"
    assert lib.undo_transcript(t.id).text == "Broken text, repaired."  # Undo again: redo
    assert [x.id for x in lib.list()] == [t.id]  # the kept file is not a take
    lib.delete(t.id)
    assert not previous_transcript_path(t.path).exists() and not transcript_path(t.path).exists()


def test_undo_with_nothing_earlier_says_so(take):
    lib, t = take
    lib.save_transcript(t.id, _result("one"))
    with pytest.raises(TakeError, match="no earlier transcript"):
        lib.undo_transcript(t.id)
    assert lib.load_transcript(t.id).text == "one"


def test_an_edited_line_is_saved_with_the_take_and_exported(take, tmp_path):
    lib, t = take
    lib.save_transcript(t.id, _result("hello wrld", "second line", words=True))
    edited = lib.edit_transcript_line(t.id, 0, "Hello, world!")
    stored = lib.load_transcript(t.id)
    assert stored.segments[0].text.strip() == "Hello, world!" and stored.segments[1].text.strip() == "second line"
    assert stored.segments[0].words is None  # "wrld" became "world": the old timings belong to other words
    assert stored.segments[0].start == 0.0 and stored.segments[0].end == 0.9
    assert "Hello, world!" in render(stored, "srt") and edited.text == stored.text
    assert lib.undo_transcript(t.id).segments[0].text.strip() == "hello wrld"


def test_word_timings_stay_when_only_case_and_punctuation_change():
    result = _result("hello world again", words=True)
    edited = edit_segment(result, 0, "Hello, world again.")
    words = edited.segments[0].words
    assert [w.word for w in words] == [" Hello,", " world", " again."]
    assert [(w.start, w.end) for w in words] == [(w.start, w.end) for w in result.segments[0].words]
    assert result.segments[0].text == " hello world again"  # the original is not touched
    assert edit_segment(result, 0, "hello there world again").segments[0].words is None


@pytest.mark.parametrize("text, message", [("   ", "cannot be empty"), ("x" * 10_001, "at most 10000")])
def test_a_bad_edit_is_one_line_and_changes_nothing(take, text, message):
    lib, t = take
    lib.save_transcript(t.id, _result("keep me"))
    with pytest.raises(ValueError, match=message):
        lib.edit_transcript_line(t.id, 0, text)
    with pytest.raises(ValueError, match="no line 3"):
        lib.edit_transcript_line(t.id, 2, "x")
    assert lib.load_transcript(t.id).text == "keep me" and not lib.has_previous_transcript(t.id)


def test_an_edit_on_a_full_disk_says_so_and_keeps_the_earlier_text(take, monkeypatch):
    lib, t = take
    lib.save_transcript(t.id, _result("earlier text"))

    def full_disk(path, text, *args):
        raise WriteError(errno.ENOSPC, f"could not save '{Path(path).name}': the disk is full")

    monkeypatch.setattr(takes_module, "write_text", full_disk)
    with pytest.raises(WriteError, match="the disk is full"):
        lib.edit_transcript_line(t.id, 0, "new text")
    with pytest.raises(WriteError, match="the disk is full"):
        lib.replace_transcript(t.id, _result("new transcript"))
    assert lib.load_transcript(t.id).text == "earlier text"


def test_a_take_whose_audio_cannot_be_read_is_one_line(take):
    lib, t = take
    assert lib.check_audio(t.id).id == t.id
    Path(t.path).write_bytes(b"not audio at all")
    with pytest.raises(TakeError, match="the audio of 'Interview' cannot be read") as info:
        lib.check_audio(t.id)
    assert "\n" not in str(info.value)
    Path(t.path).unlink()
    assert [x.id for x in lib.list()] == []  # without audio it is not listed: nothing else was touched
    assert (lib.takes_dir / f"{t.id}.json").exists()


def test_a_take_file_is_named_by_its_take(take, tmp_path):
    lib, t = take
    assert take_name_for(t.path) == "Interview"
    other = tmp_path / "talk.wav"
    sf.write(other, np.zeros(100, np.float32), 16000)
    assert take_name_for(other) is None


@pytest.mark.parametrize("bad", ["../outside", "a/b", "a\\b", ".lock", ""])
def test_a_take_id_with_a_path_in_it_never_reaches_outside_takes(take, bad, tmp_path):
    lib, t = take
    (tmp_path / "outside.json").write_text('{"id": "outside", "name": "x"}')
    with pytest.raises(KeyError):
        lib.get(bad)
    with pytest.raises(KeyError):
        lib.replace_transcript(bad, TranscriptionResult("en", 1.0, 1.0, []))
    with pytest.raises(KeyError):
        lib.delete(bad)
    assert (tmp_path / "outside.json").exists() and [x.id for x in lib.list()] == [t.id]


def test_transcribe_again_repairs_a_transcript_file_that_cannot_be_read(take):
    lib, t = take
    transcript_path(t.path).write_text("{ half a file")
    with pytest.raises(ValueError, match="could not be read"):
        lib.load_transcript(t.id)
    lib.replace_transcript(t.id, _result("a readable one"))
    assert lib.load_transcript(t.id).text == "a readable one" and not lib.has_previous_transcript(t.id)
