"""Build MusicGen's language model from a Hugging Face MusicGen folder's tensors
(``facebook/musicgen-*``, saved by ``MusicgenForConditionalGeneration``), checked tensor by tensor.

Hugging Face names -> ours::

    decoder.model.decoder.embed_tokens.N.weight                      -> embed.N.weight
    decoder.model.decoder.embed_positions.weights                    -> (fixed sinusoids, recomputed; only
                                                                        early transformers saved them)
    decoder.model.decoder.layers.N.self_attn.{q,k,v,out}_proj.weight -> layers.N.self_attn.{q,k,v,out}.weight
    decoder.model.decoder.layers.N.self_attn_layer_norm              -> layers.N.self_norm
    decoder.model.decoder.layers.N.encoder_attn.{q,k,v,out}_proj     -> layers.N.cross_attn.{q,k,v,out}
    decoder.model.decoder.layers.N.encoder_attn_layer_norm           -> layers.N.cross_norm
    decoder.model.decoder.layers.N.fc1 / fc2 / final_layer_norm      -> layers.N.fc1 / fc2 / ffn_norm
    decoder.model.decoder.layer_norm                                 -> norm
    decoder.lm_heads.N.weight                                        -> heads.N.weight
    enc_to_dec_proj.{weight,bias}                                    -> proj.{weight,bias}

``text_encoder.*`` (T5) and ``audio_encoder.*`` (EnCodec) belong to other loaders and are left alone.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from engine.models.common.checkpoints import assign_weights, check_state_dict, on_meta
from engine.models.common.errors import CheckpointError
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.musicgen.model import MusicgenLM

OTHER_MODELS = ("text_encoder.", "audio_encoder.")
_LAYER = "decoder.model.decoder.layers"
POSITIONS = "decoder.model.decoder.embed_positions.weights"
_PARTS = {  # ours -> Hugging Face, inside a layer
    "self_attn.q": "self_attn.q_proj", "self_attn.k": "self_attn.k_proj", "self_attn.v": "self_attn.v_proj",
    "self_attn.out": "self_attn.out_proj", "self_norm": "self_attn_layer_norm",
    "cross_attn.q": "encoder_attn.q_proj", "cross_attn.k": "encoder_attn.k_proj",
    "cross_attn.v": "encoder_attn.v_proj", "cross_attn.out": "encoder_attn.out_proj",
    "cross_norm": "encoder_attn_layer_norm", "fc1": "fc1", "fc2": "fc2", "ffn_norm": "final_layer_norm",
}
_TOP = {"embed": "decoder.model.decoder.embed_tokens", "norm": "decoder.model.decoder.layer_norm",
        "heads": "decoder.lm_heads", "proj": "enc_to_dec_proj"}
_LAYER_RE = re.compile(r"^layers\.(\d+)\.(.+)\.(weight|bias)$")


def hf_name(ours: str) -> str:
    """The Hugging Face name of one of our parameters."""
    m = _LAYER_RE.match(ours)
    if m and m.group(2) in _PARTS:
        return f"{_LAYER}.{m.group(1)}.{_PARTS[m.group(2)]}.{m.group(3)}"
    head, _, rest = ours.partition(".")
    return f"{_TOP[head]}.{rest}" if head in _TOP else ours


def skeleton(config: MusicgenDecoderConfig) -> MusicgenLM:
    """Our model with every parameter on the meta device."""
    return on_meta(lambda: MusicgenLM(config))


def build_musicgen_lm(config: dict, weights: dict[str, Tensor], source: str, device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32, config_source: str = "config.json") -> MusicgenLM:
    """Our MusicGen decoder (eval mode, on ``device`` in ``dtype``) from a whole MusicGen
    config.json (``config``: the decoder section, and the text encoder's width for the projection)
    and every tensor of the folder (``weights``, named as in ``source``).

    Every problem is a CheckpointError in the file's own names: the config's values (naming
    ``config_source``), missing, unexpected and misshapen tensors. Once the check passes, the
    decoder's tensors are taken out of ``weights`` and converted one by one, so they never exist
    twice in full; ``text_encoder.*`` and ``audio_encoder.*`` stay for the other loaders.
    """
    cfg = MusicgenDecoderConfig.from_composite(config, config_source)
    model = skeleton(cfg)
    state_dict = take_decoder(model, hf_name, weights, source, f"a MusicGen decoder of its own config ({cfg.describe()})")
    return assign_weights(model, state_dict, source, device=device, dtype=dtype).fuse_on_gpu()


def take_decoder(model: MusicgenLM, name_of, weights: dict[str, Tensor], source: str,
                 description: str) -> dict[str, Tensor]:
    """Check ``weights`` against ``model`` (a meta skeleton) in the file's names (``name_of`` maps
    ours to them), then take the decoder's tensors out of ``weights``: our state dict."""
    state = model.state_dict()
    ours_by_file = {name_of(name): name for name in state}
    expected = {name_of(name): t.shape for name, t in state.items()}
    mine = {name: t for name, t in weights.items() if not name.startswith(OTHER_MODELS) and name != POSITIONS}
    check_state_dict(expected, mine, source, description)
    positions = weights.get(POSITIONS)
    width = model.config.hidden_size
    if positions is not None and (positions.ndim != 2 or positions.shape[1] != width):
        raise CheckpointError(f"{source}: {POSITIONS} is {tuple(positions.shape)}, expected (positions, {width})")
    weights.pop(POSITIONS, None)
    return {ours_by_file[name]: weights.pop(name) for name in mine}
