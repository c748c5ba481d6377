"""MusicGen in audiocraft's own format (facebookresearch/audiocraft; what the ``facebook/musicgen-*``
repositories published before the Hugging Face port, and what ``audiocraft.utils.export`` writes),
read into the Hugging Face layout that ``loading.build_musicgen_lm`` and
``encodec.loading.build_encodec`` (prefix ``audio_encoder.``) take unchanged.

An audiocraft folder holds ``state_dict.bin`` (``{'best_state': the LM's tensors, 'xp.cfg': the
training config as YAML text, ...}``) and ``compression_state_dict.bin`` (the same for EnCodec, or
``{'pretrained': 'facebook/encodec_32khz'}``, a mere reference to a Hugging Face codec folder). Both
are read with ``torch.load(weights_only=True)``: a file that would need other objects unpickled (a
raw training checkpoint with omegaconf's DictConfig pickled in) is refused, never run.

The T5 text encoder is in neither file: audiocraft downloads it (``t5-base`` for every published
MusicGen) when it builds the model, so the caller gives a Hugging Face T5 folder; only its
config.json is read here (its width); ``t5.loading.load_t5_encoder`` loads it.

LM names (audiocraft -> Hugging Face), as transformers' ``convert_musicgen_transformers.py`` maps them::

    emb.K.weight                                    -> decoder.model.decoder.embed_tokens.K.weight
    transformer.layers.N.self_attn.in_proj_weight   -> ...layers.N.self_attn.{q,k,v}_proj.weight (thirds)
    transformer.layers.N.cross_attention.in_proj_weight -> ...layers.N.encoder_attn.{q,k,v}_proj.weight
    transformer.layers.N.{self_attn,cross_attention}.out_proj.weight -> ...{self_attn,encoder_attn}.out_proj.weight
    transformer.layers.N.norm1 / norm_cross / norm2 -> ...self_attn_layer_norm / encoder_attn_layer_norm /
                                                       final_layer_norm
    transformer.layers.N.linear1 / linear2          -> ...layers.N.fc1 / fc2
    out_norm                                        -> decoder.model.decoder.layer_norm
    linears.K.weight                                -> decoder.lm_heads.K.weight
    condition_provider.conditioners.description.output_proj -> enc_to_dec_proj

(``self_attn.mha.*``, audiocraft's layout without its custom attention, is read as well.)
EnCodec names (transformers' ``convert_encodec_checkpoint_to_pytorch.py``), then prefixed ``audio_encoder.``::

    {encoder,decoder}.model.N.…                     -> {encoder,decoder}.layers.N.…
    conv.conv.* / convtr.convtr.*                   -> conv.*   (weight_g / weight_v kept: build_encodec folds them)
    conv.norm.* / convtr.norm.*                     -> norm.*   (time group norm)
    quantizer.vq.layers.N._codebook.*               -> quantizer.layers.N.codebook.*
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from torch import Tensor

from engine.models.common.checkpoints import check_kinds, check_state_dict, read_hf_weights, read_json
from engine.models.common.errors import CheckpointError, first_few, shown
from engine.models.common.files import exists, parse_yaml, regular_file
from engine.models.common.torch_files import DamagedFile, RefusedFile, load_safely
from engine.models.encodec.config import EncodecConfig
from engine.models.musicgen.config import DIMENSION_LIMITS, MusicgenDecoderConfig, whole_number
from engine.models.musicgen.delay import codebook_delays
from engine.models.t5.config import T5Config

LM_FILE = "state_dict.bin"
CODEC_FILE = "compression_state_dict.bin"
PROJ = "condition_provider.conditioners.description.output_proj"
_MISSING = object()
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][\w-]*(?:\.[\w-]+)*)\}$")
# xp.cfg fields the Hugging Face layout has one value for: (field, audiocraft's default, the value)
_LM_FIXED = (
    ("lm_model", None, "transformer_lm"), ("transformer_lm.norm_first", False, True),
    ("transformer_lm.norm", "layer_norm", "layer_norm"), ("transformer_lm.activation", "relu", "gelu"),
    ("transformer_lm.bias_ff", True, False), ("transformer_lm.bias_attn", True, False),
    ("transformer_lm.bias_proj", True, False), ("transformer_lm.layer_scale", None, None),
    ("transformer_lm.positional_embedding", "sin", "sin"), ("transformer_lm.max_period", 10_000, 10_000),
    ("transformer_lm.positional_scale", 1.0, 1.0), ("transformer_lm.qk_layer_norm", False, False),
    ("transformer_lm.qk_layer_norm_cross", False, False), ("transformer_lm.kv_repeat", 1, 1),
    ("transformer_lm.causal", False, True), ("transformer_lm.past_context", None, None),
    ("codebooks_pattern.modeling", None, "delay"), ("codebooks_pattern.delay.flatten_first", 0, 0),
    ("codebooks_pattern.delay.empty_initial", 0, 0), ("fuser.cross", [], ["description"]),
    ("fuser.prepend", [], []), ("fuser.sum", [], []), ("fuser.input_interpolate", [], []),
    ("fuser.cross_attention_pos_emb", False, False), ("conditioners.description.model", None, "t5"),
    ("conditioners.description.t5.finetune", False, False), ("interleave_stereo_codebooks.per_timestep", False, False),
)
# SEANet's defaults (audiocraft/modules/seanet.py) for a field xp.cfg leaves out
_SEANET = {"channels": 1, "dimension": 128, "n_filters": 32, "n_residual_layers": 3, "ratios": [8, 5, 4, 2],
           "activation": "ELU", "activation_params": {"alpha": 1.0}, "norm": "none", "norm_params": {},
           "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3, "dilation_base": 2, "causal": False,
           "pad_mode": "reflect", "true_skip": True, "compress": 2, "lstm": 0, "disable_norm_outer_blocks": 0}
_CODEBOOK = re.compile(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.(embed|inited|cluster_size|embed_avg)$")
_SEANET_PART = re.compile(r"^(encoder|decoder)\.model\.(\d+)\.((?:block\.\d+\.|shortcut\.)?)(conv|convtr)\."
                          r"(conv|convtr|norm)\.(weight|bias|weight_[gv]|parametrizations\.weight\.original[01])$")
_LSTM = re.compile(r"^(encoder|decoder)\.model\.(\d+)\.lstm\.((?:weight|bias)_(?:ih|hh)_l\d+)$")


def _same(a, b) -> bool:
    """Equal as a YAML value: 1 and 1.0 alike, but True is not 1 and None only None."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    return a == b


