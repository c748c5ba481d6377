"""A Whisper model on the meta device, and what a checkpoint must hold to fill it.

Both loaders (Hugging Face, CTranslate2) check their tensors here before anything is allocated;
``loading`` builds the model from them. Kept apart from ``loading`` so that the loaders depend
on it and ``loading`` on the loaders, never round in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from engine.models.common import checkpoints
from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.model import Whisper


def describe(config: WhisperConfig) -> str:
    """A config in a few words, for error messages."""
    return (f"d_model {config.n_audio_state}, {config.n_audio_layer}+{config.n_text_layer} layers, "
            f"{config.n_audio_head} heads, {config.n_mels} mel bins, vocabulary {config.n_vocab}")


def skeleton(config: WhisperConfig) -> Whisper:
    """Our model with every parameter on the meta device, ready for ``load_state_dict(assign=True)``."""
    return checkpoints.on_meta(lambda: Whisper(config))


def expected_shapes(config: WhisperConfig) -> dict[str, torch.Size]:
    """Every tensor a checkpoint must provide for this config (our names), from a meta-device model."""
    return {name: t.shape for name, t in skeleton(config).state_dict().items()}


def check_state_dict(config: WhisperConfig, state_dict: Mapping[str, torch.Tensor], source: str,
                     file_name: Callable[[str], str] = str) -> None:
    """CheckpointError listing (the first few) missing, unexpected and misshapen tensors, in the
    checkpoint's own names (``file_name`` maps ours to them)."""
    checkpoints.check_state_dict(expected_shapes(config), state_dict, source,
                                 f"a Whisper model of its own config ({describe(config)})", file_name)
