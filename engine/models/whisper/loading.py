"""Load a Whisper folder of either format into our model, validating every tensor."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.errors import CheckpointError
from engine.models.whisper.model import Whisper, sinusoids

FORMAT_HELP = ("expected config.json with model.safetensors or pytorch_model.bin (Hugging Face format) "
               "or model.bin with config.json (CTranslate2 / faster-whisper format)")


def detect_format(folder: Path | str) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; {FORMAT_HELP}")
    if (folder / "model.bin").exists():
        return "ctranslate2"
    if (folder / "config.json").exists() and any(
        (folder / n).exists() for n in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    ):
        return "huggingface"
    raise CheckpointError(f"{folder} is not a Whisper model folder: {FORMAT_HELP}")


def load_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, torch.Tensor], str]:
    fmt = detect_format(folder)
    if fmt == "ctranslate2":
        from engine.models.whisper.load_ct2 import load_ct2_checkpoint

        return (*load_ct2_checkpoint(folder), fmt)
    from engine.models.whisper.load_hf import load_hf_checkpoint

    return (*load_hf_checkpoint(folder), fmt)


def build_model(config: WhisperConfig, state_dict: dict[str, torch.Tensor], source: str = "checkpoint") -> Whisper:
    """Our model holding exactly the given tensors; any missing, extra or misshapen one is an error."""
    with torch.device("meta"):
        model = Whisper(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state_dict))
    extra = sorted(set(state_dict) - set(expected))
    wrong = [f"{k}: expected {tuple(expected[k])}, found {tuple(state_dict[k].shape)}"
             for k in expected if k in state_dict and state_dict[k].shape != expected[k]]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing[:4]) + (" …" if len(missing) > 4 else ""))
    if extra:
        problems.append("unexpected " + ", ".join(extra[:4]) + (" …" if len(extra) > 4 else ""))
    if wrong:
        problems.append("wrong shape " + "; ".join(wrong[:4]) + (" …" if len(wrong) > 4 else ""))
    if problems:
        raise CheckpointError(f"{source} does not fit a Whisper model of its own config: " + " | ".join(problems))
    # key projections have no bias in Whisper; every other tensor comes from the checkpoint
    model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True, assign=True)
    # the encoder's fixed positions are not stored in checkpoints: compute them (off the meta device)
    model.encoder.register_buffer("positional_embedding", sinusoids(config.n_audio_ctx, config.n_audio_state),
                                  persistent=False)
    return model


def load_whisper_model(folder: Path | str, device: str | torch.device = "cpu",
                       dtype: torch.dtype = torch.float32) -> tuple[Whisper, dict]:
    """(model in eval mode on ``device``/``dtype``, info for people: name, size, format, ...)."""
    folder = Path(folder)
    config, state_dict, fmt = load_checkpoint(folder)
    model = build_model(config, state_dict, str(folder)).to(device=device, dtype=dtype).eval()
    files = [p for p in folder.iterdir() if p.is_file()]
    tokenizer = folder / "tokenizer.json"
    info = {
        "name": config.name, "path": str(folder), "format": fmt,
        "size_bytes": sum(p.stat().st_size for p in files),
        "n_params": sum(p.numel() for p in model.parameters()),
        "device": str(torch.device(device)), "dtype": str(dtype).removeprefix("torch."),
        "multilingual": config.is_multilingual,
        "tokenizer_path": str(tokenizer) if tokenizer.exists() else None,
    }
    return model, info
