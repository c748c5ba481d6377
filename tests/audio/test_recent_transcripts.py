"""The Transcribe page's recent files: kept across restarts, at most LIMIT, the index read as data
from anyone (bad entries passed over, transcript names checked), a gone audio file is missing."""

import json

import pytest

from engine.audio.recent_transcripts import INDEX, RecentError, RecentTranscripts
from engine.transcript import Segment, TranscriptionResult


def result(text: str) -> TranscriptionResult:
    segment = Segment(id=0, seek=0, start=0.0, end=1.5, text=" " + text, tokens=[], avg_logprob=0.0,
                      compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0)
    return TranscriptionResult(language="en", language_probability=1.0, duration=1.5, segments=[segment],
                               model_name="tiny.en")


def test_added_transcripts_come_back_in_order_and_replace_their_file(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    store = RecentTranscripts(tmp_path / "data" / "transcripts")
    store.add(a, result("first of a"))
    store.add(b, result("b"))
    store.add(a, result("second of a"))
    again = RecentTranscripts(tmp_path / "data" / "transcripts")  # a restart
    entries = again.list()
    assert [e.path for e in entries] == [str(b), str(a)]
    assert again.result(entries[1]).text == "second of a" and entries[1].model == "tiny.en"
    assert len(list(again.root.glob("*.json"))) == 3  # the index and two transcripts: the replaced one is gone
    again.remove(str(b))
    assert [e.path for e in again.list()] == [str(a)]


def test_at_most_limit_entries_are_kept(tmp_path):
    store = RecentTranscripts(tmp_path / "t", limit=3)
    for i in range(5):
        store.add(tmp_path / f"{i}.wav", result(str(i)))
    assert [e.path for e in store.list()] == [str(tmp_path / f"{i}.wav") for i in (2, 3, 4)]
    assert len(list(store.root.glob("*.json"))) == 4


def test_a_gone_audio_file_is_missing_not_an_error(tmp_path):
    audio = tmp_path / "talk.wav"
    audio.write_bytes(b"x")
    store = RecentTranscripts(tmp_path / "t")
    store.add(audio, result("hello"))
    audio.unlink()
    [entry] = store.list()
    assert entry.missing and store.result(entry).text == "hello"


def test_the_index_is_data_from_anyone(tmp_path):
    store = RecentTranscripts(tmp_path / "t")
    good = store.add(tmp_path / "good.wav", result("good"))
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(result("secret").to_dict()))
    index = json.loads((store.root / INDEX).read_text())
    index["entries"] = ["junk", 42, None, {"id": "../secret", "path": str(tmp_path / "x.wav")},
                        {"id": "0123456789ab", "path": "relative.wav"},
                        {"id": "0123456789ab", "path": str(tmp_path / "x.wav"), "added": "yesterday"},
                        {"id": "abcdefabcdef", "path": str(tmp_path / "gone.wav"), "added": 1.0}] + index["entries"]
    (store.root / INDEX).write_text(json.dumps(index))
    entries = store.list()
    assert [e.path for e in entries] == [str(tmp_path / "gone.wav"), good.path]
    with pytest.raises(RecentError, match="gone.wav"):
        store.result(entries[0])  # listed, but its transcript is not there: one line, not a crash
    (store.root / f"{good.id}.json").write_text("{not json")
    with pytest.raises(RecentError, match="cannot be read"):
        store.result(entries[1])

    for junk in ("", "[]", "{\"entries\": 5}", "\xff\xfe", "{" * 10000, "[" * 100000):
        (store.root / INDEX).write_text(junk)
        assert store.list() == []
    store.add(tmp_path / "after.wav", result("after"))  # a damaged index is replaced, not a crash
    assert [e.path for e in store.list()] == [str(tmp_path / "after.wav")]


def test_a_failed_write_lists_nothing(tmp_path):
    (tmp_path / "t").write_text("a file where the folder should be")
    store = RecentTranscripts(tmp_path / "t")
    with pytest.raises(RecentError, match="could not keep"):
        store.add(tmp_path / "a.wav", result("a"))
    assert store.list() == []
