"""EnCodec's residual vector quantiser, for inference.

Encoding: each stage picks, for every frame, the codebook entry nearest (Euclidean) to what the
stages before it left unexplained, and passes on the remainder. Decoding: the sum of the chosen
entries. The codebooks have the encoder's width (published EnCodec checkpoints hold no
projections), so latents go in and come out unchanged in shape. Checkpoint names:
``quantizer.layers.N.codebook.embed`` -> ``codebooks.N``; the training statistics beside it
(``inited``, ``cluster_size``, ``embed_avg``) are not needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def nearest(vectors: Tensor, codebook: Tensor) -> Tensor:
    """Index of the entry of ``codebook`` (size, dim) nearest to each of ``vectors`` (..., dim).

    The distance is expanded as |x|^2 - 2 x.e + |e|^2 (one matrix product) and computed in
    float32 whatever the model's dtype: in half precision near entries would tie or swap."""
    flat = vectors.reshape(-1, vectors.shape[-1]).float()
    entries = codebook.float().t()
    distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ entries + entries.pow(2).sum(0, keepdim=True)
    return (-distance).max(dim=-1).indices.view(vectors.shape[:-1])


class ResidualVectorQuantizer(nn.Module):
    def __init__(self, num_quantizers: int, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.codebooks = nn.ParameterList(nn.Parameter(torch.empty(codebook_size, dim), requires_grad=False)
                                          for _ in range(num_quantizers))

    def encode(self, latents: Tensor, num_codebooks: int) -> Tensor:
        """Codes (B, K, T) of latents (B, dim, T) with the first ``num_codebooks`` stages."""
        residual = latents.transpose(1, 2)
        codes = []
        for codebook in self.codebooks[:num_codebooks]:
            index = nearest(residual, codebook)
            residual = residual - F.embedding(index, codebook)
            codes.append(index)
        return torch.stack(codes, dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """Latents (B, dim, T) of codes (B, K, T): the sum of each stage's entries."""
        latents = F.embedding(codes[:, 0], self.codebooks[0])
        for k in range(1, codes.shape[1]):
            latents = latents + F.embedding(codes[:, k], self.codebooks[k])
        return latents.transpose(1, 2)
