"""EnCodec checkpoints: both weight-norm layouts, the codec inside a MusicGen file, the published
32 kHz config, and every way a folder can be wrong (one-line CheckpointError in the file's names)."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

transformers = pytest.importorskip("transformers")

from engine.models.common.checkpoints import on_meta  # noqa: E402
from engine.models.common.errors import CheckpointError  # noqa: E402
from engine.models.encodec import Encodec, EncodecConfig, build_encodec, load_encodec  # noqa: E402

# facebook/encodec_32khz's config.json (MusicGen's audio_encoder), as published
CONFIG_32KHZ = {
    "model_type": "encodec", "audio_channels": 1, "chunk_length_s": None, "codebook_dim": 128, "codebook_size": 2048,
    "compress": 2, "dilation_growth_rate": 2, "hidden_size": 128, "kernel_size": 7, "last_kernel_size": 7,
    "norm_type": "weight_norm", "normalize": False, "num_filters": 64, "num_lstm_layers": 2, "num_residual_layers": 1,
    "overlap": None, "pad_mode": "reflect", "residual_kernel_size": 3, "sampling_rate": 32000,
    "target_bandwidths": [2.2], "trim_right_ratio": 1.0, "upsampling_ratios": [8, 5, 4, 4], "use_causal_conv": False,
    "use_conv_shortcut": False,
}
TINY = dict(sampling_rate=4800, upsampling_ratios=[4, 3, 2], target_bandwidths=[5.0], num_filters=8, hidden_size=16,
            codebook_size=64, use_causal_conv=False, use_conv_shortcut=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(folder saved by transformers, the reference model, audio, its codes, their audio)."""
    torch.manual_seed(0)
    ref = transformers.EncodecModel(transformers.EncodecConfig(**TINY)).eval()
    with torch.no_grad():
        for layer in ref.quantizer.layers:
            layer.codebook.embed.normal_(0, 0.02)
    folder = tmp_path_factory.mktemp("encodec")
    ref.save_pretrained(folder)
    x = torch.randn(1, 1, 700, generator=torch.Generator().manual_seed(1)) * 0.3
    with torch.no_grad():
        codes = ref.encode(x, bandwidth=5.0).audio_codes[0]
        audio = ref.decode(codes[None], [None]).audio_values
    return folder, x, codes, audio


def _copy(saved, tmp_path, rename=None, drop=(), change=None, config=None):
    """The saved folder copied to tmp_path, its tensors renamed / dropped / replaced, its config changed."""
    folder = saved[0]
    weights = load_file(str(folder / "model.safetensors"))
    weights = {(rename(k) if rename else k): v for k, v in weights.items() if k not in drop}
    weights.update(change or {})
    save_file(weights, str(tmp_path / "model.safetensors"))
    data = json.loads((folder / "config.json").read_text())
    data.update(config or {})
    (tmp_path / "config.json").write_text(json.dumps(data))
    return tmp_path


def _legacy(name: str) -> str:
    return name.replace("parametrizations.weight.original0", "weight_g").replace(
        "parametrizations.weight.original1", "weight_v")


def _matches(model: Encodec, saved) -> None:
    _, x, codes, audio = saved
    assert torch.equal(model.encode(x), codes)
    assert (model.decode(codes) - audio).abs().max().item() < 1e-5


def test_transformers_saves_parametrizations_and_both_layouts_load(saved, tmp_path):
    names = load_file(str(saved[0] / "model.safetensors")).keys()
    assert any(n.endswith("parametrizations.weight.original0") for n in names)
    model = load_encodec(saved[0])
    _matches(model, saved)
    # the runtime model runs plain convolutions: weight norm was folded at load time
    assert not any("parametrizations" in n or n.endswith(("weight_g", "weight_v")) for n in model.state_dict())
    assert not any(p.requires_grad for p in model.quantizer.parameters())
    _matches(load_encodec(_copy(saved, tmp_path, rename=_legacy)), saved)  # the published weight_g / weight_v


def test_codec_inside_a_musicgen_checkpoint(saved):
    weights = {"audio_encoder." + _legacy(k): v for k, v in load_file(str(saved[0] / "model.safetensors")).items()}
    weights["decoder.model.decoder.layers.0.fc1.weight"] = torch.zeros(2, 2)  # the rest of MusicGen stays
    config = json.loads((saved[0] / "config.json").read_text())
    model = build_encodec(config, weights, "musicgen/model.safetensors", prefix="audio_encoder.")
    _matches(model, saved)
    assert list(weights) == ["decoder.model.decoder.layers.0.fc1.weight"]  # the codec's tensors were taken
    with pytest.raises(CheckpointError, match="no EnCodec tensors .*'audio_encoder.'"):
        build_encodec(config, weights, "musicgen/model.safetensors", prefix="audio_encoder.")


