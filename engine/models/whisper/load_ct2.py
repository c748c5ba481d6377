"""Read CTranslate2 Whisper folders (faster-whisper's format): model.bin + config.json.

The file format is read by ``engine.models.common.ctranslate2``; this maps its variables onto
our Whisper.

Whisper in CTranslate2 (``specs/whisper_spec.py``, converter ``WhisperLoader``):

* ``encoder/conv{1,2}/{weight,bias}``, ``encoder/position_encodings/encodings`` (the sinusoids),
  ``encoder/layer_norm/{gamma,beta}``;
* ``{en,de}coder/layer_N/self_attention/linear_0``: q, k and v fused along the output axis
  (3d rows: q, then k, then v); Whisper's key projection has no bias, so the converter fills its
  third of the fused bias with zeros. (Dropping a key bias is exact anyway: it adds the same
  q.b to every score of a query, which the softmax ignores.) ``linear_1`` is the output;
* ``decoder/layer_N/attention`` (cross-attention): ``linear_0`` the query, ``linear_1`` k and v
  fused (2d rows), ``linear_2`` the output;
* ``.../layer_norm/{gamma,beta}`` before each attention, ``ffn/layer_norm``, ``ffn/linear_0``
  and ``ffn/linear_1`` the MLP;
* ``decoder/embeddings/weight``, ``decoder/position_encodings/encodings``,
  ``decoder/layer_norm``; ``decoder/projection/weight`` is an alias of the embeddings.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from engine.models.common.ctranslate2 import ModelBin, Variables, layer_count, read_model_bin, weight_dtype
from engine.models.common.errors import CheckpointError, first_few
from engine.models.common.files import exists, read_json
from engine.models.whisper.config import WhisperConfig, head_pairs, token_list
from engine.models.whisper.skeleton import check_state_dict

_CT2_NAMES = {  # our config field -> where a model.bin holds it
    "n_mels": "encoder/conv1/weight's second dimension", "n_audio_ctx": "encoder/position_encodings/encodings' length",
    "n_audio_state": "d_model", "n_audio_head": "encoder/num_heads", "n_audio_layer": "the number of encoder layers",
    "n_vocab": "the vocabulary", "n_text_ctx": "decoder/position_encodings/encodings' length",
    "n_text_state": "the decoder's d_model", "n_text_head": "decoder/num_heads",
    "n_text_layer": "the number of decoder layers",
}


def _config(folder: Path, mb: ModelBin, v: Variables) -> WhisperConfig:
    path = mb.path
    required = ("encoder/conv1/weight", "encoder/position_encodings/encodings", "decoder/embeddings/weight",
                "decoder/position_encodings/encodings")
    missing = [n for n in required if not v.has(n)]
    if missing:
        raise CheckpointError(f"{path} is not a Whisper model: it lacks {first_few(missing)}")
    conv1 = v.array("encoder/conv1/weight")
    if conv1.ndim != 3 or conv1.shape[2] != 3:
        raise CheckpointError(f"{path}: encoder/conv1/weight is {conv1.shape}, expected (d_model, n_mels, 3)")
    n_state, n_mels = conv1.shape[0], conv1.shape[1]
    emb = v.array("decoder/embeddings/weight")
    enc_heads = v.scalar("encoder/num_heads") or max(n_state // 64, 1)  # before num_heads was stored: 64 per head
    dec_heads = v.scalar("decoder/num_heads") or max(emb.shape[1] // 64, 1)
    cfg = WhisperConfig(
        n_mels=n_mels, n_audio_ctx=v.array("encoder/position_encodings/encodings").shape[0],
        n_audio_state=n_state, n_audio_head=enc_heads, n_audio_layer=layer_count(mb, "encoder"),
        n_vocab=emb.shape[0], n_text_ctx=v.array("decoder/position_encodings/encodings").shape[0],
        n_text_state=emb.shape[1], n_text_head=dec_heads, n_text_layer=layer_count(mb, "decoder"),
        name=folder.name,
    )
    problems = cfg.problems(_CT2_NAMES)
    if problems:  # shapes are bounded by the file's size, but head counts are just numbers in it
        raise CheckpointError(f"{path} is not a standard Whisper model: {'; '.join(problems)}")
    if cfg.n_text_state != cfg.n_audio_state:
        raise CheckpointError(f"{path}: the decoder's width {cfg.n_text_state} differs from the encoder's "
                              f"{cfg.n_audio_state}; Whisper uses one d_model")
    # attributes a Whisper model has; anything else is another architecture in a WhisperSpec
    expect = {"decoder/scale_embeddings": 0, "decoder/pre_norm": 1, "decoder/alibi": 0}
    odd = [f"{k} = {v.scalar(k)} (expected {e})" for k, e in expect.items() if v.has(k) and v.scalar(k) != e]
    if odd:
        raise CheckpointError(f"{path} is not a standard Whisper model: {'; '.join(odd)}")

    meta_path = folder / "config.json"
    if exists(meta_path):
        help_ = ("is not a CTranslate2 Whisper config (alignment_heads as [layer, head] pairs, suppress_ids, "
                 "suppress_ids_begin)")
        try:
            meta = read_json(meta_path)
            cfg.alignment_heads = head_pairs(meta.get("alignment_heads"), "alignment_heads", meta_path)
            cfg.suppress_tokens = token_list(meta.get("suppress_ids"), "suppress_ids", meta_path)
            cfg.begin_suppress_tokens = token_list(meta.get("suppress_ids_begin"), "suppress_ids_begin", meta_path)
        except CheckpointError as exc:
            raise CheckpointError(f"{meta_path} {help_}: {exc}") from None
        cfg.check_alignment_heads(meta_path)
    return cfg


def _split(t: Tensor, parts: int, d: int, name: str, path: Path) -> list[Tensor]:
    if t.shape[0] != parts * d:
        raise CheckpointError(f"{path}: {name} has {t.shape[0]} rows, expected {parts} x d_model = {parts * d}")
    return list(t.split(d))


def read_ct2_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor], str]:
    """Config, state dict (our names; float dtypes as stored, quantised weights dequantised to
    float32) and the stored weight dtype of a CTranslate2 Whisper folder."""
    folder = Path(folder)
    mb = read_model_bin(folder / "model.bin")
    if mb.spec and mb.spec != "WhisperSpec":
        raise CheckpointError(f"{mb.path} holds a CTranslate2 {mb.spec}, not a Whisper model (expected WhisperSpec)")
    v = Variables(mb, "Whisper model")
    cfg = _config(folder, mb, v)
    path = mb.path
    d = cfg.n_audio_state
    sd: dict[str, Tensor] = {}

    def linear(src: str, dst: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = v(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = v(f"{src}/bias")

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v(f"{src}/gamma"), v(f"{src}/beta")

    def self_attention(src: str, dst: str) -> None:
        q, k, val = _split(v(f"{src}/linear_0/weight"), 3, d, f"{src}/linear_0/weight", path)
        qb, _kb, vb = _split(v(f"{src}/linear_0/bias"), 3, d, f"{src}/linear_0/bias", path)
        sd[f"{dst}.query.weight"], sd[f"{dst}.key.weight"], sd[f"{dst}.value.weight"] = q, k, val
        sd[f"{dst}.query.bias"], sd[f"{dst}.value.bias"] = qb, vb
        linear(f"{src}/linear_1", f"{dst}.out")

    def block(src: str, dst: str) -> None:
        self_attention(f"{src}/self_attention", f"{dst}.attn")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")

    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    norm("encoder/layer_norm", "encoder.ln_post")
    positions = v.array("encoder/position_encodings/encodings")
    if positions.shape != (cfg.n_audio_ctx, d):
        raise CheckpointError(f"{path}: encoder/position_encodings/encodings is {positions.shape}, "
                              f"expected ({cfg.n_audio_ctx}, {d})")
    for i in range(cfg.n_audio_layer):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}")

    sd["decoder.token_embedding.weight"] = v("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = v("decoder/position_encodings/encodings")
    norm("decoder/layer_norm", "decoder.ln")
    for i in range(cfg.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        block(src, dst)
        cross = f"{src}/attention"
        linear(f"{cross}/linear_0", f"{dst}.cross_attn.query")
        k, val = _split(v(f"{cross}/linear_1/weight"), 2, d, f"{cross}/linear_1/weight", path)
        _kb, vb = _split(v(f"{cross}/linear_1/bias"), 2, d, f"{cross}/linear_1/bias", path)
        sd[f"{dst}.cross_attn.key.weight"], sd[f"{dst}.cross_attn.value.weight"] = k, val
        sd[f"{dst}.cross_attn.value.bias"] = vb
        linear(f"{cross}/linear_2", f"{dst}.cross_attn.out")
        norm(f"{cross}/layer_norm", f"{dst}.cross_attn_ln")

    # the output projection is tied to the embeddings (an alias); a separate copy must equal them
    if "decoder/projection/weight" in mb.variables and not torch.equal(
            v("decoder/projection/weight"), sd["decoder.token_embedding.weight"]):
        raise CheckpointError(f"{path}: decoder/projection/weight differs from decoder/embeddings/weight; "
                                  f"Whisper ties them")
    v.used.add(v.resolve("decoder/projection/weight"))
    left = sorted(n for n, a in mb.variables.items() if a.ndim > 0 and n not in v.used)
    if left:
        raise CheckpointError(f"{path} holds {len(left)} tensors that are not part of a Whisper model: "
                              f"{first_few(left)}")
    check_state_dict(cfg, sd, str(path))
    return cfg, sd, weight_dtype(mb)


def load_ct2_checkpoint(folder: Path | str) -> tuple[WhisperConfig, dict[str, Tensor]]:
    """Config and state dict (our parameter names) of a CTranslate2 Whisper folder."""
    cfg, sd, _ = read_ct2_checkpoint(folder)
    return cfg, sd
