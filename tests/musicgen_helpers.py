"""A tiny random MusicGen folder, as ``save_pretrained`` writes one, with a T5-like tokenizer.json:
what the pipeline, task, CLI and GUI tests load (real MusicGen weights cannot be fetched here).
The codec has the 32 kHz model's hop (640 samples, 50 frames a second) with tiny widths."""

from __future__ import annotations

from pathlib import Path

import torch
from t5_helpers import write_tokenizer

CODEBOOK = 64


CHROMA_LENGTH = 10  # a melody model's chroma rows (235 in the published one)


def tiny_musicgen(folder: Path, channels: int = 1, seed: int = 0, melody: bool = False):
    """Save a tiny MusicGen (``melody``: MusicGen melody) in ``folder``; returns transformers'
    model (eval, float32)."""
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(seed)
    text = transformers.T5Config(vocab_size=99, d_model=24, d_kv=8, d_ff=37, num_layers=2, num_heads=3)
    codec = transformers.EncodecConfig(
        sampling_rate=32000, audio_channels=1, codebook_size=CODEBOOK, hidden_size=8, num_filters=4,
        num_residual_layers=1, upsampling_ratios=[8, 5, 4, 4], codebook_dim=8, num_lstm_layers=1,
        target_bandwidths=[4 * 6 * 50 / 1000])  # 4 codebooks of 64 entries at 50 Hz
    decoder_class = transformers.MusicgenMelodyDecoderConfig if melody else transformers.MusicgenDecoderConfig
    decoder = decoder_class(
        vocab_size=CODEBOOK, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
        max_position_embeddings=256, num_codebooks=4 * channels, audio_channels=channels,
        pad_token_id=CODEBOOK, bos_token_id=CODEBOOK, decoder_start_token_id=CODEBOOK)
    parts = dict(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict())
    if melody:
        config = transformers.MusicgenMelodyConfig(**parts, chroma_length=CHROMA_LENGTH)
        model = transformers.MusicgenMelodyForConditionalGeneration(config).eval()
    else:
        model = transformers.MusicgenForConditionalGeneration(transformers.MusicgenConfig(**parts)).eval()
    with torch.no_grad():  # away from the initialisation: sharper attention, codes that differ
        g = torch.Generator().manual_seed(seed)
        for name, p in model.named_parameters():
            if p.dim() > 1 and not name.startswith("audio_encoder."):  # the text must matter too
                p.add_(torch.randn(p.shape, generator=g) * (0.5 if "encoder_attn" in name or "proj" in name else 0.2))
        for name, buffer in model.audio_encoder.named_buffers():
            if name.endswith("codebook.embed"):  # transformers starts them at zero: every code would sound alike
                buffer.copy_(torch.randn(buffer.shape, generator=g))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    write_tokenizer(folder / "tokenizer.json")
    return model


def reference_codes(ref, channels: int, **kwargs) -> torch.Tensor:
    """The codes transformers' ``generate`` hands to EnCodec (B, K, frames), channels interleaved:
    the reference for our generation (its ``decode`` is replaced by a recorder)."""
    import types

    calls = []

    def decode(codes, audio_scales=None, **_):
        calls.append(codes[0].clone())
        return types.SimpleNamespace(audio_values=torch.zeros(1, 1, 1))

    ref.audio_encoder.decode = decode
    with torch.no_grad():
        ref.generate(**kwargs)
    if channels == 1:
        return calls[0]
    left, right = calls
    return torch.stack([left, right], dim=2).flatten(1, 2)
