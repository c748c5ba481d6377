import json

import pytest

from engine.transcript import Segment, TranscriptionResult, Word, render, write_transcript


def _seg(i, start, end, text, words=None):
    return Segment(id=i, seek=0, start=start, end=end, text=text, tokens=[], avg_logprob=-0.2,
                   compression_ratio=1.2, no_speech_prob=0.01, temperature=0.0, words=words)


@pytest.fixture
def result():
    return TranscriptionResult(
        language="en", language_probability=1.0, duration=3725.5, compute_seconds=12.3456, model_name="tiny.en",
        segments=[_seg(0, 0.0, 2.5, " Hello there.", [Word(0.0, 0.8, " Hello", 0.9), Word(0.9, 2.4, " there.", 0.8)]),
                  _seg(1, 3599.9996, 3725.5, " An hour in.")])


def test_srt_exact(result):
    assert render(result, "srt") == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n01:00:00,000 --> 01:02:05,500\nAn hour in.\n")


def test_vtt_exact(result):
    assert render(result, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "01:00:00.000 --> 01:02:05.500\nAn hour in.\n")


def test_txt_and_json(result, tmp_path):
    assert render(result, "txt") == "Hello there.\nAn hour in.\n"
    path = write_transcript(result, tmp_path / "out.json")
    data = json.loads(path.read_text())
    assert data["language"] == "en" and data["duration"] == 3725.5 and data["compute_seconds"] == 12.346
    assert data["segments"][0] == {"id": 0, "start": 0.0, "end": 2.5, "text": "Hello there.",
                                   "words": [{"start": 0.0, "end": 0.8, "word": " Hello", "probability": 0.9},
                                             {"start": 0.9, "end": 2.4, "word": " there.", "probability": 0.8}]}
    assert "words" not in data["segments"][1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_unknown_format(result, tmp_path):
    with pytest.raises(ValueError, match="choose one of txt, srt, vtt, json"):
        write_transcript(result, tmp_path / "x.doc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_transcripts_get_the_permissions_the_umask_gives(result, tmp_path, umask, mode):
    """Not 0600 whatever the umask (a private temporary file renamed into place would be)."""
    import os

    old = os.umask(umask)
    try:
        path = write_transcript(result, tmp_path / "talk.srt")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
