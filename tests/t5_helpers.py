"""What the T5 tests share: tiny random transformers models (the reference) and a small
tokenizer.json built like T5's (Unigram, Metaspace, ``$A </s>``)."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

TINY = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=48, num_layers=3, num_heads=4,
            relative_attention_num_buckets=8, relative_attention_max_distance=20, dropout_rate=0.0)


def hf_config(**changes):
    import transformers

    return transformers.T5Config(**dict(TINY, **changes))


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Weights far from the initialisation (norm weights not all ones), so that a wrong
    mapping, activation or scale cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.4)
    return model.eval()


def reference(seed: int = 0, cls_name: str = "T5EncoderModel", **changes):
    import transformers

    return randomise(getattr(transformers, cls_name)(hf_config(**changes)), seed)


def batch(vocab_size: int = 99, lengths=(17, 11, 3, 17), seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with right padding (id 0) beyond each length, and the 1/0 mask."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(2, vocab_size, (len(lengths), width), generator=g)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


WORDS = ["▁the", "▁a", "▁music", "▁happy", "▁rock", "▁with", "▁drum", "s", "ing", "▁jazz", "▁piano", "▁80", "s"]


def write_tokenizer(path: Path, post_processor: bool = True, words: tuple[str, ...] = ()) -> Path:
    """A T5-like tokenizer.json: <pad>=0, </s>=1, <unk>=2, a Unigram vocabulary of words (WORDS and
    ``words``) and characters, NFKC and runs of spaces folded, Metaspace; ``$A </s>`` when
    ``post_processor``."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(w, -3.0 - 0.1 * i) for i, w in enumerate(dict.fromkeys(WORDS + list(words)))]
    vocab += [(c, -6.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!"]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    if post_processor:
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    tok.save(str(path))
    return path
