"""EnCodec (Défossez et al. 2022), the neural audio codec MusicGen writes its music in, for inference.

Encoder (SEANet): a convolution, then per downsampling ratio (the config's ``upsampling_ratios``
reversed) residual units and a strided convolution doubling the channels, then a 2-layer LSTM
with a skip connection, ELU and a convolution down to ``hidden_size``. The residual vector
quantiser (``quantizer.py``) turns each frame into one code per codebook. The decoder mirrors the
encoder with transposed convolutions. Every convolution pads its input itself so that a frame
covers exactly ``stride`` samples: ``encode`` gives ceil(N / hop) frames, ``decode`` hop samples
per frame. Sizes and supported variants: ``config.py``.

The convolutions run piece by piece: the encoder's before its LSTM, the decoder's after it. They
see only a few frames around each output (``reach``), so pieces of ``PIECE_SAMPLES`` with that many
frames of margin on each side give what the whole would (to float rounding) while the activations
stay small: 64 channels of 5 minutes at 32 kHz would be 2.5 GB per tensor, a piece's are 16 MB and
stay in the CPU's cache (decoding 10 s for musicgen-small: 0.89 s in pieces against 1.45 s whole;
60 s: 0.3 GB of peak memory against 2.2 GB; 2 threads). A time group norm sees the whole signal
at once: with one, nothing is cut.

Parameter names are transformers' (``EncodecModel``), except that weight norm is folded into a
plain ``conv.weight`` at load time (``loading.py``) and the codebooks are ``quantizer.codebooks.N``.
Stereo MusicGen encodes each channel with this same mono codec: that is the caller's business.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.encodec.config import EncodecConfig
from engine.models.encodec.quantizer import ResidualVectorQuantizer

PIECE_SAMPLES = 64_000  # audio samples through the convolutions at a time (2 s at 32 kHz)


def pad1d(x: Tensor, left: int, right: int, mode: str) -> Tensor:
    """``F.pad`` along time; reflection of an input no longer than the pad (which ``F.pad``
    refuses) reflects it with zeros appended, which are cut again, as the published model does."""
    length = x.shape[-1]
    if mode == "reflect" and length <= max(left, right):
        x = F.pad(x, (0, max(left, right) - length + 1))
        return F.pad(x, (left, right), mode)[..., :left + length + right]
    return F.pad(x, (left, right), mode)


class Conv1d(nn.Module):
    """A convolution whose output has ceil(length / stride) frames: the samples the last stride
    lacks are padded on the right; the kernel's reach beyond the stride all on the left when
    causal, else split (the odd sample on the left). Then the time group norm, if any."""

    def __init__(self, config: EncodecConfig, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation)
        self.norm = nn.GroupNorm(1, out_channels) if config.norm_type == "time_group_norm" else None
        self.causal, self.pad_mode, self.stride = config.use_causal_conv, config.pad_mode, stride
        self.reach = (kernel_size - 1) * dilation + 1 - stride

    def forward(self, x: Tensor) -> Tensor:
        missing = -x.shape[-1] % self.stride
        right = 0 if self.causal else self.reach // 2
        x = self.conv(pad1d(x, self.reach - right, right + missing, self.pad_mode))
        return x if self.norm is None else self.norm(x)


class ConvTranspose1d(nn.Module):
    """A transposed convolution trimmed back to ``stride`` samples per input frame: all of the
    overlap (``kernel - stride``) on the right when causal (or ``trim_right_ratio`` of it), else
    split with the odd sample on the left."""

    def __init__(self, config: EncodecConfig, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride)
        self.norm = nn.GroupNorm(1, out_channels) if config.norm_type == "time_group_norm" else None
        overlap = kernel_size - stride
        causal_right = math.ceil(overlap * config.trim_right_ratio)
        self.right = causal_right if config.use_causal_conv else overlap // 2
        self.left = overlap - self.right

    def forward(self, x: Tensor) -> Tensor:
        c = self.conv
        stride, kernel = c.stride[0], c.kernel_size[0]
        if x.device.type != "cpu" or kernel % stride:  # (measured on a CPU only)
            x = c(x)
        else:
            x = transposed_by_matmul(x, c.weight, c.bias, stride)
        if self.norm is not None:
            x = self.norm(x)
        return x[..., self.left:x.shape[-1] - self.right]


def transposed_by_matmul(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int) -> Tensor:
    """``F.conv_transpose1d(x, weight, bias, stride)`` for a kernel of whole strides (EnCodec's are
    two): one matrix product gives each input frame's kernel-long stretch of output, then the
    stretches that overlap are added. On a CPU torch's own took 1.3-2 times as long for each of
    musicgen-small's four (10 s of audio, 2 threads; the whole decode: 0.90 s against 0.93 s)."""
    b, cin, t = x.shape
    cout, kernel = weight.shape[1], weight.shape[2]
    m = kernel // stride  # the strides a kernel spans: each output sample sums m input frames
    w = weight.reshape(cin, cout * kernel).t()
    # row by row: torch.matmul of this 2-D by 3-D would transpose its result once more
    z = (w @ x[0])[None] if b == 1 else torch.stack([w @ row for row in x])
    z = z.view(b, cout, m, stride, t)
    y = z.new_empty(b, cout, t + m - 1, stride)
    y[:, :, :t] = z[:, :, 0].transpose(-1, -2)
    y[:, :, t:] = 0
    for i in range(1, m):
        y[:, :, i:i + t] += z[:, :, i].transpose(-1, -2)
    y = y.view(b, cout, (t + m - 1) * stride)
    return y if bias is None else y.add_(bias[:, None])


