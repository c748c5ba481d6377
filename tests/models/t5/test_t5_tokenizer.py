"""Our T5 tokenizer against transformers' on the same tokenizer.json: ids, padding, the one
``</s>``, truncation; and files that are not T5 tokenizers refused as CheckpointErrors."""

from __future__ import annotations

import pytest
import torch
from t5_helpers import reference, write_tokenizer

from engine.models.common.errors import CheckpointError
from engine.models.t5.loading import build_t5_encoder
from engine.models.t5.tokenizer import T5Tokenizer

transformers = pytest.importorskip("transformers")

TEXTS = ["happy rock with drums", "a jazz piano", "", "Ünïcode   ÉÀ 123 zzz ?", "the 80s music", "x" * 40]


def _theirs(cls_name, path):
    cls = getattr(transformers, cls_name)
    if cls_name == "PreTrainedTokenizerFast":
        return cls(tokenizer_file=str(path), pad_token="<pad>", eos_token="</s>")
    return cls(tokenizer_file=str(path))


@pytest.mark.parametrize("cls_name", ["T5TokenizerFast", "PreTrainedTokenizerFast"])
@pytest.mark.parametrize("max_length", [None, 4, 9])
def test_ids_and_mask_match_transformers(tmp_path, cls_name, max_length):
    path = write_tokenizer(tmp_path / "tokenizer.json")
    theirs = _theirs(cls_name, path)(TEXTS, padding=True, truncation=max_length is not None, max_length=max_length,
                                     return_tensors="pt")
    ids, mask = T5Tokenizer.from_file(path).encode(TEXTS, max_length=max_length)
    assert ids.dtype == mask.dtype == torch.long
    assert torch.equal(ids, theirs["input_ids"]) and torch.equal(mask, theirs["attention_mask"])
    assert (ids[mask.bool()] == 1).sum() == len(TEXTS)  # one </s> a text


def test_a_file_without_post_processor_still_gets_one_eos(tmp_path):
    """transformers' T5 tokenizer sets ``$A </s>`` whatever the file says; so do we."""
    path = write_tokenizer(tmp_path / "tokenizer.json", post_processor=False)
    theirs = _theirs("T5TokenizerFast", path)(TEXTS, padding=True, return_tensors="pt")
    ids, mask = T5Tokenizer.from_file(path).encode(TEXTS, max_length=None)
    assert torch.equal(ids, theirs["input_ids"]) and torch.equal(mask, theirs["attention_mask"])
    assert ids[2].tolist()[0] == 1 and mask[2].sum() == 1  # "" is just </s>


def test_the_default_limit_is_512_tokens(tmp_path):
    tokenizer = T5Tokenizer.from_file(write_tokenizer(tmp_path / "tokenizer.json"))
    ids, _ = tokenizer.encode(["x" * 600])
    assert ids.shape == (1, 512) and ids[0, -1] == tokenizer.eos_id
    assert tokenizer.encode(["x" * 600], max_length=None)[0].shape == (1, 602)  # ▁, 600 x, </s>


def test_text_to_hidden_states_matches_transformers(tmp_path):
    path = write_tokenizer(tmp_path / "tokenizer.json")
    ref = reference(vocab_size=60, feed_forward_proj="gated-gelu")
    ours = build_t5_encoder(ref.config.to_dict(), {k: v.clone() for k, v in ref.state_dict().items()}, "ref")
    inputs = _theirs("T5TokenizerFast", path)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = ref(**inputs).last_hidden_state
        got = ours(*T5Tokenizer.from_file(path).encode(TEXTS))
    assert (got - expected).abs().max().item() <= 1e-5


def test_unusable_files_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="tokenizer.json is missing"):
        T5Tokenizer.from_file(tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer.json").write_bytes(b"\x00\xff not json")
    with pytest.raises(CheckpointError, match="cannot read the tokenizer") as err:
        T5Tokenizer.from_file(tmp_path / "tokenizer.json")
    assert "\n" not in str(err.value)
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({"<pad>": 0, "a": 1}, unk_token="a")).save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(CheckpointError, match=r"has no </s> token; it is not a T5 tokenizer"):
        T5Tokenizer.from_file(tmp_path / "tokenizer.json")


def test_bad_texts_are_value_errors(tmp_path):
    tokenizer = T5Tokenizer.from_file(write_tokenizer(tmp_path / "tokenizer.json"))
    for texts in ("a string", [], ["ok", 3]):
        with pytest.raises(ValueError, match="non-empty list of strings"):
            tokenizer.encode(texts)
    with pytest.raises(ValueError, match="max_length"):
        tokenizer.encode(["a"], max_length=0)
