"""Hostile model folders (issue #26): YAML alias bombs, absurd derived sizes, FIFOs, deeply nested
configs, odd weight maps and keys, non-finite or absurd weights, weights of the wrong kind,
shards outside their folder, terminal codes in names. Each is one CheckpointError line (exit 2
from the CLI), a broken folder is listed as broken and never stops another model or command,
and nothing blocks (the timeout)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.models import catalog
from engine.models.common.checkpoints import check_state_dict, read_hf_weights, read_json
from engine.models.common.ctranslate2 import read_model_bin
from engine.models.common.errors import CheckpointError, shown
from engine.models.common.files import parse_yaml
from engine.models.common.torch_files import DamagedFile, RefusedFile, load_safely
from engine.models.encodec.config import EncodecConfig
from engine.models.musicgen.audiocraft import read_audiocraft_lm
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.music_transformer.generate import ASSET_DIR, load_model
from engine.models.whisper.config import WhisperConfig
from engine.models.whisper.load_hf import hf_name
from engine.models.whisper.loading import load_whisper_model
from engine.models.whisper.skeleton import expected_shapes

pytestmark = pytest.mark.timeout(120)  # a FIFO that blocks fails here instead of hanging

TINY = WhisperConfig(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=4, n_audio_layer=2, n_vocab=300,
                     n_text_ctx=40, n_text_state=64, n_text_head=4, n_text_layer=2)
HF_CONFIG = {"model_type": "whisper", "vocab_size": 300, "d_model": 64, "encoder_layers": 2, "decoder_layers": 2,
             "encoder_attention_heads": 4, "decoder_attention_heads": 4, "num_mel_bins": 80,
             "max_target_positions": 40, "max_source_positions": 1500}
BILLION_LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                           + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]"
                              for i in range(8)])


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def tiny_whisper_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {f"model.{hf_name(k)}": torch.randn(shape, generator=g) * 0.1 for k, shape in expected_shapes(TINY).items()}


def t5_folder(tmp_path: Path) -> Path:
    """A T5 config (t5-small's sizes, transformers' defaults): all read_audiocraft_lm reads of it first."""
    folder = tmp_path / "t5"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


def whisper_folder(folder: Path, weights: dict | None = None, **files) -> Path:
    """A tiny Hugging Face Whisper folder (random weights); ``files``: names to write instead
    (bytes, text, or a dict as JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(HF_CONFIG))
    save_file(tiny_whisper_weights() if weights is None else weights, str(folder / "model.safetensors"))
    for name, content in files.items():
        path = folder / name.replace("__", ".")
        path.unlink(missing_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content))
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def fifo(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def one_line(exc: BaseException, limit: int = 1000) -> str:
    message = str(exc)
    assert "\n" not in message and len(message) < limit, message[:2000]
    return message


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from engine.cli import run

    code = run(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- 7: YAML aliases, YAML size, values echoed unbounded ----------------------------------------

def test_yaml_aliases_are_refused_and_plain_yaml_reads():
    with pytest.raises(CheckpointError, match="xp.cfg is not readable YAML: an alias") as err:
        parse_yaml(BILLION_LAUGHS, "xp.cfg")
    one_line(err.value)
    assert parse_yaml("a: [1, 2]\nb: {c: x}", "xp.cfg") == {"a": [1, 2], "b": {"c": "x"}}
    with pytest.raises(CheckpointError, match="more than"):
        parse_yaml("a: " + "x" * (2 * 2**20), "xp.cfg")
    with pytest.raises(CheckpointError, match="too deeply|more than 64 deep"):
        parse_yaml("a: " + nested_json(5000), "xp.cfg")
    with pytest.raises(CheckpointError, match="more than 64 deep"):
        parse_yaml("a: " + nested_json(100), "xp.cfg")


def audiocraft_folder(folder: Path, xp_cfg: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"best_state": {"emb.0.weight": torch.zeros(3, 4)}, "xp.cfg": xp_cfg}, folder / "state_dict.bin")
    torch.save({"best_state": {}, "xp.cfg": xp_cfg}, folder / "compression_state_dict.bin")
    return folder


def test_an_audiocraft_alias_bomb_is_refused_and_listed_as_broken(data_dir, tmp_path, capsys):
    folder = audiocraft_folder(data_dir / "models" / "musicgen" / "bomb", BILLION_LAUGHS)
    with pytest.raises(CheckpointError, match="xp.cfg is not readable YAML: .*an alias") as err:
        read_audiocraft_lm(folder, t5_folder(tmp_path))
    one_line(err.value)
    installed, broken = catalog.listing("musicgen")
    assert "bomb" not in [m.name for m in installed] and [b.name for b in broken] == ["bomb"]
    code, out, _ = cli(["models", "list", "--family", "musicgen"], capsys)
    assert code == 0 and any("bomb" in line and "broken" in line and "an alias" in line for line in out.splitlines())


def test_a_huge_value_is_echoed_cut(tmp_path):
    folder = whisper_folder(tmp_path / "w", config__json=dict(HF_CONFIG, d_model="x" * 10**6))
    with pytest.raises(CheckpointError, match="d_model is 'xxx") as err:
        load_whisper_model(folder)
    one_line(err.value, 600)
    assert len(shown(list(range(10**6)))) <= 100 and len(shown("\x1b" * 10**6)) <= 100
    assert "\x1b" not in shown({"k": "\x1b[31m"})


# -- 8: derived sizes ---------------------------------------------------------------------------

def test_a_codec_whose_frame_rate_is_absurd_is_refused_naming_the_fields():
    with pytest.raises(CheckpointError, match=r"sampling_rate 768000 over upsampling_ratios \[1\].*768000 frames"):
        EncodecConfig.from_hf({"sampling_rate": 768000, "upsampling_ratios": [1]}, "config.json")


def test_a_codec_whose_decoding_is_absurd_is_refused():
    """Every field in range, but 8192 channels at 1000 frames a second for 5 minutes: 9.8 GB."""
    config = {"sampling_rate": 64000, "upsampling_ratios": [8, 8], "num_filters": 1024, "hidden_size": 8192,
              "codebook_size": 1024, "target_bandwidths": [10.0], "compress": 2}
    with pytest.raises(CheckpointError, match=r"make decoding 300 s take \d+\.\d GB"):
        EncodecConfig.from_hf(config, "config.json")


def test_a_decoder_and_codec_whose_cache_is_absurd_are_refused():
    decoder = {"vocab_size": 2048, "hidden_size": 2048, "num_hidden_layers": 48, "num_attention_heads": 32,
               "ffn_dim": 8192, "num_codebooks": 4}
    codec = {"sampling_rate": 640000, "upsampling_ratios": [8, 5, 4, 4], "codebook_size": 2048,
             "target_bandwidths": [44.0], "num_filters": 4}
    composite = {"model_type": "musicgen", "decoder": decoder, "text_encoder": {"d_model": 768},
                 "audio_encoder": codec}
    with pytest.raises(CheckpointError, match=r"needs \d+\.\d GB of cache per sequence"):
        MusicgenDecoderConfig.from_composite(composite, "config.json")
    with pytest.raises(CheckpointError, match=r"decoder\.num_codebooks 8 make 8000 codes a second"):
        MusicgenDecoderConfig.from_composite({**composite, "decoder": dict(decoder, num_codebooks=8, hidden_size=32,
                                                                          num_hidden_layers=2)}, "config.json")
    published = {**codec, "sampling_rate": 32000, "target_bandwidths": [2.2]}
    MusicgenDecoderConfig.from_composite({**composite, "audio_encoder": published}, "config.json")


def test_a_musicgen_folder_with_an_absurd_codec_is_refused(tiny_musicgen_folder, tmp_path):
    pytest.importorskip("transformers")
    from engine.models.musicgen.pipeline import MusicGen

    folder = Path(shutil.copytree(tiny_musicgen_folder, tmp_path / "mg"))
    config = read_json(folder / "config.json")
    config["audio_encoder"].update(sampling_rate=768000, upsampling_ratios=[1])
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="768000 frames of codes a second") as err:
        MusicGen(folder)
    one_line(err.value)


