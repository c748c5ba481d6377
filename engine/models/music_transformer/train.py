"""Training the Music Transformer: progress, checkpoints, resume, on CPU or CUDA.

``out_dir`` holds ``checkpoint.pt`` (model, optimiser, step, RNG, log: what resume needs),
``best.safetensors`` + ``config.json`` (the weights with the lowest validation NLL so far, in
float32) and ``log.json`` (loss and validation NLL per token over the steps). Checkpoints are
written to a temporary file and renamed, so an interrupted run resumes from the last one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.atomic import atomic_path, write_text
from engine.models.common.torch_files import DamagedFile, RefusedFile, load_safely
from engine.models.music_transformer.data import Batches, evaluation_windows, load_split
from engine.models.music_transformer.events import PAD
from engine.models.music_transformer.model import MusicTransformer, MusicTransformerConfig
from engine.models.music_transformer.options import (
    BATCH,
    LR,
    MAX_TRAIN_ATTENTION_BYTES,
    PERFORMANCE_EVENTS,
    STEPS,
    check_range,
)


@dataclass
class TrainOptions:
    steps: int = 2000
    batch: int = 8
    length: int = 512  # tokens per training window
    lr: float = 5e-4
    warmup: int = 200
    weight_decay: float = 0.01
    eval_every: int = 200
    seed: int = 0


def check_training(config: MusicTransformerConfig, options: TrainOptions) -> None:
    """Refuse options out of range, or whose attention scores would not fit in memory, before
    any work (ValueError naming the option)."""
    check_range("steps", options.steps, STEPS)
    check_range("batch", options.batch, BATCH)
    check_range("eval-every", options.eval_every, STEPS)
    check_range("warmup", options.warmup, (0, STEPS[1]))
    check_range("weight-decay", options.weight_decay, (0.0, 1.0))
    if not (isinstance(options.lr, (int, float)) and LR[0] < options.lr <= LR[1]):
        raise ValueError(f"lr must be above {LR[0]:g} and at most {LR[1]:g}, not {options.lr!r}")
    check_range("length", options.length, (2, config.max_len))
    need = attention_bytes(config, options)
    if need > MAX_TRAIN_ATTENTION_BYTES:
        raise ValueError(f"batch {options.batch} x length {options.length} would need about {need / 2**30:.0f} GiB "
                         f"of memory for attention, more than {MAX_TRAIN_ATTENTION_BYTES / 2**30:g} GiB: "
                         f"lower the batch or the length")


def attention_bytes(config: MusicTransformerConfig, options: TrainOptions) -> int:
    """A rough bound on what one training step keeps for the backward pass: about eight float32
    (batch, heads, length, length) tensors per layer (scores, relative term, softmax, dropout)."""
    return 8 * 4 * config.n_layers * options.batch * config.n_heads * options.length ** 2


def _save_atomic(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_weights(model: MusicTransformer, folder: Path, extra: dict | None = None, half: bool = False) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
               for k, v in model.state_dict().items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text(folder / "config.json", json.dumps({**model.cfg.to_dict(), **(extra or {})}, indent=1))


class EventData:
    """The Music Transformer's data (performance events, data.py): training batches and
    evaluation windows. Another vocabulary trains through the same loop with an object that has
    these members (the composer's: engine/models/composer/batches.py)."""

    vocabulary = PERFORMANCE_EVENTS

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = data_dir

    def batches(self, length: int, seed: int) -> Batches:
        return Batches(load_split(self.data_dir, "train"), length, augment=True, seed=seed)

    def windows(self, split: str, length: int) -> list[np.ndarray]:
        return evaluation_windows(load_split(self.data_dir, split), length)

    @staticmethod
    def counted(targets: torch.Tensor) -> torch.Tensor:
        """Which target tokens the loss counts: all but padding."""
        return targets != PAD


def _nll(logits: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    targets = targets.masked_fill(~counted, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100,
                           reduction=reduction)


@torch.no_grad()
def evaluate(model: MusicTransformer, windows: list[np.ndarray], device, batch: int = 8,
             counted: Callable[[torch.Tensor], torch.Tensor] = EventData.counted) -> float:
    """Mean negative log-likelihood per token (nats) over every counted token of the windows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        chunk = torch.from_numpy(np.stack(windows[i:i + batch])).to(device)
        logits = model(chunk[:, :-1])
        targets = chunk[:, 1:]
        mask = counted(targets)
        total += _nll(logits, targets, mask, "sum").item()
        count += int(mask.sum())
    model.train()
    return total / max(count, 1)


def train(data_dir: str | Path, out_dir: str | Path, config: MusicTransformerConfig, options: TrainOptions,
          device: str = "cpu", progress: Callable[[float, str], None] | None = None,
          should_stop: Callable[[], bool] | None = None, data=None) -> dict:
    """Train (or resume) and return the log: {'steps': [...], 'valid_nll': [...], 'test_nll': ...}.
    ``data``: the batches and windows (default: ``EventData(data_dir)``)."""
    data = data if data is not None else EventData(data_dir)
    check_training(config, options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(options.seed)
    model = MusicTransformer(config).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay,
                                  betas=(0.9, 0.98))
    checkpoint_path = out / "checkpoint.pt"
    log = {"config": config.to_dict(), "options": options.__dict__, "steps": [], "valid_nll": [],
           "train_loss": [], "best_valid_nll": None, "seconds": 0.0}
    step = 0
    batches = data.batches(options.length, options.seed)
    if checkpoint_path.exists():  # resume; weights_only: a crafted checkpoint never runs code (DESIGN.md §8)
        try:
            state = load_safely(checkpoint_path, map_location=device)
        except (DamagedFile, RefusedFile) as exc:  # truncated, foreign, or a pickle that would run code
            raise ValueError(f"{exc}: it cannot be resumed; use a new folder") from None
        if not isinstance(state, dict) or state.get("config") != config.to_dict():
            raise ValueError(f"{checkpoint_path} was trained with another configuration; use a new folder")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, log = state["step"], state["log"]
        batches.rng.setstate(state["rng"])
    valid = data.windows("valid", options.length)

    def lr_at(s: int) -> float:
        warm = min(1.0, (s + 1) / options.warmup)
        return options.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, s / options.steps)))

    model.train()
    started, running = time.perf_counter(), []
    while step < options.steps:
        if should_stop is not None and should_stop():
            break
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        tokens = torch.from_numpy(batches.sample(options.batch)).to(device)
        logits = model(tokens[:, :-1])
        loss = _nll(logits, tokens[:, 1:], data.counted(tokens[:, 1:]))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        running.append(loss.item())
        if progress:
            progress(step / options.steps, f"step {step}/{options.steps} · loss {np.mean(running[-20:]):.3f}")
        if step % options.eval_every == 0 or step == options.steps:
            nll = evaluate(model, valid, device, counted=data.counted)
            log["steps"].append(step)
            log["valid_nll"].append(nll)
            log["train_loss"].append(float(np.mean(running)))
            running = []
            log["seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            if log["best_valid_nll"] is None or nll < log["best_valid_nll"]:
                log["best_valid_nll"] = nll
                save_weights(model, out / "best", {"valid_nll": nll, "step": step})
            _save_atomic({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                          "config": config.to_dict(), "log": log, "rng": batches.rng.getstate()}, checkpoint_path)
            write_text(out / "log.json", json.dumps(log, indent=1))
            if progress:
                progress(step / options.steps, f"step {step} · validation NLL {nll:.3f} per token")
    return log


def test_nll(data_dir: str | Path, weights_dir: str | Path, length: int = 512, device: str = "cpu",
             data=None) -> float:
    from engine.models.music_transformer.generate import load_model

    data = data if data is not None else EventData(data_dir)
    model = load_model(weights_dir, device=device, vocabulary=data.vocabulary)
    return evaluate(model, data.windows("test", length), device, counted=data.counted)
