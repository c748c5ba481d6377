"""Text (and optionally audio) to music with a MusicGen folder: T5 reads the prompt, the language
model samples EnCodec codes with classifier-free guidance, EnCodec turns them into audio.

A Hugging Face MusicGen folder (``facebook/musicgen-small`` and the like) holds all three in one
checkpoint: ``text_encoder.*`` (T5), ``audio_encoder.*`` (EnCodec 32 kHz), ``decoder.*`` and
``enc_to_dec_proj.*`` (the language model), with config.json's sections to match and T5's
tokenizer.json beside them. Each part is read by its own loader, which takes its tensors out of
the one dictionary; anything left over is not part of a MusicGen model.

Longer than the 30 s the models were trained on: the piece is made in windows the way audiocraft
extends one: each new window is prompted with the last 20 s of codes and adds 10 s
(``options.STRIDE_SECONDS``), up to 5 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.models.common.checkpoints import HF_WEIGHT_FILES, read_hf_weights, read_json
from engine.models.common.errors import CheckpointError, first_few
from engine.models.encodec.loading import build_encodec
from engine.models.musicgen.audiocraft import is_audiocraft_folder, read_audiocraft_lm
from engine.models.musicgen.chroma import MAX_SECONDS as MAX_CHROMA_SECONDS
from engine.models.musicgen.chroma import chroma_features
from engine.models.musicgen.generate import generate
from engine.models.musicgen.loading import build_musicgen_lm
from engine.models.musicgen.melody import MODEL_TYPE as MELODY_TYPE
from engine.models.musicgen.melody import MelodyConfig, build_melody_lm, generate_melody
from engine.models.musicgen.options import STRIDE_SECONDS, WINDOW_SECONDS
from engine.models.t5.loading import build_t5_encoder, load_t5_encoder
from engine.models.t5.tokenizer import T5Tokenizer


def model_name(folder: Path) -> str:
    """``facebook/musicgen-small`` for a Hugging Face cache snapshot, else the folder's name."""
    parts = folder.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].removeprefix("models--").replace("--", "/")
    return folder.name


CONTINUE_SECONDS = WINDOW_SECONDS - STRIDE_SECONDS  # of audio to continue, the last this many seconds are used
MELODY_MARGIN_SECONDS = 1.0  # read past the last sample used: the resampler's filter reaches a little beyond it


def melody_seconds(seconds: float) -> float:
    """How much of a melody reference, from its start, ``MusicGen.generate`` uses for ``seconds``
    of music (with ``MELODY_MARGIN_SECONDS``): the first window's chromagram covers at most
    ``chroma.MAX_SECONDS``, each later window ``WINDOW_SECONDS`` from its start (before
    ``seconds``). A reference longer than this is never wrapped around, so the rest need not be read."""
    used = MAX_CHROMA_SECONDS if seconds <= WINDOW_SECONDS else seconds + WINDOW_SECONDS
    return max(used, MAX_CHROMA_SECONDS) + MELODY_MARGIN_SECONDS


HF_TYPES = ("musicgen", MELODY_TYPE)
T5_SUBFOLDER = "t5"  # beside an audiocraft checkpoint: the T5 it was trained with (audiocraft fetches t5-base)


def detect_folder(folder: Path) -> str:
    """``"huggingface"`` for a Hugging Face MusicGen folder (config.json of model_type musicgen or
    musicgen_melody, tokenizer.json and weights), ``"audiocraft"`` for audiocraft's
    state_dict.bin + compression_state_dict.bin; a CheckpointError saying what is missing
    otherwise. Reads no weights."""
    folder = Path(folder)
    if is_audiocraft_folder(folder):
        return "audiocraft"
    config = read_json(folder / "config.json")
    if config.get("model_type") not in HF_TYPES:
        raise CheckpointError(f"{folder} holds a {config.get('model_type')!r} model, not MusicGen")
    if not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"{folder} is not a complete MusicGen folder: tokenizer.json is missing")
    if not any((folder / n).is_file() for n in HF_WEIGHT_FILES):
        raise CheckpointError(f"{folder} is not a complete MusicGen folder: it has no weights")
    return "huggingface"


def is_melody_folder(folder: Path | str) -> bool:
    """Whether a MusicGen folder holds the melody model (reads config.json only)."""
    try:
        return read_json(Path(folder) / "config.json").get("model_type") == MELODY_TYPE
    except CheckpointError:
        return False