# -- 11: FIFOs and sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json"])
def test_a_fifo_in_a_whisper_folder_is_named_never_waited_on(tmp_path, name):
    folder = whisper_folder(tmp_path / "w", tokenizer__json="{}")
    fifo(folder / name)
    with pytest.raises(CheckpointError, match="FIFO") as err:
        load_whisper_model(folder)
    one_line(err.value)


@pytest.mark.parametrize("name", ["model.bin", "config.json"])
def test_a_fifo_in_a_ctranslate2_folder_is_named(tmp_path, name):
    folder = tmp_path / "ct2"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\x06\x00\x00\x00")
    fifo(folder / name)
    with pytest.raises(CheckpointError, match="FIFO|truncated"):
        load_whisper_model(folder)
    with pytest.raises(CheckpointError, match="FIFO"):
        read_model_bin(fifo(tmp_path / "other.bin"))


def test_fifos_everywhere_a_file_is_read(tmp_path):
    path = fifo(tmp_path / "x")
    for read in (read_json, read_model_bin):
        with pytest.raises(CheckpointError, match="FIFO"):
            read(path)
    with pytest.raises(DamagedFile, match="not a regular file"):
        load_safely(path)
    (tmp_path / "shard").mkdir()
    fifo(tmp_path / "shard" / "a.safetensors")
    (tmp_path / "shard" / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "a.safetensors"}}))
    with pytest.raises(CheckpointError, match="FIFO"):
        read_hf_weights(tmp_path / "shard")