def test_half_precision_runs(saved):
    model = load_encodec(saved[0], dtype=torch.bfloat16)
    codes = model.encode(saved[1])
    assert codes.shape == saved[2].shape and model.decode(codes).dtype == torch.bfloat16


def test_the_published_32khz_config():
    config = EncodecConfig.from_hf(CONFIG_32KHZ, "encodec_32khz/config.json")
    assert (config.frame_rate, config.hop_length, config.num_quantizers, config.num_codebooks) == (50, 640, 4, 4)
    model = on_meta(lambda: Encodec(config))
    shapes = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    assert shapes["decoder.layers.0.conv.weight"] == (1024, 128, 7)
    assert shapes["quantizer.codebooks.3"] == (2048, 128)
    assert 50e6 < sum(math.prod(s) for s in shapes.values()) < 70e6


@pytest.mark.parametrize("field,value,message", [
    ("hidden_size", -1, "hidden_size is -1"), ("hidden_size", 2.5, "whole number"), ("num_filters", "8", "num_filters"),
    ("num_filters", 10**9, "num_filters"), ("upsampling_ratios", [], "upsampling_ratios"),
    ("upsampling_ratios", [4, 0], "upsampling_ratios"), ("codebook_size", 100, "power of 2"),
    ("norm_type", "batch_norm", "norm_type"), ("pad_mode", "circular", "pad_mode"),
    ("use_causal_conv", "yes", "true or false"), ("trim_right_ratio", 0.5, "trim_right_ratio"),
    ("codebook_dim", 32, "no projection"), ("target_bandwidths", [0.001], "makes 0 codebooks"),
    ("target_bandwidths", [float("nan")], "target_bandwidths"), ("compress", 64, "compress"),
    ("normalize", True, "not supported yet"), ("chunk_length_s", 1.0, "not supported yet"),
    ("overlap", 3, "overlap"), ("model_type", "whisper", "'whisper' model"),
])
def test_a_bad_config_is_one_line_naming_the_field(saved, tmp_path, field, value, message):
    with pytest.raises(CheckpointError, match=message) as err:
        load_encodec(_copy(saved, tmp_path, config={field: value}))
    assert str(tmp_path / "config.json") in str(err.value) and "\n" not in str(err.value)


def test_bad_tensors_are_named_as_in_the_file(saved, tmp_path):
    names = list(load_file(str(saved[0] / "model.safetensors")))
    g = next(n for n in names if n.endswith("original0"))
    cases = [
        (dict(drop={"quantizer.layers.2.codebook.embed"}), "missing 1 tensors: quantizer.layers.2.codebook.embed"),
        (dict(drop={g, g.replace("original0", "original1")}),
         "missing 1 tensors: " + g.replace("original0", "original0/1")),
        (dict(drop={g}), "has no .*original0 beside it"),
        (dict(change={"quantizer.layers.0.codebook.embed": torch.zeros(64, 15)}),
         r"quantizer.layers.0.codebook.embed is \(64, 15\), expected \(64, 16\)"),
        (dict(change={g: torch.ones(3, 1, 1)}), r"is \(3, 1, 1\), which does not fit"),
        (dict(change={"encoder.layers.99.conv.bias": torch.zeros(2)}), "unexpected 1 tensors: encoder.layers.99"),
    ]
    for i, (edit, message) in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        with pytest.raises(CheckpointError, match=message) as err:
            load_encodec(_copy(saved, folder, **edit))
        assert "\n" not in str(err.value)


def test_damaged_or_missing_files(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_encodec(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="has no weights"):
        load_encodec(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_encodec(folder)


def test_bad_calls_are_value_errors(saved):
    model = load_encodec(saved[0])
    for audio, bandwidth in [(torch.zeros(1, 2, 100), None), (torch.zeros(100), None), (torch.zeros(1, 1, 100), 3.0)]:
        with pytest.raises(ValueError):
            model.encode(audio, bandwidth)
    for codes in [torch.zeros(1, 5, 3, dtype=torch.long), torch.full((1, 4, 3), 64), torch.zeros(1, 4, 3)]:
        with pytest.raises(ValueError):
            model.decode(codes)
    assert model.decode(saved[2][:, :2]).shape == (1, 1, saved[2].shape[-1] * 24)  # fewer codebooks: coarser
