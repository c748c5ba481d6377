"""A Whisper model on the meta device, and what a checkpoint must hold to fill it.

Both loaders (Hugging Face, CTranslate2) check their tensors here before anything is allocated;
``loading`` builds the model from them. Kept apart from ``loading`` so that the loaders depend
on it and ``loading`` on the loaders, never round in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch.overrides import TorchFunctionMode

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.errors import CheckpointError, first_few
from engine.models.whisper.model import Whisper


def describe(config: WhisperConfig) -> str:
    """A config in a few words, for error messages."""
    return (f"d_model {config.n_audio_state}, {config.n_audio_layer}+{config.n_text_layer} layers, "
            f"{config.n_audio_head} heads, {config.n_mels} mel bins, vocabulary {config.n_vocab}")


class _ParametersOnMeta(TorchFunctionMode):
    """Allocate parameters (``torch.empty`` without a device) on the meta device and skip their
    random initialisation (every value comes from the checkpoint): no memory, no work. Unlike
    ``with torch.device("meta")`` this leaves other factories alone, so the encoder's sinusoids
    are computed normally; and random initialisers on the meta device would import torch's
    decomposition and compiler machinery (seconds, once per process)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.empty and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        elif getattr(func, "__module__", None) == "torch.nn.init":
            tensor = args[0] if args else kwargs.get("tensor")
            if getattr(tensor, "is_meta", False):
                return tensor
        return func(*args, **kwargs)


def skeleton(config: WhisperConfig) -> Whisper:
    """Our model with every parameter on the meta device, ready for ``load_state_dict(assign=True)``."""
    with _ParametersOnMeta():
        return Whisper(config)


def expected_shapes(config: WhisperConfig) -> dict[str, torch.Size]:
    """Every tensor a checkpoint must provide for this config (our names), from a meta-device model."""
    model = skeleton(config)
    return {name: t.shape for name, t in model.state_dict().items()}


def check_state_dict(config: WhisperConfig, state_dict: Mapping[str, torch.Tensor], source: str,
                     file_name: Callable[[str], str] = str) -> None:
    """CheckpointError listing (the first few) missing, unexpected and misshapen tensors.

    ``file_name`` turns our parameter name into the name the checkpoint file uses, so the message
    speaks of what the person can see in their file.
    """
    expected = expected_shapes(config)
    missing = [file_name(k) for k in expected if k not in state_dict]
    extra = [file_name(k) for k in state_dict if k not in expected]
    wrong = [f"{file_name(k)} is {tuple(state_dict[k].shape)}, expected {tuple(shape)}"
             for k, shape in expected.items() if k in state_dict and state_dict[k].shape != shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors: {first_few(missing, 4)}")
    if extra:
        problems.append(f"unexpected {len(extra)} tensors: {first_few(extra, 4)}")
    if wrong:
        problems.append(f"wrong shape for {len(wrong)} tensors: {first_few(wrong, 4, '; ')}")
    if problems:
        raise CheckpointError(f"{source} does not fit a Whisper model of its own config ({describe(config)}): "
                              + " | ".join(problems))
