"""int8 compute on the CPU: every linear layer, and the logits, as dynamically quantized int8.

``quantize_int8(model)`` replaces each ``nn.Linear`` of a float32 CPU model (attention
projections, MLPs, in the encoder and the decoder) with ``Int8Linear`` and gives the decoder an
int8 output projection for its logits (the matmul with the tied token embedding, 51864 x 384 for
the English models: the biggest matmul of a decoding step). The token embedding itself stays
float32 for the lookup of input tokens; attention, layer norms and convolutions stay float32.
Whatever format the checkpoint was in (Hugging Face float32/float16, CTranslate2 float16 or
int8), it is loaded as float32 first and quantized here, so the compute type never depends on
the file.

Why dynamic int8 (int8 weights, activations quantized on each call, int32 accumulation),
measured on a 2-core Xeon with AVX512-VNNI and AMX, tiny.en shapes (float32 -> int8, ms, one
thread):

- logits, 40 hypotheses x 384 -> 51864: 17.8 -> 1.5 (float32 reads 80 MB of weights per step;
  int8 reads a quarter of it);
- encoder MLP, 1500 positions x 384 -> 1536: 9.2 -> 1.4 (oneDNN's int8 kernels use AMX);
- weight-only int8 (``torch.ops.aten._weight_int8pack_mm``: int8 weights, float activations)
  was far slower with float32 activations (90 ms for the logits, 340 ms for the MLP: no
  optimised kernel) and only matched dynamic int8 with bfloat16 activations, which would change
  every other number of the model too.

The kernels are torch's own quantized ops (``quantized::linear_prepack`` /
``quantized::linear_dynamic``), called directly rather than through the deprecated
``torch.ao.quantization.quantize_dynamic`` (no DeprecationWarning to silence): that lets
activations use the full 8-bit range (``reduce_range=False``, half the error) where the backend
accumulates exactly. The backend is chosen when the weights are packed (``int8_backend``): on
CPUs with VNNI or AMX (exact u8 x s8 dot products), oneDNN for the layers that see many rows
(encoder, logits, the audio's cross-attention keys and values; 2.6x faster than fbgemm on the
encoder MLP here) and fbgemm for the decoder's per-step layers (a decoding step 11.2 -> 9.7 ms);
elsewhere fbgemm throughout, with the 7-bit activation range its AVX2 path needs (16-bit
intermediate sums can saturate).

Scales: weights per output channel (one scale per row, as CTranslate2 does). The kernel scales
its whole input with one number; in the decoder, where the hypotheses of several clips share a
call, each row is quantized on its own instead (``Int8Linear``, per-row), so a clip's result
never depends on its batch-mates (with one scale per call 7 of 12 test clips changed their text
when batched) and the error is lower (1.0% against 1.5-2.9%).

The encoder sees one window per call (transcribe_many encodes windows one at a time on the CPU),
so one scale per call is already per window, and it is enough for the attention projections and
the first MLP layer (inputs of a LayerNorm or of the attention: no position far above the rest).
It is not enough for the MLP's second layer (``mlp[2]``, 1536 -> 384): its input is the GELU of
the first, where a few positions (in the last layer, near the end of the zero-padded 30 s
window) are tens of times larger than every other, the speech included, so one scale for the
1500 positions leaves the speech a few levels of 8 bits. That layer lost the words: it alone
made most of the encoder's int8 error (per-row there halved the error of the audio features and
brought the decoder's next-token distribution closest to float32's; per-row on every other
encoder layer as well lowered the features' error only a little more, and not the decoder's).
So the encoder's MLP output layers quantize their input per row (per audio position, as
CTranslate2 does for every layer), and the others keep one scale per call, which saves a pass
over their inputs. It matters most where activations keep 7 bits (no VNNI): there one scale
per call in that layer changed far more of float32's words. Judge int8 by its text against
float32's on the same clips (benchmarks/transcribe.py reports it): against the script, the
short noisy clips' WER moves by points, either way, for any small change in the numbers.

No layer needs to stay float32: the last encoder layer's MLP output in float32 was no more
accurate than in per-row int8, at several times the cost. The logits stay int8: float32 logits
read 80 MB per decoding step, for a smaller gain than the encoder's fix.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.models.common.int8 import Int8Linear, int8_backend, replace_linears
from engine.models.whisper.model import Whisper
from engine.models.whisper.options import COMPUTE_TYPES  # noqa: F401 (defined with the other limits)


def _fuse_qkv(attention: nn.Module, backend: str, per_row: bool) -> None:
    """One int8 projection for a self-attention's query, key and value (the same input: one
    call instead of three, the same numbers: weights are scaled per output row, inputs per row
    or per call either way); the three separate layers are dropped."""
    weight = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight])
    zeros = torch.zeros_like(attention.query.bias)
    bias = torch.cat([attention.query.bias, zeros if attention.key.bias is None else attention.key.bias,
                      attention.value.bias])
    attention.qkv = Int8Linear(weight, bias, backend, per_row)
    del attention.query, attention.key, attention.value


def quantize_int8(model: Whisper, encoder: bool = True, decoder: bool = True, logits: bool = True,
                  encoder_per_row: bool = False) -> Whisper:
    """Make a float32 CPU model compute its linear layers (in the encoder, in the decoder) and its
    logits in int8, in place. The encoder's MLP output layers quantize their input per row; its
    other layers too with ``encoder_per_row`` (otherwise one scale per call)."""
    if model.device.type != "cpu":
        raise ValueError(f"int8 compute runs on the CPU only (the model is on {model.device}); "
                         "use float32, or the GPU's own precision")
    if model.dtype != torch.float32:
        raise ValueError(f"int8 compute quantizes a float32 model, not {str(model.dtype).removeprefix('torch.')}")
    backend = int8_backend()
    if encoder:
        for block in model.encoder.blocks:
            _fuse_qkv(block.attn, backend, encoder_per_row)
        replace_linears(model.encoder, backend, encoder_per_row)
        for block in model.encoder.blocks:  # after a GELU: a few positions far larger than the rest
            block.mlp[2].per_row = True
    if decoder:
        small = int8_backend(small=True)
        for block in model.decoder.blocks:
            _fuse_qkv(block.attn, small, True)
            cross = block.cross_attn  # its keys and values see the whole window once: many rows
            cross.key = Int8Linear(cross.key.weight, cross.key.bias, backend)
            cross.value = Int8Linear(cross.value.weight, cross.value.bias, backend)
        replace_linears(model.decoder, small)
    if logits:
        model.decoder.output_projection = Int8Linear(model.decoder.token_embedding.weight, None, backend)
    return model
