"""int8 compute on the CPU for any model: ``Int8Linear`` (int8 weights, one scale per output row;
activations quantized per row on every call) and the choice of torch's quantized backend.

Why dynamic int8 and these kernels, measured on Whisper's shapes: engine/models/whisper/quantize.py.
A decoding step is memory-bound (every weight read once per step): int8 weights are a quarter of
float32's bytes.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn


def exact_int8_dot() -> bool:
    """Whether this CPU sums u8 x s8 products exactly (AVX512-VNNI / AVX-VNNI, or AMX)."""
    return bool(getattr(torch.cpu, "_is_vnni_supported", lambda: False)()
                or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def int8_backend(small: bool = False) -> str:
    """The quantized engine that packs (and so runs) int8 weights on this CPU: oneDNN where the
    dot products are exact, for many rows (the encoder, the logits, the audio's keys and values:
    AMX); fbgemm (torch's x86 engine) for the few rows of a decoding step (``small``), where
    oneDNN's per-call cost dominates (40 against 59 us per 5 x 384 x 384 call here)."""
    engines = torch.backends.quantized.supported_engines
    if "onednn" in engines and exact_int8_dot() and not (small and "x86" in engines):
        return "onednn"
    for engine in ("x86", "fbgemm", "qnnpack"):
        if engine in engines:
            return engine
    raise RuntimeError("this build of PyTorch has no quantized CPU kernels; use float32 compute")


@contextlib.contextmanager
def _engine(name: str):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = old


class Int8Linear(nn.Module):
    """``y = x W^T + b`` with W stored as int8 (one scale per output row) and x quantized to
    8 bits per row (per token) on every call.

    torch's dynamic int8 kernel quantizes its whole input with one scale. Here each row is first
    divided by its largest magnitude, and one constant row (+1, -1, 0, ...) is appended, so the
    kernel's range is always [-1, 1]: every row gets the same relative precision whatever else is
    in the batch, and the output row is multiplied back by the row's scale. This makes a row's
    result independent of the other rows (a clip transcribed in a batch gives exactly what it
    gives alone; with one scale per call, 7 of 12 test clips changed their text when batched)
    and halves the error of one scale per call (relative error 1.0% instead of 1.5-2.9% on
    tiny.en's shapes).
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, backend: str, per_row: bool = True) -> None:
        super().__init__()
        self.per_row = per_row
        weight = weight.detach().float()
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.packed_bytes = weight.numel() + 8 * weight.shape[0]  # int8 values and a scale per row (the registry)
        scale = (weight.abs().amax(dim=1) / 127).clamp(min=1e-12).double()
        zero = torch.zeros(weight.shape[0], dtype=torch.long)
        qweight = torch.quantize_per_channel(weight, scale, zero, 0, torch.qint8)
        with _engine(backend):
            self._packed = torch.ops.quantized.linear_prepack(qweight, None)
        self.bias = None if bias is None else bias.detach().float().clone()
        bounds = torch.zeros(1, self.in_features)
        bounds[0, 0], bounds[0, -1] = 1.0, -1.0
        self.register_buffer("bounds", bounds, persistent=False)
        self.backend = backend
        # 7-bit activations where 16-bit intermediate sums could saturate (fbgemm without VNNI)
        self.reduce_range = not exact_int8_dot()

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        if not self.per_row:
            y = torch.ops.quantized.linear_dynamic(x, self._packed, reduce_range=self.reduce_range)
            if self.bias is not None:
                y += self.bias
            return y.view(*shape[:-1], self.out_features)
        m = x.shape[0]
        if m <= 64:  # a decoding step: fewest ops
            scale = x.abs().amax(dim=1, keepdim=True).clamp_(min=1e-30)
            rows = torch.cat([x / scale, self.bounds])
        else:  # many rows (a prompt, the audio's keys and values): fewest passes over memory
            scale = torch.maximum(x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True).neg_()).clamp_(min=1e-30)
            rows = x.new_empty(m + 1, x.shape[1])
            torch.div(x, scale, out=rows[:m])
            rows[m:] = self.bounds
        y = torch.ops.quantized.linear_dynamic(rows, self._packed, reduce_range=self.reduce_range)[:m]
        y = y.mul_(scale) if self.bias is None else torch.addcmul(self.bias, y, scale)
        return y.view(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 ({self.backend})"


def replace_linears(module: nn.Module, backend: str, per_row: bool = True) -> int:
    """Every ``nn.Linear`` below ``module`` becomes an ``Int8Linear``, in place; how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child.weight, child.bias, backend, per_row))
            count += 1
        else:
            count += replace_linears(child, backend, per_row)
    return count