def test_a_fifo_in_a_musicgen_folder_is_named(tiny_musicgen_folder, tmp_path):
    pytest.importorskip("transformers")
    from engine.models.musicgen.pipeline import MusicGen, detect_folder

    folder = Path(shutil.copytree(tiny_musicgen_folder, tmp_path / "mg"))
    fifo(folder / "config.json")
    with pytest.raises(CheckpointError, match="FIFO"):
        detect_folder(folder)
    ac = audiocraft_folder(tmp_path / "ac", "a: 1")
    fifo(ac / "state_dict.bin")
    with pytest.raises(CheckpointError, match="FIFO"):
        MusicGen(ac)


def test_models_list_skips_fifos_and_lists_them_as_broken(data_dir, capsys):
    root = data_dir / "models"
    fifo(whisper_folder(root / "fifo-config") / "config.json")
    fifo((root / "music_transformer" / "fifo-mt").mkdir(parents=True) or root / "music_transformer" / "fifo-mt"
         / "config.json")
    (root / "musicgen" / "fifo-mg").mkdir(parents=True)
    fifo(root / "musicgen" / "fifo-mg" / "config.json")
    code, out, _ = cli(["models", "list"], capsys)
    assert code == 0
    for name in ("fifo-config", "fifo-mt", "fifo-mg"):
        assert any(name in line and "broken" in line and "FIFO" in line for line in out.splitlines()), out


def test_json_beyond_its_size_bound_is_refused(tmp_path):
    from engine.models.common.files import read_json as bounded

    (tmp_path / "c.json").write_text(json.dumps({"a": "x" * 100}))
    with pytest.raises(CheckpointError, match="more than"):
        bounded(tmp_path / "c.json", limit=50)


# -- 12: junk folders and deep nesting ---------------------------------------------------------------

def test_a_deeply_nested_config_in_motets_folder_stops_nothing(data_dir, capsys):
    junk = data_dir / "models" / "junk"
    junk.mkdir(parents=True)
    (junk / "config.json").write_text(nested_json(100_000))
    (junk / "model.safetensors").write_bytes(b"x")
    assert "junk" in [b.name for b in catalog.broken_models()]
    assert catalog.resolve_model(None) != junk  # the default model is still found (or none is named)
    code, out, _ = cli(["models", "list"], capsys)
    assert code == 0 and any("junk" in line and "broken" in line for line in out.splitlines())
    with pytest.raises(CheckpointError, match="cannot be used.*nests"):
        catalog.resolve_model("junk")


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_model_folder_is_one_line_and_exit_2(tmp_path, capsys, depth):
    folder = whisper_folder(tmp_path / "deep", config__json=nested_json(depth))
    with pytest.raises(CheckpointError, match="nests"):
        load_whisper_model(folder)
    code, out, err = cli(["transcribe", str(tmp_path / "a.wav"), "--model", str(folder),
                          "--output-dir", str(tmp_path / "out")], capsys)
    assert code == 2 and err.startswith("motet") and len(err.strip().splitlines()) == 1 and "nests" in err


def test_nested_generation_config_and_xp_cfg(tmp_path):
    folder = whisper_folder(tmp_path / "w", generation_config__json='{"alignment_heads": ' + nested_json(5000) + "}")
    with pytest.raises(CheckpointError, match="nests"):
        load_whisper_model(folder)
    ac = audiocraft_folder(tmp_path / "ac", "a: " + nested_json(50_000))
    with pytest.raises(CheckpointError, match="xp.cfg nests"):
        read_audiocraft_lm(ac, t5_folder(tmp_path))


