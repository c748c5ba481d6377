"""Pick the compute device (CUDA GPU, Apple MPS or CPU) and dtype, and describe them to people."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ComputeDevice:
    kind: str  # "cuda" | "mps" | "cpu"
    index: int | None
    name: str  # what a person reads: "NVIDIA H100 80GB HBM3", "Apple MPS", "CPU (8 threads)"
    memory_bytes: int | None = None

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.kind if self.index is None else f"{self.kind}:{self.index}")

    def __str__(self) -> str:
        return self.name


def available_devices() -> list[ComputeDevice]:
    """All devices torch can run on here, best first; the CPU is always last."""
    found: list[ComputeDevice] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append(ComputeDevice("cuda", i, props.name, props.total_memory))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(ComputeDevice("mps", None, "Apple MPS"))
    found.append(ComputeDevice("cpu", None, f"CPU ({torch.get_num_threads()} threads)"))
    return found


class DeviceError(ValueError):
    """A compute device that is unknown or not on this machine; ``str()`` is the one line to show."""


def choose_device(preference: str | None = None) -> ComputeDevice:
    """``preference`` is "auto"/None, "cpu", "cuda", "cuda:N" or "mps" (also $MOTET_DEVICE).

    A preference that is malformed or not available raises DeviceError naming what is.
    """
    preference = (preference or os.environ.get("MOTET_DEVICE") or "auto").strip().lower()
    devices = available_devices()
    if preference == "auto":
        return devices[0]
    names = ", ".join(d.kind if d.index is None else f"{d.kind}:{d.index}" for d in devices)
    kind, colon, idx = preference.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (colon and not (kind == "cuda" and idx.isdigit())):
        raise DeviceError(f"compute device {preference!r} is not one of auto, cpu, cuda, cuda:N, mps; "
                          f"available here: {names}")
    for dev in devices:
        if dev.kind == kind and (not idx or dev.index == int(idx)):
            return dev
    raise DeviceError(f"compute device {preference!r} is not available here; available: {names}")


def choose_dtype(device: ComputeDevice, preference: str | None = None) -> torch.dtype:
    """float16 on CUDA (bfloat16 if asked), float32 on CPU and MPS unless asked otherwise."""
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if preference and preference != "auto":
        if preference not in table:
            raise ValueError(f"dtype {preference!r} unknown; choose one of {', '.join(table)}")
        return table[preference]
    return torch.float16 if device.kind == "cuda" else torch.float32


def describe(device: ComputeDevice, dtype: torch.dtype | None = None) -> str:
    """One line for the status bar and `motet devices`."""
    text = {"cuda": f"CUDA GPU: {device.name}", "mps": "Apple MPS", "cpu": device.name}[device.kind]
    if device.memory_bytes:
        text += f", {device.memory_bytes / 2**30:.0f} GiB"
    if dtype is not None:
        text += f" · {str(dtype).removeprefix('torch.')}"
    return text