class MusicGen:
    """A MusicGen folder loaded: tokenizer, T5, the language model and EnCodec, on one device."""

    def __init__(self, folder: Path | str, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, t5_folder: Path | str | None = None,
                 encodec_folder: Path | str | None = None) -> None:
        """``t5_folder`` and ``encodec_folder`` serve audiocraft checkpoints only, which hold neither
        the T5 (default: a ``t5`` folder beside the checkpoint) nor, sometimes, the codec."""
        folder = Path(folder)
        if detect_folder(folder) == "audiocraft":
            self._load_audiocraft(folder, device, dtype, t5_folder or folder / T5_SUBFOLDER, encodec_folder)
        else:
            self._load_huggingface(folder, device, dtype)
        self.melody = isinstance(self.lm.config, MelodyConfig)
        self.name = model_name(folder)
        self.path = folder
        self.channels = self.lm.config.audio_channels
        self.sample_rate = self.codec.config.sampling_rate
        self.frame_rate = self.codec.config.frame_rate
        if self.lm.config.num_codebooks != self.channels * self.codec.config.num_codebooks:
            raise CheckpointError(f"{folder}: the decoder predicts {self.lm.config.num_codebooks} codebooks but "
                                  f"the codec gives {self.codec.config.num_codebooks} per channel "
                                  f"x {self.channels} channel(s)")

    def _load_huggingface(self, folder: Path, device, dtype) -> None:
        config_path = folder / "config.json"
        config = read_json(config_path)
        weights, source = read_hf_weights(folder)
        self.tokenizer = T5Tokenizer.from_file(folder / "tokenizer.json")
        build = build_melody_lm if config.get("model_type") == MELODY_TYPE else build_musicgen_lm
        self.lm = build(config, weights, source, device, dtype, config_source=str(config_path))
        for section in ("text_encoder", "audio_encoder"):
            if not isinstance(config.get(section), dict):
                raise CheckpointError(f"{config_path} has no {section} section; expected a MusicGen config.json")
        self.text_encoder = build_t5_encoder(config["text_encoder"], weights, source, device, dtype,
                                             prefix="text_encoder.", config_source=str(config_path))
        self.codec = build_encodec(config["audio_encoder"], weights, source, device, dtype,
                                   prefix="audio_encoder.", config_source=str(config_path))
        if weights:
            raise CheckpointError(f"{source} holds {len(weights)} tensors that are not part of a MusicGen model: "
                                  f"{first_few(sorted(weights), 5)}")

    def _load_audiocraft(self, folder: Path, device, dtype, t5_folder: Path, encodec_folder) -> None:
        config, weights = read_audiocraft_lm(folder, t5_folder if Path(t5_folder).is_dir() else None, encodec_folder)
        sources = config["_sources"]
        self.lm = build_musicgen_lm(config, weights, sources["decoder"], device, dtype,
                                    config_source=f"{sources['decoder']} (xp.cfg)")
        self.codec = build_encodec(config["audio_encoder"], weights, sources["audio_encoder"], device, dtype,
                                   prefix="audio_encoder.", config_source=sources["audio_encoder"])
        self.text_encoder, tokenizer = load_t5_encoder(t5_folder, device, dtype)
        if tokenizer is None:
            raise CheckpointError(f"{t5_folder} has no tokenizer.json (T5's, which turns the prompt into tokens)")
        self.tokenizer = tokenizer

    @property
    def device(self) -> torch.device:
        return self.lm.device

    def parameters(self):
        """Every tensor of the three parts (the model registry counts their bytes)."""
        for part in (self.lm, self.text_encoder, self.codec):
            yield from part.parameters()

    def modules(self):
        for part in (self.lm, self.text_encoder, self.codec):
            yield from part.modules()

    def buffers(self):
        for part in (self.lm, self.text_encoder, self.codec):
            yield from part.buffers()

    # -- audio <-> codes -------------------------------------------------------------------------
    @torch.inference_mode()
    def encode_audio(self, audio: np.ndarray, sample_rate: int) -> Tensor:
        """Codes (1, K, T) of ``audio`` (channels, samples): resampled to the codec's rate, mixed to
        mono or spread to stereo as the model needs; a stereo model's codebooks interleaved."""
        import torchaudio

        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32))
        if wave.ndim == 1:
            wave = wave[None]
        if sample_rate != self.sample_rate:
            wave = torchaudio.functional.resample(wave, sample_rate, self.sample_rate)
        wave = wave.mean(0, keepdim=True) if self.channels == 1 else wave[:2].expand(2, -1) if wave.shape[0] == 1 \
            else wave[:2]
        if self.channels == 1:
            return self.codec.encode(wave[None])
        left, right = self.codec.encode(wave[None, :1]), self.codec.encode(wave[None, 1:])
        return torch.stack([left, right], dim=2).flatten(1, 2)  # (1, K, T): left, right, left, ...

    @torch.inference_mode()
    def decode_codes(self, codes: Tensor) -> np.ndarray:
        """Audio (B, channels, N) float32 of codes (B, K, T)."""
        if self.channels == 1:
            audio = self.codec.decode(codes)
        else:
            audio = torch.cat([self.codec.decode(codes[:, 0::2]), self.codec.decode(codes[:, 1::2])], dim=1)
        return audio.float().cpu().numpy()

    # -- generation ------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prompts: list[str], seconds: float, guidance: float = 3.0, temperature: float = 1.0,
                 top_k: int = 250, top_p: float = 0.0, seed: int | None = None,
                 continuation: tuple[np.ndarray, int] | None = None,
                 melody: tuple[np.ndarray, int] | None = None,
                 progress: Callable[[float], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Audio (len(prompts), channels, N) at ``sample_rate``: ``seconds`` of new music per prompt,
        after the audio of ``continuation`` (samples (channels, N), its rate) when one is given (the
        result then starts with that audio as the codec hears it). ``melody`` (samples, rate) is
        the tune a melody model follows: its chromagram, from each window's start, wrapped around."""
        if melody is not None and not self.melody:
            raise ValueError(f"{self.name} does not take a melody: that needs a melody model (musicgen-melody)")
        ids, mask = self.tokenizer.encode(list(prompts))
        device = self.device
        states = self.text_encoder(ids.to(device), mask.to(device))
        empty = torch.tensor([not p.strip() for p in prompts], device=device)
        if empty.any():  # no prompt: no text at all, the unconditional branch's input (transformers' too)
            states = states.masked_fill(empty[:, None, None], 0.0)
            mask = mask.to(device).masked_fill(empty[:, None], 0)
        batch = len(prompts)
        wanted = max(1, round(seconds * self.frame_rate))
        window = round(WINDOW_SECONDS * self.frame_rate)
        keep = window - round(STRIDE_SECONDS * self.frame_rate)  # the next window's prompt
        prompt = None
        pieces = []
        if continuation is not None:
            prompt = self.encode_audio(*continuation).expand(batch, -1, -1)[..., -keep:]
            pieces.append(prompt)
        made, window_index = 0, 0
        while made < wanted:
            given = 0 if prompt is None else prompt.shape[-1]
            steps = min(wanted - made, window - given)
            done_before = made

            def report(fraction: float, done_before=done_before, steps=steps) -> None:
                if progress is not None:
                    progress((done_before + fraction * steps) / wanted)

            window_seed = None if seed is None else seed + window_index
            if self.melody:
                chroma = None if melody is None else self._chroma(melody, made / self.frame_rate)
                new = generate_melody(self.lm, states, mask, chroma, steps, guidance, temperature, top_k, top_p,
                                      seed=window_seed, progress=report, should_stop=should_stop,
                                      prompt_codes=prompt)
            else:
                new = generate(self.lm, states, mask, steps, guidance, temperature, top_k, top_p,
                               seed=window_seed, prompt_codes=prompt, progress=report, should_stop=should_stop)
            pieces.append(new)
            made += steps
            window_index += 1
            whole = new if prompt is None else torch.cat([prompt, new], dim=-1)
            prompt = whole[..., -keep:]
        return self.decode_codes(torch.cat(pieces, dim=-1))

    def _chroma(self, melody: tuple[np.ndarray, int], start_s: float) -> Tensor:
        """The melody's chromagram for a window starting ``start_s`` into the piece: the reference
        from that point on, wrapped around to the window's length (audiocraft's way)."""
        audio, rate = melody
        audio = np.asarray(audio, dtype=np.float32)
        audio = audio[None] if audio.ndim == 1 else audio
        if start_s > 0:
            n = audio.shape[-1]
            audio = audio[:, (round(start_s * rate) + np.arange(round(WINDOW_SECONDS * rate))) % n]
        return chroma_features(audio, rate).to(self.device)