def test_a_deeply_nested_music_transformer_config_is_refused(tmp_path, data_dir):
    folder = Path(shutil.copytree(ASSET_DIR, data_dir / "models" / "music_transformer" / "deep"))
    (folder / "config.json").write_text('{"d_model": ' + nested_json(900) + "}")
    assert "deep" in [b.name for b in catalog.broken_models(family_name="music_transformer")]


# -- 13: weight maps, keys, values -----------------------------------------------------------------

def test_a_weight_map_whose_value_is_a_list_is_refused(tmp_path, capsys):
    folder = whisper_folder(tmp_path / "w")
    save_file(tiny_whisper_weights(), str(folder / "a.safetensors"))
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": ["a.safetensors"]}}))
    with pytest.raises(CheckpointError, match="weight_map should map each tensor to a file name"):
        load_whisper_model(folder)
    code, _, err = cli(["transcribe", "a.wav", "--model", str(folder), "--output-dir", str(tmp_path / "o")], capsys)
    assert code == 2 and "weight_map" in err


def test_a_pickle_with_integer_keys_is_refused(tmp_path):
    folder = whisper_folder(tmp_path / "w")
    (folder / "model.safetensors").unlink()
    torch.save({1: torch.zeros(2), "b": torch.zeros(1)}, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="1 is not named by a string") as err:
        load_whisper_model(folder)
    one_line(err.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e30, -1e30, 1e5])
def test_non_finite_or_absurd_weights_are_refused_at_load_naming_the_tensor(tmp_path, capsys, value):
    weights = tiny_whisper_weights()
    name = "decoder.layers.1.fc1.weight"  # as Whisper's messages name it, without the "model." prefix
    weights[f"model.{name}"][3, 4] = value
    folder = whisper_folder(tmp_path / "w", weights)
    with pytest.raises(CheckpointError, match=rf"{name} (holds NaN or infinite values|holds -?1e\+\d+, beyond)"):
        load_whisper_model(folder)
    code, _, err = cli(["transcribe", "a.wav", "--model", str(folder), "--output-dir", str(tmp_path / "o")], capsys)
    assert code == 2 and name in err


def test_check_state_dict_checks_values_in_the_files_names():
    expected = {"w": torch.Size([2])}
    check_state_dict(expected, {"w": torch.tensor([65504.0, -3.0])}, "f", "a model")
    with pytest.raises(CheckpointError, match="f: file.w holds NaN"):
        check_state_dict(expected, {"w": torch.tensor([1.0, float("nan")])}, "f", "a model", lambda k: "file." + k)


def test_nan_weights_in_a_musicgen_folder_are_named(tiny_musicgen_folder, tmp_path):
    pytest.importorskip("transformers")
    from safetensors.torch import load_file

    from engine.models.musicgen.pipeline import MusicGen

    folder = Path(shutil.copytree(tiny_musicgen_folder, tmp_path / "mg"))
    weights = load_file(str(folder / "model.safetensors"))
    for name in ("decoder.lm_heads.0.weight", "text_encoder.shared.weight"):
        changed = dict(weights)
        changed[name] = changed[name].clone()
        changed[name][0, 0] = float("inf")
        save_file(changed, str(folder / "model.safetensors"))
        with pytest.raises(CheckpointError, match=rf"{name} holds NaN or infinite values"):
            MusicGen(folder)


def test_absurd_weights_in_a_music_transformer_are_named(tmp_path):
    from safetensors.torch import load_file

    folder = Path(shutil.copytree(ASSET_DIR, tmp_path / "mt"))
    weights = load_file(str(folder / "model.safetensors"))
    weights["embed.weight"] = weights["embed.weight"] * 1e30
    save_file(weights, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"embed\.weight holds .*beyond"):
        load_model(folder)


# -- 14: weights of the wrong kind, duplicated shards ----------------------------------------------

@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.uint8, torch.int64, torch.float8_e4m3fn])
def test_weights_of_the_wrong_kind_are_refused_naming_the_tensor(tmp_path, dtype):
    weights = tiny_whisper_weights()
    name = "model.encoder.conv1.weight"
    weights[name] = weights[name].to(dtype)
    folder = whisper_folder(tmp_path / "w", weights)
    with pytest.raises(CheckpointError, match=rf"{name} is {str(dtype).removeprefix('torch.')}, not float16") as err:
        load_whisper_model(folder)
    one_line(err.value)


