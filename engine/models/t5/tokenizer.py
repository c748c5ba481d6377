"""T5's tokenizer on top of the `tokenizers` library, reading a checkpoint's tokenizer.json
(sentencepiece is not needed).

Every text ends with ``</s>``, as transformers' T5 tokenizer makes it: that tokenizer replaces
whatever post-processor the file has with ``$A </s>``, and so do we, so the token is added
exactly once whether or not the file's own post-processor adds it. Batches are padded on the
right with ``<pad>`` (id 0 in every T5 vocabulary, looked up all the same).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, processors
from torch import Tensor

from engine.models.common.errors import CheckpointError

# what T5 was trained with; a longer prompt is cut (keeping its </s>) unless encode() is told otherwise
MAX_LENGTH = 512


class T5Tokenizer:
    def __init__(self, tokenizer: Tokenizer, source: str = "tokenizer.json") -> None:
        self.pad_id = self._special(tokenizer, "<pad>", source)
        self.eos_id = self._special(tokenizer, "</s>", source)
        tokenizer.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", self.eos_id)])
        tokenizer.no_padding()
        tokenizer.no_truncation()  # encode() truncates itself: no state shared between calls
        self.tokenizer = tokenizer

    @staticmethod
    def _special(tokenizer: Tokenizer, token: str, source: str) -> int:
        token_id = tokenizer.token_to_id(token)
        if token_id is None:
            raise CheckpointError(f"{source} has no {token} token; it is not a T5 tokenizer")
        return token_id

    @classmethod
    def from_file(cls, path: Path | str) -> T5Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path} is missing")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the Rust side raises a plain Exception
            raise CheckpointError(f"cannot read the tokenizer {path}: {str(exc).splitlines()[0]}") from None
        return cls(tokenizer, str(path))

    def encode(self, texts: list[str], max_length: int | None = MAX_LENGTH) -> tuple[Tensor, Tensor]:
        """(input_ids, attention_mask), both int64 (B, T): each text's tokens and ``</s>``,
        padded to the longest with ``<pad>`` (mask 0). A text longer than ``max_length`` tokens
        (``</s>`` included) is cut to fit, ending with ``</s>`` as transformers'
        ``truncation=True`` does; None: no limit."""
        if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts should be a non-empty list of strings")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length should be at least 1, got {max_length}")
        rows = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        if max_length is not None:
            rows = [ids if len(ids) <= max_length else ids[:max_length - 1] + [self.eos_id] for ids in rows]
        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[i, :len(ids)] = 1
        return input_ids, attention_mask
