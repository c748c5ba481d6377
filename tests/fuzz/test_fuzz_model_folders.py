"""Hostile model folders, as a careless or malicious download would hold them (issue #26).

Hypothesis damages what a model folder's readers parse: config.json of every family (Whisper,
MusicGen's composite with its EnCodec and T5 sections, the Music Transformer) with fields set to
wild values (huge, negative, NaN, infinite, strings with terminal codes, lists nested deep),
config bytes cut or flipped, weight maps whose entries are odd names (``..``, absolute, links)
or no names at all, audiocraft's xp.cfg YAML with wild fields, aliases, deep nesting or cut text,
and whole folders of such files (FIFOs among them) under <data>/models. Whatever comes in, a
reader gives a usable result or a CheckpointError of one printable line; a listing of the
installed models never fails; nothing hangs (the timeout).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from engine.models import catalog
from engine.models.common.checkpoints import read_hf_weights
from engine.models.common.errors import CheckpointError
from engine.models.common.files import read_json
from engine.models.encodec.config import EncodecConfig
from engine.models.music_transformer.model import read_config
from engine.models.musicgen.audiocraft import _codec_config, _decoder_config, _XpConfig
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.t5.config import T5Config
from engine.models.whisper.load_hf import config_from_hf

pytestmark = pytest.mark.timeout(900)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# -- what configs hold, and wild values for their fields ---------------------------------------------
WHISPER = {"model_type": "whisper", "vocab_size": 300, "d_model": 64, "encoder_layers": 2, "decoder_layers": 2,
           "encoder_attention_heads": 4, "decoder_attention_heads": 4, "num_mel_bins": 80,
           "max_target_positions": 40, "max_source_positions": 1500, "suppress_tokens": [1, 2],
           "begin_suppress_tokens": [220], "activation_function": "gelu", "scale_embedding": False}
CODEC = {"model_type": "encodec", "sampling_rate": 32000, "audio_channels": 1, "codebook_size": 64, "hidden_size": 8,
         "num_filters": 4, "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 4], "codebook_dim": 8,
         "num_lstm_layers": 1, "target_bandwidths": [1.2], "use_causal_conv": False, "normalize": False,
         "chunk_length_s": None, "overlap": None, "trim_right_ratio": 1.0}
MUSICGEN = {"model_type": "musicgen",
            "decoder": {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "ffn_dim": 64, "max_position_embeddings": 256, "num_codebooks": 4, "audio_channels": 1,
                        "pad_token_id": 64, "bos_token_id": 64},
            "text_encoder": {"model_type": "t5", "vocab_size": 99, "d_model": 24, "d_kv": 8, "d_ff": 37,
                             "num_layers": 2, "num_heads": 3},
            "audio_encoder": CODEC}
MUSIC_TRANSFORMER = {"vocab_size": 391, "d_model": 64, "n_layers": 2, "n_heads": 4, "d_ff": 128, "max_len": 256,
                     "dropout": 0.1, "position": "relative", "local_block": None,
                     "vocabulary": "performance-events", "pad_id": 388}
XP_LM = {"lm_model": "transformer_lm", "channels": 1,
         "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3], "flatten_first": 0,
                                                              "empty_initial": 0}},
         "transformer_lm": {"dim": 32, "num_heads": 4, "num_layers": 2, "hidden_scale": 2, "n_q": 4, "card": 64,
                            "activation": "gelu", "norm_first": True, "bias_ff": False, "bias_attn": False,
                            "bias_proj": False, "causal": True, "positional_embedding": "sin", "norm": "layer_norm"},
         "conditioners": {"description": {"model": "t5", "t5": {"name": "t5-base", "finetune": False}}},
         "fuser": {"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []},
         "interleave_stereo_codebooks": {"use": False, "per_timestep": False}}
XP_CODEC = {"compression_model": "encodec", "sample_rate": 32000, "channels": 1,
            "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": "${sample_rate}",
                        "channels": "${channels}", "renormalize": False},
            "seanet": {"dimension": 8, "channels": "${channels}", "n_filters": 4, "n_residual_layers": 1,
                       "ratios": [8, 5, 4, 4], "norm": "weight_norm", "lstm": 1, "true_skip": True,
                       "encoder": {}, "decoder": {"trim_right_ratio": 1.0, "final_activation": None}},
            "rvq": {"n_q": 4, "bins": 64}}

WILD = [0, -1, 1, 2, 3, 7, 2**31, 2**63, 10**30, 10**400 // 10**370, 0.5, 1e30, -1e30, float("nan"), float("inf"),
        float("-inf"), True, False, None, "", "x", "\x1b[31mred", "gelu", "${a.b}", "${nowhere}", [], {}, [1, 2],
        [0], [8, 5, 4, 4], [1] * 9, ["x"], {"a": 1}, "x" * 5000]
_deep = []
for _ in range(200):
    _deep = [_deep]
WILD.append(_deep)

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(WILD))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=16)


def _paths(config: dict, prefix: str = "") -> list[str]:
    """Every field of a nested config, dotted (``decoder.hidden_size``)."""
    out = []
    for key, value in config.items():
        out.append(prefix + key)
        if isinstance(value, dict):
            out += _paths(value, prefix + key + ".")
    return out


def _set(config: dict, path: str, value, delete: bool = False) -> None:
    *parents, leaf = path.split(".")
    node = config
    for part in parents:
        if not isinstance(node.get(part), dict):
            return
        node = node[part]
    if delete:
        node.pop(leaf, None)
    else:
        node[leaf] = value


@st.composite
def damaged(draw, base: dict) -> dict:
    """``base`` with a few fields set to wild values, removed, or added."""
    config = copy.deepcopy(base)
    fields = _paths(base) + ["extra", "decoder.extra"]
    for path in draw(st.lists(st.sampled_from(fields), max_size=4)):
        how = draw(st.sampled_from(["wild", "json", "delete"]))
        value = draw(st.sampled_from(WILD)) if how == "wild" else draw(json_values) if how == "json" else None
        _set(config, path, value, delete=how == "delete")
    return config


def _one_line(message: str) -> None:
    assert message.strip() and "\n" not in message, repr(message[:300])
    assert len(message) < 3000, message[:300]
    assert all(ch.isprintable() for ch in message), repr(message[:300])  # no terminal codes echoed


def _write(path: Path, config) -> None:
    try:
        path.write_text(json.dumps(config, allow_nan=True))
    except (ValueError, RecursionError):  # a circular or deep structure json cannot write
        path.write_text("[" * 5000)


# -- configs ------------------------------------------------------------------------------------------

@FUZZ
@given(damaged(WHISPER))
def test_a_damaged_whisper_config_is_read_or_refused_in_one_line(config):
    with tempfile.TemporaryDirectory() as folder:
        _write(Path(folder) / "config.json", config)
        try:
            cfg = config_from_hf(Path(folder))
        except CheckpointError as exc:
            _one_line(str(exc))
            return
        assert not cfg.problems()


@FUZZ
@given(damaged(MUSICGEN))
def test_a_damaged_musicgen_config_is_read_or_refused_in_one_line(config):
    """The decoder, its codec and its text encoder, as the pipeline reads them."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.json"
        _write(path, config)
        try:
            data = read_json(path)
            decoder = MusicgenDecoderConfig.from_composite(data, str(path))
            if not all(isinstance(data.get(part), dict) for part in ("audio_encoder", "text_encoder")):
                return  # the pipeline says which section is missing
            codec = EncodecConfig.from_hf(data["audio_encoder"], str(path))
            T5Config.from_hf(data["text_encoder"], str(path))
        except CheckpointError as exc:
            _one_line(str(exc))
            return
        assert codec.frame_rate <= 1000 and decoder.cache_bytes(codec.frame_rate) <= 4 * 2**30
        assert codec.decode_bytes(300) <= 4 * 2**30