class _XpConfig:
    """audiocraft's config (``xp.cfg``, YAML written by OmegaConf) with its ``${a.b}`` references resolved."""

    def __init__(self, text, source: str) -> None:
        self.source = source
        if not isinstance(text, str):
            raise CheckpointError(f"{source}: xp.cfg should be the config as YAML text, found {type(text).__name__}")
        # plain values only, no aliases (a "billion laughs" of a few lines), bounded in size and depth
        self.root = parse_yaml(text, f"{source}: xp.cfg")
        if not isinstance(self.root, dict):
            raise CheckpointError(f"{source}: xp.cfg should be a mapping, found {type(self.root).__name__}")

    def get(self, path: str, default=_MISSING, _depth: int = 0):
        node = self.root
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is _MISSING:
                    raise CheckpointError(f"{self.source}: xp.cfg lacks {path}")
                return default
            node = node[part]
        if isinstance(node, str) and "${" in node:
            ref = _REFERENCE.match(node)
            if ref is None or _depth > 16:
                raise CheckpointError(f"{self.source}: xp.cfg's {path} is {shown(node)}, a reference Motet cannot resolve")
            return self.get(ref.group(1), _MISSING, _depth + 1)
        return node

    def expect(self, path: str, default, wanted, why: str = "") -> None:
        value = self.get(path, default)
        if not _same(value, wanted):
            raise CheckpointError(f"{self.source}: xp.cfg's {path} is {shown(value)}; Motet's MusicGen needs {shown(wanted)}"
                                  + (f" ({why})" if why else ""))

    def whole(self, path: str, high: int, default=_MISSING) -> int:
        value = self.get(path, default)
        number = whole_number(value, high)
        if number is None:
            raise CheckpointError(f"{self.source}: xp.cfg's {path} is {shown(value)}; it must be a whole number "
                                  f"from 1 to {high}")
        return number


