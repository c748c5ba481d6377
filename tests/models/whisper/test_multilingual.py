"""Multilingual plumbing (language tokens, detection, translate task) on a random model.

No multilingual weights can be fetched here, so this checks the code paths, not the accuracy:
a random Whisper with the multilingual vocabulary size and a tokenizer with Whisper's special
tokens in the multilingual order.
"""

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.decoding import DecodingOptions, decode, detect_language
from engine.models.whisper.model import Whisper
from engine.models.whisper.tokenizer import LANGUAGES, WhisperTokenizer
from engine.models.whisper.transcribe import TranscribeOptions, transcribe


def _tokenizer() -> WhisperTokenizer:
    vocab = {f"w{i}": i for i in range(50256)}
    vocab["[UNK]"] = 50256
    specials = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in list(LANGUAGES)[:99]]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>",
                 "<|notimestamps|>"]
    for i, token in enumerate(specials):
        vocab[token] = 50257 + i
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(specials)
    return WhisperTokenizer(tok, multilingual=True, num_languages=99)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = WhisperConfig(n_vocab=51865, n_audio_state=64, n_audio_head=4, n_audio_layer=2, n_text_state=64,
                        n_text_head=4, n_text_layer=2)
    m = Whisper(cfg).eval()
    torch.nn.init.normal_(m.decoder.positional_embedding, std=0.02)
    return m


def test_special_tokens_in_multilingual_order():
    tok = _tokenizer()
    assert (tok.eot, tok.sot, tok.translate, tok.transcribe, tok.no_timestamps) == (50257, 50258, 50358, 50359, 50363)
    assert tok.timestamp_begin == 50364
    assert tok.language_token("en") == 50259 and tok.language_token("de") == 50261
    assert tok.language_token("German") == 50261
    assert tok.sot_sequence("fr", "translate") == [50258, tok.language_token("fr"), 50358]
    with pytest.raises(ValueError):
        tok.language_token("klingon")


def test_language_detection_and_translate_task_run(model):
    tok = _tokenizer()
    assert model.config.is_multilingual and model.config.num_languages == 99
    mel = torch.randn(1, 80, 3000)
    with torch.no_grad():
        features = model.encoder(mel)
        language, probs = detect_language(model, tok, features)
        assert language in LANGUAGES and abs(sum(probs.values()) - 1.0) < 1e-4 and len(probs) == 99
        result = decode(model, tok, features, DecodingOptions(language="de", task="translate", beam_size=2,
                                                              sample_len=8))
    assert result.language == "de" and len(result.tokens) <= 8

    audio = (np.random.default_rng(0).standard_normal(16000 * 2) * 0.1).astype(np.float32)
    out = transcribe(model, tok, audio, TranscribeOptions(task="translate", beam_size=2, temperatures=(0.0,),
                                                          silence_gate_db=None))
    assert out.language in LANGUAGES and 0.0 <= out.language_probability <= 1.0