@FUZZ
@given(damaged(MUSIC_TRANSFORMER))
def test_a_damaged_music_transformer_config_is_read_or_refused_in_one_line(config):
    with tempfile.TemporaryDirectory() as folder:
        _write(Path(folder) / "config.json", config)
        try:
            read_config(folder)
        except CheckpointError as exc:
            _one_line(str(exc))


@FUZZ
@given(st.sampled_from([WHISPER, MUSICGEN, MUSIC_TRANSFORMER]), st.data())
def test_config_bytes_cut_or_flipped_are_read_or_refused(base, data):
    raw = bytearray(json.dumps(base).encode())
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    raw += data.draw(st.sampled_from([b"", b"\xff\xfe", b"[" * 3000, b"\x00"]))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_bytes(bytes(raw))
        try:
            read_json(Path(folder) / "config.json")
        except CheckpointError as exc:
            _one_line(str(exc))


# -- weight maps ----------------------------------------------------------------------------------------

SHARD_NAMES = ["a.safetensors", "b.safetensors", "../outside.safetensors", "/etc/passwd", "sub/../a.safetensors",
               "sub/../../outside.safetensors", "link.safetensors", "dangling.safetensors", "missing.safetensors",
               "fifo.safetensors", ".", "", "a.safetensors\x00", "C:\\a.safetensors", "\x1b[31m.safetensors",
               "loop.safetensors"]
shard_values = st.sampled_from(SHARD_NAMES) | json_values
weight_maps = st.one_of(st.dictionaries(st.sampled_from(["w", "v", "x"]) | st.text(max_size=6), shard_values,
                                        max_size=4), json_values)


