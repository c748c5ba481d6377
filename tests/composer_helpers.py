"""A tiny random composer model for tests: the shipped one (assets/composer) is trained apart and
may not be there; this one has its vocabulary and shapes, and writes well-formed pieces (the
grammar sees to that) of random notes."""

from __future__ import annotations

from pathlib import Path


def random_composer(folder: Path, seed: int = 0) -> Path:
    """Save a small random composer (model.safetensors + config.json) in ``folder``; returns it."""
    import torch

    from engine.models.composer import tokens
    from engine.models.music_transformer.model import MusicTransformer, MusicTransformerConfig
    from engine.models.music_transformer.train import save_weights

    torch.manual_seed(seed)
    config = MusicTransformerConfig(vocab_size=tokens.VOCAB_SIZE, pad_id=tokens.PAD, vocabulary="remi-controls",
                                    d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=512, dropout=0.0)
    folder = Path(folder)
    save_weights(MusicTransformer(config).eval(), folder)
    return folder