class ResidualUnit(nn.Module):
    """ELU, dilated convolution to ``dim // compress`` channels, ELU, 1x1 convolution back, added
    to the input (through a 1x1 convolution when ``use_conv_shortcut``)."""

    def __init__(self, config: EncodecConfig, dim: int, dilation: int) -> None:
        super().__init__()
        hidden = dim // config.compress
        self.block = nn.Sequential(
            nn.ELU(), Conv1d(config, dim, hidden, config.residual_kernel_size, dilation=dilation),
            nn.ELU(), Conv1d(config, hidden, dim, 1))
        self.shortcut = Conv1d(config, dim, dim, 1) if config.use_conv_shortcut else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.block(x)


class LSTM(nn.Module):
    """A stacked LSTM over time, added to its input; (B, C, T) in and out."""

    def __init__(self, config: EncodecConfig, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, config.num_lstm_layers)

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(2, 0, 1)
        return (self.lstm(x)[0] + x).permute(1, 2, 0)


def reach(layers: list[nn.Module]) -> int:
    """How many input steps on each side of a position can change the output of ``layers`` there
    (an upper bound: a transposed convolution's input step covers ``stride`` outputs, a
    convolution's output step reads its kernel's span)."""
    r = 0
    for layer in reversed(layers):
        if isinstance(layer, ConvTranspose1d):
            stride, kernel = layer.conv.stride[0], layer.conv.kernel_size[0]
            r = math.ceil(r / stride) + math.ceil(kernel / stride)
        elif isinstance(layer, Conv1d):
            c = layer.conv
            r = r * c.stride[0] + (c.kernel_size[0] - 1) * c.dilation[0]
        elif isinstance(layer, ResidualUnit):
            r += max(reach(list(layer.block)), reach([layer.shortcut]))
        elif not isinstance(layer, (nn.ELU, nn.Identity)):
            raise TypeError(f"no reach known for {type(layer).__name__}")
    return r