@FUZZ
@given(weight_maps, st.booleans())
def test_a_damaged_weight_map_gives_weights_inside_the_folder_or_one_line(weight_map, wrapped):
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        folder = root / "model"
        folder.mkdir()
        save_file({"w": torch.ones(2)}, str(folder / "a.safetensors"))
        save_file({"v": torch.ones(2), "w": torch.zeros(2)}, str(folder / "b.safetensors"))
        save_file({"x": torch.ones(2)}, str(root / "outside.safetensors"))
        (folder / "link.safetensors").symlink_to(root / "outside.safetensors")
        (folder / "dangling.safetensors").symlink_to(root / "nothing")
        (folder / "loop.safetensors").symlink_to(folder / "loop.safetensors")
        os.mkfifo(folder / "fifo.safetensors")
        index = {"weight_map": weight_map} if wrapped else weight_map
        _write(folder / "model.safetensors.index.json", index)
        try:
            weights, _ = read_hf_weights(folder)
        except CheckpointError as exc:
            _one_line(str(exc))
            return
        assert "x" not in weights  # never a tensor from outside the folder
        assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in weights.values())


# -- audiocraft's xp.cfg ------------------------------------------------------------------------------------

@st.composite
def xp_texts(draw) -> tuple[str, str]:
    """(which config, its YAML text): a damaged config dumped, then perhaps its text damaged too."""
    kind = draw(st.sampled_from(["lm", "codec"]))
    config = draw(damaged(XP_LM if kind == "lm" else XP_CODEC))
    try:
        text = yaml.safe_dump(config, sort_keys=False).replace("'${", "${").replace("}'", "}")
    except (yaml.YAMLError, RecursionError, ValueError):
        text = "a: 1\n"
    damage = draw(st.sampled_from(["none", "alias", "deep", "cut", "bytes", "tag", "huge-int"]))
    if damage == "alias":
        text = "x: &x [1, 2]\n" + text + "y: *x\n"
    elif damage == "deep":
        text += "deep: " + "[" * draw(st.sampled_from([70, 500, 20_000])) + "\n"
    elif damage == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif damage == "bytes":
        at = draw(st.integers(0, max(0, len(text) - 1)))
        text = text[:at] + draw(st.text(max_size=6)) + text[at + 1:]
    elif damage == "tag":
        text += "obj: !!python/object/apply:os.system ['true']\nb: !!binary aGk=\nt: 2001-12-14t21:59:43.10-05:00\n"
    elif damage == "huge-int":
        text += "n: " + "9" * 5000 + "\n"
    return kind, text


@FUZZ
@given(xp_texts())
def test_a_damaged_xp_cfg_is_read_or_refused_in_one_line(xp):
    kind, text = xp
    try:
        cfg = _XpConfig(text, "state_dict.bin")
        if kind == "lm":
            decoder = _decoder_config(cfg)
            MusicgenDecoderConfig.from_hf(decoder, "state_dict.bin (xp.cfg)")
        else:
            EncodecConfig.from_hf(_codec_config(cfg, 4), "compression_state_dict.bin (xp.cfg)")
    except CheckpointError as exc:
        _one_line(str(exc))


# -- whole folders under <data>/models --------------------------------------------------------------------

FILE_NAMES = ["config.json", "model.safetensors", "model.bin", "tokenizer.json", "state_dict.bin",
              "compression_state_dict.bin", "model.safetensors.index.json", "pytorch_model.bin",
              "generation_config.json"]
contents = st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()),
                     st.sampled_from([b"FIFO", b"DIR", json.dumps(WHISPER).encode(), json.dumps(MUSICGEN).encode(),
                                      json.dumps(MUSIC_TRANSFORMER).encode(), b"[" * 100_000]))
folders = st.dictionaries(st.sampled_from(FILE_NAMES), contents, min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(folders, min_size=1, max_size=3), st.sampled_from(["", "musicgen", "music_transformer"]))
def test_listing_models_never_fails_whatever_the_folders_hold(monkeypatch, trees, family_folder):
    with tempfile.TemporaryDirectory() as data:
        monkeypatch.setenv("MOTET_DATA_DIR", data)
        root = Path(data) / "models" / family_folder
        for i, files in enumerate(trees):
            folder = root / f"m{i}\x1b[0m"
            folder.mkdir(parents=True)
            for name, content in files.items():
                if content == b"FIFO":
                    os.mkfifo(folder / name)
                elif content == b"DIR":
                    (folder / name).mkdir()
                else:
                    (folder / name).write_bytes(content)
        for family in catalog.FAMILIES:
            installed, broken = catalog.listing(family)
            names = {e.name for e in installed} | {b.name for b in broken}
            for b in broken:
                _one_line(catalog.printable(b.reason))
            if family == (family_folder or "whisper"):
                assert names >= {f"m{i}\x1b[0m" for i in range(len(trees))}