def _load(path: Path, mmap: bool = False) -> tuple[dict, str]:
    """The exported dictionary of ``path``, read without running code (``mmap``: the tensors
    mapped, not read)."""
    try:
        data = load_safely(path, mmap=mmap)
    except RefusedFile as exc:
        raise CheckpointError(f"{exc}; export the checkpoint with audiocraft.utils.export, which keeps xp.cfg "
                              f"as YAML text") from None
    except DamagedFile as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} holds a {type(data).__name__}; expected audiocraft's export (a dictionary "
                              f"with best_state and xp.cfg)")
    return data, str(path)


def _best_state(data: dict, source: str) -> dict[str, Tensor]:
    state = data.get("best_state")
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{source} has no best_state of named tensors; expected audiocraft's exported format")
    odd = [shown(k) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if odd:
        raise CheckpointError(f"{source}: best_state holds {len(odd)} entries that are not named tensors: "
                              f"{first_few(odd, 4)}")
    check_kinds(state, f"{source} (best_state)")
    return state


def is_audiocraft_folder(folder: Path | str) -> bool:
    """Whether ``folder`` is audiocraft's MusicGen (``state_dict.bin``, no config.json). The hub's
    ``facebook/musicgen-*`` repositories hold both formats: those are read as Hugging Face's,
    which needs no separate T5. Reads no weights."""
    folder = Path(folder)
    return exists(folder / LM_FILE) and not exists(folder / "config.json")


def _check_files(folder: Path) -> None:
    for name in (LM_FILE, CODEC_FILE):
        if not exists(folder / name):
            raise CheckpointError(f"{folder / name} is missing; an audiocraft MusicGen folder holds {LM_FILE} and "
                                  f"{CODEC_FILE}")
        regular_file(folder / name)


def _check_generation(decoder: dict, codec: dict, lm_source: str, codec_source: str) -> None:
    """The sizes the LM and its codec derive together (codes a second, the cache), as for a Hugging Face folder."""
    lm = MusicgenDecoderConfig.from_hf(decoder, f"{lm_source} (xp.cfg)")
    lm.check_generation(EncodecConfig.from_hf(codec, f"{codec_source} (xp.cfg)").frame_rate,
                        f"{lm_source} with {codec_source}")


def check_audiocraft_folder(folder: Path | str) -> None:
    """CheckpointError when an audiocraft folder's files or configs cannot be used: both files'
    xp.cfg and tensor names checked as loading checks them, the tensors memory-mapped, not read
    (what a listing of installed models can afford). The T5 and a pretrained codec's folder are
    checked when the model loads."""
    folder = Path(folder)
    _check_files(folder)
    try:
        data, source = _load(folder / LM_FILE, mmap=True)
    except CheckpointError:
        return  # not mappable (an older PyTorch format): loading reads and checks it whole
    decoder = _decoder_config(_XpConfig(data.get("xp.cfg"), source))
    MusicgenDecoderConfig.from_hf(decoder, f"{source} (xp.cfg)")
    _best_state(data, source)
    try:
        data, codec_source = _load(folder / CODEC_FILE, mmap=True)
    except CheckpointError:
        return
    if "pretrained" in data:
        return
    codebooks = decoder["num_codebooks"] // decoder["audio_channels"]
    codec = _codec_config(_XpConfig(data.get("xp.cfg"), codec_source), codebooks)
    _best_state(data, codec_source)
    _check_generation(decoder, codec, source, codec_source)


def _decoder_config(cfg: _XpConfig) -> dict:
    """The ``decoder`` section of a Hugging Face MusicGen config.json from xp.cfg, every field
    whose value the Hugging Face layout cannot hold refused by name."""
    conditioners = cfg.get("conditioners", {})
    others = sorted(shown(k)[1:-1] if isinstance(k, str) else shown(k) for k in set(conditioners) - {"description"}) \
        if isinstance(conditioners, dict) else [shown(conditioners)]
    if others:
        raise CheckpointError(f"{cfg.source}: xp.cfg conditions the model on {first_few(others, 4)} "
                              f"besides the text; MusicGen melody, style and other variants are not supported "
                              f"in audiocraft's format")
    for path, default, wanted in _LM_FIXED:
        cfg.expect(path, default, wanted)
    stereo = cfg.get("interleave_stereo_codebooks.use", False)
    declared = cfg.get("channels", 1)
    if not isinstance(stereo, bool) or not _same(declared, 2 if stereo else 1):
        raise CheckpointError(f"{cfg.source}: xp.cfg's channels is {shown(declared)} with interleave_stereo_codebooks.use "
                              f"{shown(stereo)}; expected 1 and false (mono) or 2 and true (stereo)")
    dim = cfg.whole("transformer_lm.dim", DIMENSION_LIMITS["hidden_size"])
    n_q = cfg.whole("transformer_lm.n_q", DIMENSION_LIMITS["num_codebooks"])
    scale = cfg.get("transformer_lm.hidden_scale", 4)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 64:
        raise CheckpointError(f"{cfg.source}: xp.cfg's transformer_lm.hidden_scale is {shown(scale)}; expected a number "
                              f"above 0 (4 in every published MusicGen)")
    channels = 2 if stereo else 1
    delays = cfg.get("codebooks_pattern.delay.delays", list(range(n_q)))
    wanted = codebook_delays(n_q, channels)
    if not isinstance(delays, list) or len(delays) != n_q or not all(map(_same, delays, wanted)):
        raise CheckpointError(f"{cfg.source}: xp.cfg's codebooks_pattern.delay.delays is {shown(delays)}; Motet's MusicGen "
                              f"needs {wanted} for {n_q} codebooks")
    card = cfg.whole("transformer_lm.card", DIMENSION_LIMITS["vocab_size"])
    heads = cfg.whole("transformer_lm.num_heads", DIMENSION_LIMITS["num_attention_heads"])
    if dim % heads:
        raise CheckpointError(f"{cfg.source}: xp.cfg's transformer_lm.dim {dim} is not divisible by num_heads {heads}")
    return {"model_type": "musicgen_decoder", "vocab_size": card, "hidden_size": dim, "num_attention_heads": heads,
            "num_hidden_layers": cfg.whole("transformer_lm.num_layers", DIMENSION_LIMITS["num_hidden_layers"]),
            "ffn_dim": max(1, int(scale * dim)), "num_codebooks": n_q, "audio_channels": channels,
            "max_position_embeddings": 2048, "activation_function": "gelu", "scale_embedding": False,
            "pad_token_id": card, "bos_token_id": card, "decoder_start_token_id": card}


def _expected_lm(c: MusicgenDecoderConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of audiocraft's MusicGen LM of config ``c`` (names after ``mha.`` is dropped)."""
    d, ffn = c.hidden_size, c.ffn_dim
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(c.num_codebooks):
        shapes[f"emb.{k}.weight"], shapes[f"linears.{k}.weight"] = (c.vocab_size + 1, d), (c.vocab_size, d)
    for n in range(c.num_hidden_layers):
        p = f"transformer.layers.{n}."
        for attn in ("self_attn", "cross_attention"):
            shapes[f"{p}{attn}.in_proj_weight"], shapes[f"{p}{attn}.out_proj.weight"] = (3 * d, d), (d, d)
        for norm in ("norm1", "norm_cross", "norm2"):
            shapes[f"{p}{norm}.weight"] = shapes[f"{p}{norm}.bias"] = (d,)
        shapes[f"{p}linear1.weight"], shapes[f"{p}linear2.weight"] = (ffn, d), (d, ffn)
    shapes["out_norm.weight"] = shapes["out_norm.bias"] = (d,)
    shapes[f"{PROJ}.weight"], shapes[f"{PROJ}.bias"] = (d, c.encoder_width), (d,)
    return shapes


_LAYER_PARTS = {"self_attn.out_proj": "self_attn.out_proj", "cross_attention.out_proj": "encoder_attn.out_proj",
                "norm1": "self_attn_layer_norm", "norm_cross": "encoder_attn_layer_norm",
                "norm2": "final_layer_norm", "linear1": "fc1", "linear2": "fc2"}
_LAYER_NAME = re.compile(r"^transformer\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_FUSED = re.compile(r"^transformer\.layers\.(\d+)\.(self_attn|cross_attention)\.in_proj_weight$")
_FUSED_HF = {"self_attn": "self_attn", "cross_attention": "encoder_attn"}


def _lm_to_hf(state: dict[str, Tensor], width: int) -> dict[str, Tensor]:
    """The checked LM tensors in Hugging Face's names, taken out of ``state`` one at a time; the
    fused q/k/v become three views of one tensor, so nothing is copied."""
    weights: dict[str, Tensor] = {}
    for name in list(state):
        tensor = state.pop(name)
        fused, layer = _FUSED.match(name), _LAYER_NAME.match(name)
        head, _, rest = name.partition(".")
        if fused:
            attn = f"decoder.model.decoder.layers.{fused.group(1)}.{_FUSED_HF[fused.group(2)]}"
            for i, part in enumerate("qkv"):
                weights[f"{attn}.{part}_proj.weight"] = tensor[i * width:(i + 1) * width]
        elif layer:
            weights[f"decoder.model.decoder.layers.{layer.group(1)}.{_LAYER_PARTS[layer.group(2)]}."
                    f"{layer.group(3)}"] = tensor
        elif head == "emb":
            weights[f"decoder.model.decoder.embed_tokens.{rest}"] = tensor
        elif head == "linears":
            weights[f"decoder.lm_heads.{rest}"] = tensor
        elif head == "out_norm":
            weights[f"decoder.model.decoder.layer_norm.{rest}"] = tensor
        else:  # the projection: the check let nothing else through
            weights[f"enc_to_dec_proj.{name.rsplit('.', 1)[1]}"] = tensor
    return weights


def _read_lm(folder: Path, text_width: int, t5_source: str) -> tuple[dict, dict[str, Tensor], str]:
    """(decoder config section, LM tensors in Hugging Face's names, source) of state_dict.bin."""
    data, source = _load(folder / LM_FILE)
    cfg = _XpConfig(data.get("xp.cfg"), source)
    decoder = _decoder_config(cfg)
    checked = MusicgenDecoderConfig.from_composite(
        {"decoder": decoder, "text_encoder": {"d_model": text_width}}, f"{source} (xp.cfg)")
    if not checked.has_projection:
        raise CheckpointError(f"{source}: the T5 width {text_width} ({t5_source}) equals the decoder's, where the "
                              f"Hugging Face layout has no projection for {PROJ}; not supported")
    state = _best_state(data, source)
    renamed = {re.sub(r"\.(self_attn|cross_attention)\.mha\.", r".\1.", name): name for name in state}
    if len(renamed) != len(state):
        raise CheckpointError(f"{source} holds some attention weights twice, with and without .mha.")
    state = {ours: state[file] for ours, file in renamed.items()}
    proj = state.get(f"{PROJ}.weight")
    if proj is not None and proj.ndim == 2 and proj.shape[1] != text_width:
        name = cfg.get("conditioners.description.t5.name", "?")
        raise CheckpointError(f"{source}: {PROJ}.weight takes {proj.shape[1]}-wide text states ({name} in xp.cfg) "
                              f"but the T5 given, {t5_source}, has d_model {text_width}")
    check_state_dict(_expected_lm(checked), state, source, f"an audiocraft MusicGen LM of its own xp.cfg "
                     f"({checked.describe()})", lambda n: renamed.get(n, n))
    return decoder, _lm_to_hf(state, checked.hidden_size), source


def _seanet(cfg: _XpConfig, key: str, part: str):
    """A SEANet field as audiocraft builds the encoder or decoder: ``seanet.<part>.<key>``,
    else ``seanet.<key>``, else SEANet's default."""
    return cfg.get(f"seanet.{part}.{key}", cfg.get(f"seanet.{key}", _SEANET.get(key)))


def _bandwidth(n: int, bits: int, frame_rate: int) -> float:
    """A bandwidth (kbps) at which EnCodecConfig counts exactly ``n`` codebooks."""
    exact = n * bits * frame_rate / 1000
    fits = int(1000 * exact // (frame_rate * bits)) == n == math.floor(exact * 1000 / (bits * frame_rate))
    return exact if fits else (n + 0.5) * bits * frame_rate / 1000


def _codec_config(cfg: _XpConfig, codebooks: int) -> dict:
    """A Hugging Face EnCodec config from audiocraft's compression xp.cfg; ``codebooks``: how many
    the LM reads per channel (the config's first bandwidth; the last counts the file's codebooks)."""
    cfg.expect("compression_model", None, "encodec")
    cfg.expect("encodec.autoencoder", None, "seanet")
    cfg.expect("encodec.quantizer", None, "rvq")
    cfg.expect("encodec.renormalize", False, False, "renormalised encoding is not supported")
    cfg.expect("seanet.decoder.final_activation", None, None)
    s = {}
    for key in _SEANET:
        s[key] = _seanet(cfg, key, "encoder")
        if not _same(s[key], _seanet(cfg, key, "decoder")):
            raise CheckpointError(f"{cfg.source}: xp.cfg gives the SEANet encoder and decoder different {key}; "
                                  f"the Hugging Face layout has one value for both")
    if s["activation"] != "ELU" or s["activation_params"] not in ({}, {"alpha": 1.0}):
        raise CheckpointError(f"{cfg.source}: xp.cfg's seanet.activation is {shown(s['activation'])} "
                              f"{shown(s['activation_params'])}; only ELU with alpha 1 is supported")
    norm = s["norm"]
    if norm not in ("weight_norm", "none", "time_group_norm") or s["norm_params"] or \
            (norm == "time_group_norm" and s["disable_norm_outer_blocks"]):
        raise CheckpointError(f"{cfg.source}: xp.cfg's seanet.norm is {shown(norm)} (norm_params {shown(s['norm_params'])}, "
                              f"disable_norm_outer_blocks {shown(s['disable_norm_outer_blocks'])}); supported: weight_norm, "
                              f"none, and time_group_norm on every block")
    for key, kind in (("lstm", "1 to 16 LSTM layers"), ("true_skip", "true or false")):
        if (whole_number(s[key], 16) is None) if key == "lstm" else not isinstance(s[key], bool):
            raise CheckpointError(f"{cfg.source}: xp.cfg's seanet.{key} is {shown(s[key])}; Motet's EnCodec needs {kind}")
    if not _same(s["channels"], cfg.get("encodec.channels", s["channels"])):
        raise CheckpointError(f"{cfg.source}: xp.cfg's encodec.channels and seanet.channels differ")
    rate, ratios = cfg.whole("encodec.sample_rate", 768_000), s["ratios"]
    if not isinstance(ratios, list) or not 1 <= len(ratios) <= 8 or any(whole_number(r, 64) is None for r in ratios):
        raise CheckpointError(f"{cfg.source}: xp.cfg's seanet.ratios is {shown(ratios)}; expected 1 to 8 whole numbers "
                              f"from 1 to 64")
    n_q, bins = cfg.whole("rvq.n_q", 256, 8), cfg.whole("rvq.bins", 65_536, 1024)
    if codebooks > n_q:
        raise CheckpointError(f"{cfg.source}: the LM reads {codebooks} codebooks per channel but xp.cfg's rvq.n_q "
                              f"is {n_q}")
    frame_rate, bits = math.ceil(rate / math.prod(ratios)), math.ceil(math.log2(bins))
    hf = {"model_type": "encodec", "sampling_rate": rate, "audio_channels": s["channels"],
          "hidden_size": s["dimension"], "codebook_dim": s["dimension"], "num_filters": s["n_filters"],
          "num_residual_layers": s["n_residual_layers"], "upsampling_ratios": ratios,
          "norm_type": "time_group_norm" if norm == "time_group_norm" else "weight_norm",
          "kernel_size": s["kernel_size"], "last_kernel_size": s["last_kernel_size"],
          "residual_kernel_size": s["residual_kernel_size"], "dilation_growth_rate": s["dilation_base"],
          "use_causal_conv": s["causal"], "pad_mode": s["pad_mode"], "compress": s["compress"],
          "num_lstm_layers": s["lstm"], "trim_right_ratio": cfg.get("seanet.decoder.trim_right_ratio", 1.0),
          "codebook_size": bins, "use_conv_shortcut": not s["true_skip"], "normalize": False,
          "chunk_length_s": None, "overlap": None,
          "target_bandwidths": [_bandwidth(n, bits, frame_rate) for n in sorted({codebooks, n_q})]}
    checked = EncodecConfig.from_hf(hf, f"{cfg.source} (xp.cfg)")
    if (checked.num_quantizers, checked.num_codebooks) != (n_q, codebooks):  # a guard on _bandwidth
        raise CheckpointError(f"{cfg.source}: cannot express {codebooks} of {n_q} codebooks as bandwidths")
    return hf


def _codec_to_hf(name: str) -> str | None:
    """The Hugging Face name of one of audiocraft's EnCodec tensors; None for a name it does not have."""
    codebook = _CODEBOOK.match(name)
    if codebook:
        return f"quantizer.layers.{codebook.group(1)}.codebook.{codebook.group(2)}"
    part, lstm = _SEANET_PART.match(name), _LSTM.match(name)
    if lstm:
        return f"{lstm.group(1)}.layers.{lstm.group(2)}.lstm.{lstm.group(3)}"
    if part is None:
        return None
    side, index, block, outer, inner, leaf = part.groups()
    if inner != "norm" and inner != outer:
        return None
    return f"{side}.layers.{index}.{block}{'norm' if inner == 'norm' else 'conv'}.{leaf}"


def _read_codec(folder: Path, codebooks: int, encodec_folder: Path | str | None) -> tuple[dict, dict, str]:
    """(audio_encoder config section, tensors under ``audio_encoder.``, source) of compression_state_dict.bin."""
    data, source = _load(folder / CODEC_FILE)
    if "pretrained" in data:
        name = data["pretrained"]
        name = name.removeprefix("//pretrained/") if isinstance(name, str) else name
        if not isinstance(name, str) or name.startswith("dac_"):
            raise CheckpointError(f"{source} names the pretrained codec {shown(name)}; only EnCodec is supported")
        if encodec_folder is None:
            raise CheckpointError(f"{source} only names the pretrained codec {shown(name)}, which is not in the folder: "
                                  f"give that Hugging Face EnCodec folder (config.json, model.safetensors) as "
                                  f"encodec_folder")
        encodec_folder = Path(encodec_folder)
        config = read_json(encodec_folder / "config.json")
        EncodecConfig.from_hf(config, str(encodec_folder / "config.json"))
        weights, source = read_hf_weights(encodec_folder)
        return config, {f"audio_encoder.{k}": weights.pop(k) for k in list(weights)}, source
    config = _codec_config(_XpConfig(data.get("xp.cfg"), source), codebooks)
    state = _best_state(data, source)
    unknown = [name for name in state if _codec_to_hf(name) is None]
    if unknown:
        raise CheckpointError(f"{source} holds {len(unknown)} tensors that are not part of audiocraft's EnCodec: "
                              f"{first_few(sorted(unknown), 4)}")
    return config, {f"audio_encoder.{_codec_to_hf(name)}": state.pop(name) for name in list(state)}, source


def read_audiocraft_lm(folder: Path | str, t5_folder: Path | str | None = None,
                       encodec_folder: Path | str | None = None) -> tuple[dict, dict[str, Tensor]]:
    """(config, weights) of an audiocraft MusicGen folder in Hugging Face's shape: ``config`` a
    composite MusicGen config.json (``decoder``; ``text_encoder``, the T5 folder's config.json;
    ``audio_encoder``) plus ``_sources``, the file each part's tensors came from, for messages;
    ``weights`` the LM's tensors (``decoder.*``, ``enc_to_dec_proj.*``) and EnCodec's
    (``audio_encoder.*``), ready for ``build_musicgen_lm`` and ``build_encodec``.

    ``t5_folder`` (a Hugging Face T5 folder, ``t5-base``) is required: audiocraft keeps no T5 in
    its files. ``encodec_folder`` is needed only when compression_state_dict.bin merely names a
    pretrained codec (``facebook/encodec_32khz``). Every problem is a one-line CheckpointError.
    """
    folder = Path(folder)
    _check_files(folder)
    if t5_folder is None:
        raise CheckpointError(f"{folder}: the T5 text encoder is not inside audiocraft's {LM_FILE} (audiocraft "
                              f"downloads it, t5-base for every published MusicGen, when it builds the model); give "
                              f"a Hugging Face T5 folder (t5-base: config.json, model.safetensors, tokenizer.json) as "
                              f"t5_folder")
    t5_path = Path(t5_folder) / "config.json"
    text_config = read_json(t5_path)
    width = T5Config.from_hf(text_config, str(t5_path)).d_model
    decoder, weights, lm_source = _read_lm(folder, width, str(t5_path))
    codebooks = decoder["num_codebooks"] // decoder["audio_channels"]
    codec, codec_weights, codec_source = _read_codec(folder, codebooks, encodec_folder)
    weights.update(codec_weights)
    _check_generation(decoder, codec, lm_source, codec_source)
    config = {"model_type": "musicgen", "decoder": decoder, "text_encoder": text_config, "audio_encoder": codec,
              "_sources": {"decoder": lm_source, "text_encoder": str(Path(t5_folder)), "audio_encoder": codec_source}}
    return config, weights