class Seanet(nn.Module):
    """A chain of layers under the checkpoint's name ``layers.N``."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def encoder_layers(config: EncodecConfig) -> list[nn.Module]:
    c, width = config, config.num_filters
    layers: list[nn.Module] = [Conv1d(c, c.audio_channels, width, c.kernel_size)]
    for ratio in reversed(c.upsampling_ratios):
        layers += [ResidualUnit(c, width, c.dilation_growth_rate ** j) for j in range(c.num_residual_layers)]
        layers += [nn.ELU(), Conv1d(c, width, 2 * width, 2 * ratio, stride=ratio)]
        width *= 2
    return layers + [LSTM(c, width), nn.ELU(), Conv1d(c, width, c.hidden_size, c.last_kernel_size)]


def decoder_layers(config: EncodecConfig) -> list[nn.Module]:
    c, width = config, config.widest
    layers: list[nn.Module] = [Conv1d(c, c.hidden_size, width, c.kernel_size), LSTM(c, width)]
    for ratio in c.upsampling_ratios:
        layers += [nn.ELU(), ConvTranspose1d(c, width, width // 2, 2 * ratio, stride=ratio)]
        width //= 2
        layers += [ResidualUnit(c, width, c.dilation_growth_rate ** j) for j in range(c.num_residual_layers)]
    return layers + [nn.ELU(), Conv1d(c, width, c.audio_channels, c.last_kernel_size)]


class Encodec(nn.Module):
    def __init__(self, config: EncodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Seanet(encoder_layers(config))
        self.decoder = Seanet(decoder_layers(config))
        self.quantizer = ResidualVectorQuantizer(config.num_quantizers, config.codebook_size, config.hidden_size)

    @torch.no_grad()
    def encode(self, audio: Tensor, bandwidth: float | None = None) -> Tensor:
        """Codes (B, K, ceil(N / hop)) of audio (B, audio_channels, N) at ``config.sampling_rate``.

        ``bandwidth`` (kbps) is one of ``config.target_bandwidths``, by default the first; K is
        ``config.codebooks_for(bandwidth)`` (all 4 for the 32 kHz model). The audio is moved to
        the model's device and dtype; the codes are int64 on the model's device.
        """
        c = self.config
        if audio.dim() != 3 or audio.shape[1] != c.audio_channels or audio.shape[2] == 0:
            raise ValueError(f"EnCodec encodes audio shaped (batch, {c.audio_channels} channel(s), samples), "
                             f"got {tuple(audio.shape)}")
        bandwidth = c.target_bandwidths[0] if bandwidth is None else bandwidth
        if bandwidth not in c.target_bandwidths:
            raise ValueError(f"this EnCodec encodes at {list(c.target_bandwidths)} kbps, not {bandwidth}")
        reference = self.quantizer.codebooks[0]
        audio = audio.to(device=reference.device, dtype=reference.dtype)
        layers = self.encoder.layers
        split = _lstm_index(layers)
        convolutions, rest = layers[:split], layers[split:]
        hop, samples = c.hop_length, audio.shape[-1]
        frames = math.ceil(samples / hop)
        margin = math.ceil(reach(list(convolutions)) / hop)  # in frames; pieces start on a frame
        x = torch.cat([convolutions(audio[..., a * hop:b * hop])[..., start - a:end - a]
                       for start, end, a, b in self._pieces(frames, margin)], dim=-1)
        return self.quantizer.encode(rest(x), c.codebooks_for(bandwidth))

    def _pieces(self, frames: int, margin: int) -> list[tuple[int, int, int, int]]:
        """(start, end, a, b) frames: each piece [start, end) of ``PIECE_SAMPLES``, computed from
        [a, b), ``margin`` frames wider on each side where there are any. One piece for all of it
        with a time group norm, or when it is no longer than a piece."""
        piece = max(1, PIECE_SAMPLES // self.config.hop_length)
        if self.config.norm_type == "time_group_norm" or frames <= piece:
            return [(0, frames, 0, frames)]
        return [(start, min(start + piece, frames), max(0, start - margin), min(frames, start + piece + margin))
                for start in range(0, frames, piece)]

    @torch.no_grad()
    def decode(self, codes: Tensor) -> Tensor:
        """Audio (B, audio_channels, T * hop) of codes (B, K, T), K from 1 to ``num_quantizers``
        (the first K codebooks), each code below ``codebook_size``."""
        c = self.config
        if codes.dim() != 3 or not 1 <= codes.shape[1] <= c.num_quantizers or codes.shape[2] == 0:
            raise ValueError(f"EnCodec decodes codes shaped (batch, 1 to {c.num_quantizers} codebooks, frames), "
                             f"got {tuple(codes.shape)}")
        if codes.is_floating_point() or codes.is_complex():
            raise ValueError(f"EnCodec decodes integer codes, got {codes.dtype}")
        if codes.numel() and (codes.min() < 0 or codes.max() >= c.codebook_size):
            raise ValueError(f"EnCodec codes run from 0 to {c.codebook_size - 1}, got {codes.min().item()} "
                             f"to {codes.max().item()}")
        codes = codes.to(device=self.quantizer.codebooks[0].device, dtype=torch.long)
        return self._decode_latents(self.quantizer.decode(codes))

    def _decode_latents(self, latents: Tensor) -> Tensor:
        """The decoder: its first convolution and LSTM whole, the rest in pieces."""
        layers = self.decoder.layers
        split = _lstm_index(layers) + 1
        x = layers[:split](latents)
        convolutions, hop = layers[split:], self.config.hop_length
        margin = reach(list(convolutions))  # frames, as the input here is
        return torch.cat([convolutions(x[..., a:b])[..., (start - a) * hop:(end - a) * hop]
                          for start, end, a, b in self._pieces(x.shape[-1], margin)], dim=-1)


def _lstm_index(layers: nn.Sequential) -> int:
    return next(i for i, layer in enumerate(layers) if isinstance(layer, LSTM))
