"""Self-attention keys and values of every layer, kept between decoding steps.

One cache for every decoder: a step writes its new keys and values in place (``append``) and
attends over everything so far, so decoding a token costs one token's work. It follows beam
search (``reorder``), grows a batch for several hypotheses or classifier-free guidance
(``repeat``), and forgets a suffix (``truncate``).
"""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """(batch, heads, capacity, head_dim) keys and values per layer; ``length`` positions filled.

    ``length`` is the same in every row. Prompts of different lengths decoded together are
    left-padded to one length: ``pad[row]`` positions at the start of a row are padding (the model
    masks them); ``pad`` is None when no row is padded. The capacity grows on demand (doubling, up
    to ``max_length``), so a short decode never holds a whole context for every hypothesis; a
    cache made at full capacity never copies.
    """

    def __init__(self, n_layer: int, batch: int, n_head: int, capacity: int, head_dim: int,
                 dtype: torch.dtype, device: torch.device | str, max_length: int | None = None,
                 pad: Tensor | None = None, zeroed: bool = False) -> None:
        shape = (batch, n_head, capacity, head_dim)
        make = torch.zeros if zeroed else torch.empty  # zeroed: read whole, masked (``write_at``)
        self.k = [make(shape, dtype=dtype, device=device) for _ in range(n_layer)]
        self.v = [make(shape, dtype=dtype, device=device) for _ in range(n_layer)]
        self.length = 0
        self.max_length = max(capacity, max_length or capacity)
        self.pad = pad
        self.min_pad = int(pad.min()) if pad is not None and pad.numel() else 0

    @staticmethod
    def bytes_needed(n_layer: int, batch: int, n_head: int, capacity: int, head_dim: int,
                     dtype: torch.dtype) -> int:
        """What a cache of these sizes allocates (to refuse one before allocating it)."""
        return 2 * n_layer * batch * n_head * capacity * head_dim * torch.empty((), dtype=dtype).element_size()

    @property
    def batch(self) -> int:
        return self.k[0].shape[0]

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def reserve(self, length: int) -> None:
        """Room for ``length`` positions (copies what is filled into larger buffers if needed)."""
        if length <= self.capacity:
            return
        if length > self.max_length:
            raise ValueError(f"the decoder cache holds at most {self.max_length} positions, asked for {length}")
        capacity = min(self.max_length, max(length, 2 * self.capacity))
        n = self.length
        for cache in (self.k, self.v):
            for layer, old in enumerate(cache):
                new = old.new_empty((old.shape[0], old.shape[1], capacity, old.shape[3]))
                new[:, :, :n] = old[:, :, :n]
                cache[layer] = new

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write one layer's new keys and values (B, H, T, D) after the ``length`` filled positions;
        returns that layer's keys and values so far (views, no copy). Call ``reserve`` first; the
        model advances ``length`` once every layer has written."""
        start, end = self.length, self.length + k.shape[2]
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def write_at(self, layer: int, position: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write one step's keys and values (B, H, 1, D) at ``position`` (a one-element long tensor
        on the cache's device) and return the layer's whole buffers, for attention masked after
        that position: the same shapes at every step, so a CUDA graph can replay it. ``length``
        is the caller's to advance."""
        self.k[layer].index_copy_(2, position, k.to(self.k[layer].dtype))
        self.v[layer].index_copy_(2, position, v.to(self.v[layer].dtype))
        return self.k[layer], self.v[layer]

    def reorder(self, indices: Tensor, start: int = 0) -> None:
        """Row i becomes the old row ``indices[i]``; fewer indices than rows drop rows.

        Positions before ``start`` are not copied: the caller knows they are equal in each row
        and its source (beams of one window share its prompt). When the number of rows changes
        every position is copied.
        """
        n = self.length
        same = indices.shape[0] == self.batch
        for cache in (self.k, self.v):
            for layer, old in enumerate(cache):
                if same:
                    if start < n:
                        old[:, :, start:n] = old[indices, :, start:n]
                else:
                    new = old.new_empty((indices.shape[0],) + tuple(old.shape[1:]))
                    new[:, :, :n] = old[indices, :, :n]
                    cache[layer] = new
        if self.pad is not None:
            self.pad = self.pad[indices]
            self.min_pad = int(self.pad.min()) if self.pad.numel() else 0

    def repeat(self, times: int, interleave: bool = True) -> None:
        """Each row becomes ``times`` rows: consecutive copies (``interleave``: one prompt, several
        hypotheses) or the whole batch again after itself (classifier-free guidance's layout:
        the conditional rows, then the same prompts for the unconditional branch)."""
        if times > 1:
            rows = torch.arange(self.batch, device=self.k[0].device)
            rows = rows.repeat_interleave(times) if interleave else rows.repeat(times)
            self.reorder(rows)

    def truncate(self, length: int) -> None:
        """Forget every position from ``length`` on (they are overwritten by the next step)."""
        self.length = min(self.length, length)
