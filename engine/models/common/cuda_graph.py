"""One decoding step captured as a CUDA graph and replayed: on a GPU a step of a small batch is a
few hundred short kernels, and launching them from Python costs more than running them. A graph
launches them all at once. The step must keep its shapes and read everything that changes from
tensors (``MusicgenLM.step_at``); its inputs are copied into the captured ones before each replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

log = logging.getLogger(__name__)

WARMUP_RUNS = 2  # cuBLAS and the allocator settle their workspaces before capture, as torch advises


class GraphedStep:
    """``fn(*inputs)`` captured once with ``example`` inputs (CUDA tensors, which it may rely on
    being the same tensors at every call) and replayed by ``__call__``.

    The warm-up and the capture run ``fn`` on ``example`` for real (WARMUP_RUNS + 1 times): ``fn``
    must give the same result when repeated, as a step that writes its keys and values at a given
    position does. The output is the captured tensor itself, overwritten by the next replay:
    copy what is kept."""

    def __init__(self, fn: Callable[..., Tensor], example: tuple[Tensor, ...]) -> None:
        self.inputs = tuple(t.clone() for t in example)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                fn(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: other threads' CUDA work (live transcription on the same GPU) goes on while
        # this thread captures; "global" would refuse it
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.output = fn(*self.inputs)

    def __call__(self, *inputs: Tensor) -> Tensor:
        for static, new in zip(self.inputs, inputs):
            static.copy_(new)
        self.graph.replay()
        return self.output


def graphed_or_eager(fn: Callable[..., Tensor], example: tuple[Tensor, ...]) -> Callable[..., Tensor]:
    """``GraphedStep`` of ``fn`` on CUDA; ``fn`` itself elsewhere, or where capture fails (an op
    that cannot be captured, too little memory for the graph's pool): slower, never wrong."""
    if not example[0].is_cuda:
        return fn
    try:
        return GraphedStep(fn, example)
    except RuntimeError as error:  # capture errors are RuntimeErrors (torch.cuda, cuBLAS)
        log.warning("decoding without a CUDA graph: capture failed (%s)", error)
        torch.cuda.synchronize()
        return fn
