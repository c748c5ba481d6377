"""Basic Pitch's network (Spotify, Apache-2.0; ICASSP 2022, "A Lightweight Instrument-Agnostic
Model for Polyphonic Note Transcription and Multipitch Estimation") written natively in PyTorch.

The layers follow the published model (``basic_pitch/models.py``) as its ``nmp.onnx`` computes
them, with the batch normalisations folded into the convolutions as they are in that file:

- a constant-Q transform (nnAudio's CQT2010v2): one octave of 36 complex kernels applied to the
  audio at 9 octaves of decreasing rate (a 256-tap low-pass filter and a stride of 2 between
  octaves), 309 bins (103 semitones, 3 bins each) from 27.5 Hz, a hop of 256 samples;
- its log power normalised to [0, 1] over each window, then a scale and shift (a batch norm);
- harmonic stacking: 8 copies shifted by the harmonics 0.5, 1, 2, …, 7, cut to 264 bins;
- the contour head (3×39 and 5×5 convolutions, 264 bins: 3 per semitone), the note head (on the
  contour, stride 3 to 88 semitones) and the onset head (on the stacked CQT and the notes).

Input: (batch, 43844) windows of 22050 Hz mono audio. Outputs: note and onset (batch, 172, 88),
contour (batch, 172, 264), each a probability.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_RATE = 22050
FFT_HOP = 256
WINDOW_SAMPLES = 2 * SAMPLE_RATE - FFT_HOP  # 43844: AUDIO_N_SAMPLES
WINDOW_FRAMES = 172  # frames the network gives for one window
FRAMES_PER_SECOND = SAMPLE_RATE // FFT_HOP  # 86: Basic Pitch's ANNOTATIONS_FPS (an integer, as it counts)
N_NOTES = 88  # piano keys from A0 (MIDI 21)
MIDI_OFFSET = 21
CONTOUR_BINS_PER_SEMITONE = 3
N_CONTOUR_BINS = N_NOTES * CONTOUR_BINS_PER_SEMITONE  # 264
CQT_BINS_PER_OCTAVE = 36
CQT_OCTAVES = 9
CQT_BINS = 309  # min(ceil(12 log2 8) + 88, floor(12 log2(11025 / 27.5))) = 103 semitones × 3
CQT_KERNEL = 256  # taps of the octave's kernels and of the low-pass filter
HARMONICS = (0.5, 1, 2, 3, 4, 5, 6, 7)
HARMONIC_SHIFTS = tuple(int(round(12 * CONTOUR_BINS_PER_SEMITONE * math.log2(h))) for h in HARMONICS)
LOG_FLOOR = 1e-10  # added to the power before the log, as NormalizedLog does

ASSET_DIR = Path(__file__).resolve().parents[3] / "assets" / "basic-pitch"

# name -> shape of every tensor model.safetensors holds (what scripts/convert_basic_pitch.py writes)
WEIGHT_SHAPES: dict[str, tuple[int, ...]] = {
    "cqt.kernel_real": (CQT_BINS_PER_OCTAVE, 1, CQT_KERNEL),
    "cqt.kernel_imag": (CQT_BINS_PER_OCTAVE, 1, CQT_KERNEL),
    "cqt.bias": (CQT_BINS_PER_OCTAVE,),
    "cqt.lowpass": (1, 1, CQT_KERNEL),
    "cqt.norm": (CQT_BINS,),
    "cqt_bn.scale": (1,),
    "cqt_bn.shift": (1,),
    "contour1.weight": (8, 8, 3, 39),
    "contour1.bias": (8,),
    "contour2.weight": (1, 8, 5, 5),
    "contour2.bias": (1,),
    "note1.weight": (32, 1, 7, 7),
    "note1.bias": (32,),
    "note2.weight": (1, 32, 7, 3),
    "note2.bias": (1,),
    "onset1.weight": (32, 8, 5, 5),
    "onset1.bias": (32,),
    "onset2.weight": (1, 33, 3, 3),
    "onset2.bias": (1,),
}


class CQT(nn.Module):
    """nnAudio's CQT2010v2 as Basic Pitch uses it: the top octave's kernels at hop 256, then the
    audio low-passed and halved for each lower octave (kernels at hop 128, 64, … 1); magnitudes of
    the lowest 309 of the 324 bins, scaled by ``norm`` (sqrt of each kernel's length)."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel_real = nn.Parameter(torch.empty(CQT_BINS_PER_OCTAVE, 1, CQT_KERNEL), requires_grad=False)
        self.kernel_imag = nn.Parameter(torch.empty(CQT_BINS_PER_OCTAVE, 1, CQT_KERNEL), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(CQT_BINS_PER_OCTAVE), requires_grad=False)
        self.lowpass = nn.Parameter(torch.empty(1, 1, CQT_KERNEL), requires_grad=False)
        self.norm = nn.Parameter(torch.empty(CQT_BINS), requires_grad=False)

    def forward(self, audio: Tensor) -> Tensor:
        """(B, samples) → (B, frames, 309) magnitudes."""
        x = audio.unsqueeze(1)  # (B, 1, n)
        kernels = torch.cat([self.kernel_real, self.kernel_imag])  # one conv for both parts
        bias = torch.cat([self.bias, self.bias])
        half = CQT_KERNEL // 2
        octaves = []
        hop = FFT_HOP
        for octave in range(CQT_OCTAVES):
            if octave:
                # anti-aliasing low-pass, zero-padded, stride 2
                x = F.conv1d(F.pad(x, (half - 1, half - 1)), self.lowpass, stride=2)
                hop //= 2
            y = F.conv1d(F.pad(x, (half, half), mode="reflect"), kernels, bias, stride=hop)
            octaves.append(y)  # (B, 72, frames): real then imaginary parts
        y = torch.cat(octaves[::-1], dim=1)  # lowest octave first: (B, 9 × 72, frames)
        b, _, t = y.shape
        y = y.view(b, CQT_OCTAVES, 2, CQT_BINS_PER_OCTAVE, t).transpose(1, 2).reshape(b, 2, -1, t)
        y = y[:, :, -CQT_BINS:] * self.norm.view(1, 1, -1, 1)
        magnitude = torch.sqrt(y[:, 0] ** 2 + y[:, 1] ** 2)  # (B, 309, frames)
        return magnitude.transpose(1, 2)


def normalized_log(magnitude: Tensor) -> Tensor:
    """Basic Pitch's NormalizedLog: power in dB, shifted and scaled to [0, 1] over each window."""
    db = torch.log(magnitude * magnitude + LOG_FLOOR) * (1 / math.log(10)) * 10.0
    db = db - db.amin(dim=(1, 2), keepdim=True)
    top = db.amax(dim=(1, 2), keepdim=True)
    return torch.where(top == 0, torch.zeros_like(db), db / torch.where(top == 0, torch.ones_like(top), top))


def harmonic_stack(x: Tensor) -> Tensor:
    """(B, T, F) → (B, 8, T, 264): the spectrum shifted down by each harmonic's interval (zeros
    where it runs out), so that bin f of channel h holds the energy at h × f."""
    channels = []
    for shift in HARMONIC_SHIFTS:
        if shift > 0:
            shifted = F.pad(x[:, :, shift:], (0, shift))
        elif shift < 0:
            shifted = F.pad(x[:, :, :shift], (-shift, 0))
        else:
            shifted = x
        channels.append(shifted[:, :, :N_CONTOUR_BINS])
    return torch.stack(channels, dim=1)


class BasicPitch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cqt = CQT()
        self.cqt_bn = nn.Module()
        self.cqt_bn.scale = nn.Parameter(torch.empty(1), requires_grad=False)
        self.cqt_bn.shift = nn.Parameter(torch.empty(1), requires_grad=False)
        # TensorFlow's "same" padding; every one here is symmetric
        self.contour1 = nn.Conv2d(8, 8, (3, 39), padding=(1, 19))
        self.contour2 = nn.Conv2d(8, 1, (5, 5), padding=(2, 2))
        self.note1 = nn.Conv2d(1, 32, (7, 7), stride=(1, 3), padding=(3, 2))
        self.note2 = nn.Conv2d(32, 1, (7, 3), padding=(3, 1))
        self.onset1 = nn.Conv2d(8, 32, (5, 5), stride=(1, 3), padding=(2, 1))
        self.onset2 = nn.Conv2d(33, 1, (3, 3), padding=(1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, audio: Tensor) -> dict[str, Tensor]:
        """(B, 43844) audio → {"note": (B, 172, 88), "onset": (B, 172, 88), "contour": (B, 172, 264)}."""
        x = normalized_log(self.cqt(audio)) * self.cqt_bn.scale + self.cqt_bn.shift
        x = harmonic_stack(x)  # (B, 8, T, 264)
        contour = torch.sigmoid(self.contour2(F.relu(self.contour1(x))))  # (B, 1, T, 264)
        note = torch.sigmoid(self.note2(F.relu(self.note1(contour))))  # (B, 1, T, 88)
        onset_features = F.relu(self.onset1(x))  # (B, 32, T, 88)
        onset = torch.sigmoid(self.onset2(torch.cat([note, onset_features], dim=1)))
        return {"note": note[:, 0], "onset": onset[:, 0], "contour": contour[:, 0]}


def load_model(path: str | Path | None = None, device: str | torch.device = "cpu") -> BasicPitch:
    """Basic Pitch from ``path`` (default: the shipped assets/basic-pitch/model.safetensors), in
    float32 (the parity with the published model is measured there). A missing, damaged or
    mismatched file is a one-line CheckpointError naming it."""
    from engine.models.common.checkpoints import assign_weights, check_state_dict, load_safetensors, on_meta

    path = Path(path) if path is not None else ASSET_DIR / "model.safetensors"
    tensors = load_safetensors(path)  # CheckpointError: missing, not a regular file, damaged, not float
    model = on_meta(BasicPitch)
    expected = {name: t.shape for name, t in model.state_dict().items()}
    check_state_dict(expected, tensors, str(path), "Basic Pitch's network (scripts/convert_basic_pitch.py writes it)")
    return assign_weights(model, tensors, str(path), device=device, dtype=torch.float32)