def test_complex_weights_in_a_pickle_are_refused(tmp_path):
    weights = tiny_whisper_weights()
    weights["model.encoder.conv1.bias"] = weights["model.encoder.conv1.bias"].to(torch.complex64)
    folder = whisper_folder(tmp_path / "w")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="conv1.bias is complex64"):
        load_whisper_model(folder)


def test_wrong_kinds_in_music_transformer_and_audiocraft_checkpoints(tmp_path):
    from safetensors.torch import load_file

    folder = Path(shutil.copytree(ASSET_DIR, tmp_path / "mt"))
    weights = load_file(str(folder / "model.safetensors"))
    weights["embed.weight"] = weights["embed.weight"].to(torch.int64)
    save_file(weights, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="embed.weight is int64"):
        load_model(folder)
    ac = audiocraft_folder(tmp_path / "ac", "a: 1")
    torch.save({"best_state": {"emb.0.weight": torch.zeros(3, 4, dtype=torch.uint8)}, "xp.cfg": "a: 1"},
               ac / "state_dict.bin")
    from engine.models.musicgen.audiocraft import _best_state, _load

    with pytest.raises(CheckpointError, match="emb.0.weight is uint8"):
        _best_state(*_load(ac / "state_dict.bin"))


def test_a_tensor_in_two_shards_is_refused(tmp_path):
    weights = tiny_whisper_weights()
    names = sorted(weights)
    folder = whisper_folder(tmp_path / "w")
    (folder / "model.safetensors").unlink()
    save_file({k: weights[k] for k in names[:10]}, str(folder / "a.safetensors"))
    save_file({k: weights[k] for k in names[9:]}, str(folder / "b.safetensors"))
    index = {"weight_map": {**{k: "a.safetensors" for k in names[:10]}, **{k: "b.safetensors" for k in names[10:]}}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=rf"holds {names[9]}, which another shard"):
        load_whisper_model(folder)


# -- 15: shards outside their folder ------------------------------------------------------------------

@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../outside.safetensors",
                                   "link.safetensors", "C:\\x.safetensors", "..\\outside.safetensors"])
def test_shards_must_lie_inside_the_folder(tmp_path, shard):
    weights = tiny_whisper_weights()
    save_file(weights, str(tmp_path / "outside.safetensors"))
    folder = whisper_folder(tmp_path / "w")
    (folder / "model.safetensors").unlink()
    (folder / "link.safetensors").symlink_to(tmp_path / "outside.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {k: shard for k in weights}}))
    with pytest.raises(CheckpointError, match="outside its folder") as err:
        load_whisper_model(folder)
    assert "bytes" not in one_line(err.value)


def test_a_hugging_face_cache_snapshot_links_into_its_blobs(tmp_path):
    repo = tmp_path / "models--openai--whisper-tiny"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    weights = tiny_whisper_weights()
    save_file(weights, str(blobs / "0123"))
    (snapshot / "model-00001-of-00001.safetensors").symlink_to("../../blobs/0123")
    (snapshot / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {k: "model-00001-of-00001.safetensors" for k in weights}}))
    (snapshot / "config.json").write_text(json.dumps(HF_CONFIG))
    model, info = load_whisper_model(snapshot)
    assert info["name"] == "openai/whisper-tiny"


# -- smaller: torch's warnings, terminal codes in names -----------------------------------------------

class Payload:
    def __reduce__(self):
        return (print, ("ran",))


def test_a_refused_pickle_prints_no_warnings(tmp_path):
    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"w": Payload()}, f, protocol=4)  # torch warns of the protocol before refusing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RefusedFile):
            load_safely(tmp_path / "pytorch_model.bin")
    assert caught == []


def test_names_are_echoed_escaped(tmp_path, capsys, data_dir):
    code, out, err = cli(["models", "download", "\x1b[31mred"], capsys)
    assert code == 2 and "\x1b" not in out + err and "\\x1b[31mred" in err
    with pytest.raises(CheckpointError) as info:
        catalog.resolve_model("\x1b[31mred")
    assert "\x1b" not in str(info.value)
    whisper_folder(data_dir / "models" / "\x1b[2Jjunk", config__json=nested_json(10))
    code, out, _ = cli(["models", "list", "--family", "whisper"], capsys)
    assert code == 0 and "\x1b" not in out and "\\x1b[2Jjunk" in out
