"""SwiftF0's network (Lars Nieradzik, MIT), written in PyTorch from its published ONNX graph.

Audio at 16 kHz → one pitch and one voicing confidence per 256-sample hop (16 ms), frame ``t``
centred on sample ``256 t``; ``max(samples // 256, 1)`` frames.

Front end: three STFTs (n_fft 1024, 2048 and 512, periodic Hann windows, hop 256, the signal
zero-padded by half a window each side and its end up to a whole hop) whose magnitudes go
through three fixed log-frequency filterbanks of 128 bands each, ``log(. + 1e-8)``: a
(3, 128, frames) image. The ONNX graph computes each DFT as two matrix products (a
Cooley-Tukey split); an FFT gives the same spectrum.

Body: a 3→12 channel 3×3 convolution, then six residual blocks (two convolutions each,
``x + conv(relu(conv(x)))`` then ReLU) whose kernels run mostly along frequency with growing
dilation (17, 27, 40, 48: harmonic distances in bands), padded to keep the shape.

Heads: the lowest 96 bands → a 12→4 3×3 convolution (no padding below the band axis: 95 bands
out), ReLU → (a) a 1×1 convolution to one logit per band: 95 pitch logits, log-spaced between
46.875 and 2093.75 Hz; (b) a 5×1 convolution whose per-frame maximum over bands, with the
spectrogram's mean, feeds a small 1-D convolution net → the voicing logit.

Decoding (as in the graph): the best logit within [fmin, fmax], a softmax over it and its two
neighbours (float64) weighting the bands' log frequencies → pitch = exp(weighted mean). The
confidence is sigmoid(voicing logit), zeroed when the best band over the whole range lies
outside [fmin, fmax].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_RATE = 16000
HOP = 256
FMIN = 46.875
FMAX = 2093.75
N_BINS = 95  # pitch bands, log-spaced from FMIN to FMAX
N_BANDS = 128  # filterbank bands of each spectrogram
N_FFTS = (1024, 2048, 512)  # the image's three channels, in the graph's order
CHANNELS = 12
HEAD_BANDS = 96  # the heads read the lowest 96 bands
# (kernel over bands, kernel over time, dilation over bands) of the six residual blocks
BLOCKS = ((7, 3, 1), (7, 1, 17), (5, 1, 27), (3, 1, 40), (3, 1, 48), (7, 3, 2))
# frames either side that reach one output frame: 6 convolutions of time kernel 3, the 1-D voicing
# convolution of kernel 3, and half the longest window (1024 samples = 4 hops)
RECEPTIVE_FRAMES = 7 + 4


def frame_count(samples: int) -> int:
    """Frames the model gives for ``samples`` samples at 16 kHz."""
    return max(samples // HOP, 1)


class Frontend(nn.Module):
    """Three log-magnitude spectrograms on fixed filterbanks, stacked: (B, N) → (B, 3, 128, frames)."""

    def __init__(self) -> None:
        super().__init__()
        for n_fft in N_FFTS:
            self.register_buffer(f"window_{n_fft}", torch.empty(n_fft))
            self.register_buffer(f"filters_{n_fft}", torch.empty(n_fft // 2 + 1, N_BANDS))

    def forward(self, audio: Tensor) -> Tensor:
        samples = audio.shape[-1]
        frames = frame_count(samples)
        padded = max(samples, HOP)
        padded = -(-padded // HOP) * HOP  # up to a whole hop
        x = F.pad(audio, (0, padded - samples))
        images = []
        for n_fft in N_FFTS:
            half = n_fft // 2
            framed = F.pad(x, (half, half)).unfold(-1, n_fft, HOP)[..., :frames, :]
            spectrum = torch.fft.rfft(framed * getattr(self, f"window_{n_fft}"), dim=-1)
            magnitude = torch.sqrt(spectrum.real.square() + spectrum.imag.square())
            bands = torch.log(magnitude @ getattr(self, f"filters_{n_fft}") + 1e-8)  # (B, frames, 128)
            images.append(bands.transpose(-1, -2))
        return torch.stack(images, dim=1)


class Block(nn.Module):
    """``relu(x + conv2(relu(conv1(x))))``, both convolutions shape-preserving."""

    def __init__(self, k_bands: int, k_time: int, dilation: int) -> None:
        super().__init__()
        pad = (dilation * (k_bands - 1) // 2, (k_time - 1) // 2)
        self.conv1 = nn.Conv2d(CHANNELS, CHANNELS, (k_bands, k_time), padding=pad, dilation=(dilation, 1))
        self.conv2 = nn.Conv2d(CHANNELS, CHANNELS, (k_bands, k_time), padding=pad, dilation=(dilation, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class SwiftF0Net(nn.Module):
    """(B, samples) at 16 kHz → (pitch Hz float64 (B, frames), confidence (B, frames))."""

    def __init__(self) -> None:
        super().__init__()
        self.frontend = Frontend()
        self.stem = nn.Conv2d(3, CHANNELS, 3, padding=1)
        self.blocks = nn.ModuleList(Block(*spec) for spec in BLOCKS)
        self.head = nn.Conv2d(CHANNELS, 4, 3)  # padded by hand: one band below, none above, a frame each side
        self.refine = nn.Conv2d(4, 4, (5, 1), padding=(2, 0))
        self.logits = nn.Conv2d(4, 1, 1)
        self.voicing = nn.Conv1d(5, 16, 3, padding=1)
        self.voicing_out = nn.Conv1d(16, 1, 1)
        self.register_buffer("bin_hz", torch.empty(N_BINS))  # the pitch bands' centres

    def features(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """(pitch logits (B, frames, 95), voicing logit (B, frames))."""
        image = self.frontend(audio)
        x = F.relu(self.stem(image))
        for block in self.blocks:
            x = block(x)
        h = F.relu(self.head(F.pad(x[:, :, :HEAD_BANDS], (1, 1, 1, 0))))  # (B, 4, 95, T)
        logits = self.logits(h)[:, 0].transpose(1, 2)  # (B, T, 95)
        peak = self.refine(h).amax(dim=2)  # (B, 4, T)
        level = image.mean(dim=(1, 2))[:, None]  # (B, 1, T)
        voicing = self.voicing_out(F.relu(self.voicing(torch.cat([peak, level], dim=1))))[:, 0]
        return logits, voicing

    def forward(self, audio: Tensor, fmin: float = FMIN, fmax: float = FMAX) -> tuple[Tensor, Tensor]:
        logits, voicing = self.features(audio)
        bins = self.bin_hz.float()
        allowed = (bins >= fmin) & (bins <= fmax)
        masked = logits.masked_fill(~allowed, -math.inf)
        best = masked.argmax(dim=-1, keepdim=True)  # (B, T, 1)
        around = best + torch.tensor([-1, 0, 1], device=best.device)  # (B, T, 3)
        edged = F.pad(masked, (1, 1), value=-math.inf)
        weights = torch.softmax(edged.gather(-1, around + 1).double(), dim=-1)
        log_hz = torch.log(bins.double())[around.clamp(0, N_BINS - 1)]
        pitch = torch.exp((weights * log_hz).sum(-1))
        inside = allowed[logits.argmax(dim=-1)]
        confidence = torch.where(inside, torch.sigmoid(voicing), torch.zeros((), dtype=voicing.dtype,
                                                                             device=voicing.device))
        return pitch, confidence
