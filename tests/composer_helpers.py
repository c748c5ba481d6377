"""A tiny random composer model for tests: the shipped one (assets/composer) is trained apart and
may not be there; this one has its vocabulary and shapes, and writes well-formed pieces (the
grammar sees to that) of random notes."""

from __future__ import annotations

from pathlib import Path


def random_composer_model(max_len: int = 512, seed: int = 0):
    """A small random composer in memory (eval mode)."""
    import torch

    from engine.models.composer import tokens
    from engine.models.music_transformer.model import MusicTransformer, MusicTransformerConfig

    torch.manual_seed(seed)
    config = MusicTransformerConfig(vocab_size=tokens.VOCAB_SIZE, pad_id=tokens.PAD, vocabulary="remi-controls",
                                    d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=max_len, dropout=0.0)
    return MusicTransformer(config).eval()


def random_composer(folder: Path, seed: int = 0) -> Path:
    """Save a small random composer (model.safetensors + config.json) in ``folder``; returns it."""
    from engine.models.music_transformer.train import save_weights

    folder = Path(folder)
    save_weights(random_composer_model(seed=seed), folder)
    return folder
