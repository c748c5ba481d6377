"""MusicGen in audiocraft's format (state_dict.bin + compression_state_dict.bin, read with
``weights_only=True``): a tiny transformers MusicGen written back under audiocraft's names (the
inverse of transformers' conversion scripts, q/k/v fused into ``in_proj_weight``) must give the
very LM and codec its Hugging Face folder gives; files that are refused, missing, truncated or
hold unknown names are one-line CheckpointErrors, and a pickled payload never runs."""

import copy
import pathlib
import re

import numpy as np
import pytest
import torch
import yaml
from musicgen_helpers import tiny_musicgen
from t5_helpers import write_tokenizer

transformers = pytest.importorskip("transformers")

from engine.models.common.checkpoints import read_hf_weights, read_json  # noqa: E402
from engine.models.common.errors import CheckpointError  # noqa: E402
from engine.models.encodec.loading import build_encodec, load_encodec  # noqa: E402
from engine.models.musicgen.audiocraft import PROJ, is_audiocraft_folder, read_audiocraft_lm  # noqa: E402
from engine.models.musicgen.loading import build_musicgen_lm  # noqa: E402

LAYERS = "decoder.model.decoder.layers."
PARTS = {"self_attn_layer_norm": "norm1", "encoder_attn_layer_norm": "norm_cross", "final_layer_norm": "norm2",
         "fc1": "linear1", "fc2": "linear2", "self_attn.out_proj": "self_attn.out_proj",
         "encoder_attn.out_proj": "cross_attention.out_proj"}
TOP = {"decoder.model.decoder.embed_tokens.": "emb.", "decoder.model.decoder.layer_norm.": "out_norm.",
       "decoder.lm_heads.": "linears.", "enc_to_dec_proj.": PROJ + "."}


def lm_state(model) -> dict:
    """The decoder and projection under audiocraft's names, q/k/v fused as audiocraft stores them."""
    hf = model.state_dict()
    state = {}
    for name, t in hf.items():
        if name.startswith(LAYERS):
            n, rest = name[len(LAYERS):].split(".", 1)
            stem, leaf = rest.rsplit(".", 1)
            for attn, theirs in (("self_attn", "self_attn"), ("encoder_attn", "cross_attention")):
                if stem == f"{attn}.q_proj":
                    fused = [hf[f"{LAYERS}{n}.{attn}.{p}_proj.weight"] for p in "qkv"]
                    state[f"transformer.layers.{n}.{theirs}.in_proj_weight"] = torch.cat(fused)
            if stem in PARTS:
                state[f"transformer.layers.{n}.{PARTS[stem]}.{leaf}"] = t.clone()
        for prefix, theirs in TOP.items():
            if name.startswith(prefix):
                state[theirs + name[len(prefix):]] = t.clone()
    return state


def codec_state(model) -> dict:
    """EnCodec under audiocraft's names (SEANet's ``model.N``, ``conv.conv`` / ``convtr.convtr``,
    weight_g / weight_v as torch's old weight_norm saved them)."""
    codec, state = model.audio_encoder, {}
    leaves = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v",
              "bias": "bias"}
    for name, t in codec.state_dict().items():
        codebook = re.match(r"quantizer\.layers\.(\d+)\.codebook\.(\w+)$", name)
        if codebook:
            state[f"quantizer.vq.layers.{codebook[1]}._codebook.{codebook[2]}"] = t.clone()
            continue
        side, _, index, rest = name.split(".", 3)
        if rest.startswith("lstm."):
            state[f"{side}.model.{index}.{rest}"] = t.clone()
            continue
        where, leaf = rest.split("conv.", 1)
        transposed = type(codec.get_submodule(f"{side}.layers.{index}")).__name__ == "EncodecConvTranspose1d"
        conv = "convtr.convtr" if transposed else "conv.conv"
        state[f"{side}.model.{index}.{where}{conv}.{leaves[leaf]}"] = t.clone()
    return state


def lm_cfg(model) -> dict:
    d = model.config.decoder
    k, channels = d.num_codebooks, d.audio_channels
    return {
        "lm_model": "transformer_lm", "sample_rate": 32000, "channels": channels,
        "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [i // channels for i in range(k)],
                                                             "flatten_first": 0, "empty_initial": 0}},
        "transformer_lm": {"dim": d.hidden_size, "num_heads": d.num_attention_heads, "num_layers": d.num_hidden_layers,
                           "hidden_scale": d.ffn_dim // d.hidden_size, "n_q": k, "card": d.vocab_size, "dropout": 0.0,
                           "emb_lr": None, "activation": "gelu", "norm_first": True, "bias_ff": False,
                           "bias_attn": False, "bias_proj": False, "past_context": None, "causal": True,
                           "custom": False, "memory_efficient": True, "layer_scale": None,
                           "positional_embedding": "sin", "xpos": False, "norm": "layer_norm",
                           "cross_attention": False, "qk_layer_norm": False, "qk_layer_norm_cross": False,
                           "attention_dropout": None, "kv_repeat": 1, "two_step_cfg": False},
        "conditioners": {"description": {"model": "t5", "t5": {"name": "t5-base", "finetune": False,
                                                              "word_dropout": 0.3, "normalize_text": False}}},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [], "prepend": [],
                  "cross": ["description"], "input_interpolate": []},
        "interleave_stereo_codebooks": {"use": channels == 2, "per_timestep": False},
        "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
    }


def codec_cfg(model) -> dict:
    c = model.config.audio_encoder
    return {
        "compression_model": "encodec", "sample_rate": c.sampling_rate, "channels": 1,
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": "${sample_rate}",
                    "channels": "${channels}", "causal": c.use_causal_conv, "renormalize": False},
        "seanet": {"dimension": c.hidden_size, "channels": "${channels}", "causal": "${encodec.causal}",
                   "n_filters": c.num_filters, "n_residual_layers": c.num_residual_layers,
                   "ratios": list(c.upsampling_ratios), "activation": "ELU", "activation_params": {"alpha": 1.0},
                   "norm": "weight_norm", "norm_params": {}, "kernel_size": c.kernel_size,
                   "residual_kernel_size": c.residual_kernel_size, "last_kernel_size": c.last_kernel_size,
                   "dilation_base": c.dilation_growth_rate, "pad_mode": c.pad_mode,
                   "true_skip": not c.use_conv_shortcut, "compress": c.compress, "lstm": c.num_lstm_layers,
                   "disable_norm_outer_blocks": 0, "encoder": {},
                   "decoder": {"trim_right_ratio": c.trim_right_ratio, "final_activation": None,
                               "final_activation_params": None}},
        "rvq": {"n_q": 4, "q_dropout": False, "bins": c.codebook_size, "decay": 0.99, "kmeans_init": True},
    }


def as_omegaconf_yaml(cfg: dict) -> str:
    """YAML as OmegaConf.to_yaml writes it: references unresolved and unquoted."""
    return yaml.safe_dump(cfg, sort_keys=False).replace("'${", "${").replace("}'", "}")


def write_audiocraft(folder: pathlib.Path, model, lm=None, state=None, codec=None) -> pathlib.Path:
    """An exported audiocraft folder (plain dicts, strings and tensors: weights_only-loadable)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"best_state": lm_state(model) if state is None else state,
                "xp.cfg": as_omegaconf_yaml(lm or lm_cfg(model)), "version": "1.3.0", "exported": True},
               folder / "state_dict.bin")
    torch.save(codec or {"best_state": codec_state(model), "xp.cfg": as_omegaconf_yaml(codec_cfg(model)),
                         "version": "1.3.0", "exported": True}, folder / "compression_state_dict.bin")
    return folder


def _make(root: pathlib.Path, channels: int):
    """(transformers' tiny MusicGen, its Hugging Face folder, its audiocraft folder, a T5 folder)."""
    model = tiny_musicgen(root / "hf", channels=channels)
    model.text_encoder.save_pretrained(root / "t5")
    write_tokenizer(root / "t5" / "tokenizer.json")
    return model, root / "hf", write_audiocraft(root / "ac", model), root / "t5"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("audiocraft"), channels=1)


def _from_hf(folder):
    config = read_json(folder / "config.json")
    weights, source = read_hf_weights(folder)
    lm = build_musicgen_lm(config, weights, source)
    return lm, build_encodec(config["audio_encoder"], weights, source, prefix="audio_encoder.")


@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
def test_lm_and_codec_equal_those_of_the_hugging_face_folder(made, tmp_path, channels):
    model, hf, ac, t5 = made if channels == 1 else _make(tmp_path, channels)
    assert is_audiocraft_folder(ac) and not is_audiocraft_folder(hf)
    config, weights = read_audiocraft_lm(ac, t5)
    sources = config["_sources"]
    lm = build_musicgen_lm(config, weights, sources["decoder"])
    codec = build_encodec(config["audio_encoder"], weights, sources["audio_encoder"], prefix="audio_encoder.")
    assert weights == {}  # no T5 inside, nothing left over
    ref_lm, ref_codec = _from_hf(hf)
    for ours, ref in ((lm, ref_lm), (codec, ref_codec)):
        mine, theirs = ours.state_dict(), ref.state_dict()
        assert list(mine) == list(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)
    k = model.config.decoder.num_codebooks
    g = torch.Generator().manual_seed(3)
    codes, states = torch.randint(0, 65, (2, k, 7), generator=g), torch.randn(2, 5, 24, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        got, expected = lm(codes, states, mask), ref_lm(codes, states, mask)
        theirs = model.decoder(input_ids=codes.reshape(2 * k, 7), encoder_attention_mask=mask,
                               encoder_hidden_states=model.enc_to_dec_proj(states) * mask[..., None]).logits
        audio = torch.randn(1, 1, 1920, generator=g)
        assert torch.equal(codec.encode(audio), ref_codec.encode(audio))
        frames = torch.randint(0, 64, (1, 4, 3), generator=g)
        assert torch.equal(codec.decode(frames), ref_codec.decode(frames))
    assert torch.equal(got, expected)
    assert (got - theirs.reshape(2, k, 7, -1)).abs().max().item() < 1e-5
    assert lm.config.audio_channels == model.config.decoder.audio_channels and lm.delays == ref_lm.delays


def _error(folder, *fragments, t5=None, **kwargs) -> str:
    with pytest.raises(CheckpointError) as info:
        read_audiocraft_lm(folder, t5, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_t5_is_asked_for_by_name(made):
    _error(made[2], "T5 text encoder is not inside", "t5-base", "t5_folder")


def test_a_pickled_object_is_refused_and_never_runs(made, tmp_path):
    model, _, _, t5 = made
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return pathlib.Path.touch, (marker,)

    folder = write_audiocraft(tmp_path / "ac", model)
    torch.save({"best_state": lm_state(model), "xp.cfg": Payload()}, folder / "state_dict.bin")
    _error(folder, "state_dict.bin was refused", "audiocraft.utils.export", t5=t5)
    assert not marker.exists()


def test_missing_truncated_and_odd_files(made, tmp_path):
    model, _, ac, t5 = made
    for name in ("state_dict.bin", "compression_state_dict.bin"):
        folder = write_audiocraft(tmp_path / name, model)
        (folder / name).unlink()
        _error(folder, f"{name} is missing", t5=t5)
    folder = write_audiocraft(tmp_path / "cut", model)
    data = (folder / "state_dict.bin").read_bytes()
    (folder / "state_dict.bin").write_bytes(data[: len(data) // 2])
    _error(folder, "state_dict.bin is damaged or truncated", t5=t5)
    folder = write_audiocraft(tmp_path / "plain", model)
    torch.save(lm_state(model), folder / "state_dict.bin")  # a bare state dict: no xp.cfg
    _error(folder, "xp.cfg should be the config as YAML text", t5=t5)
    _error(ac, "config.json is missing", t5=tmp_path / "nowhere")


def test_unknown_missing_and_misshapen_tensors_are_named_as_audiocraft_names_them(made, tmp_path):
    model = made[0]
    state = lm_state(model)
    state["transformer.layers.0.foo.weight"] = torch.zeros(2)
    del state["transformer.layers.1.linear2.weight"]
    state["emb.0.weight"] = torch.zeros(3, 3)
    message = _error(write_audiocraft(tmp_path / "lm", model, state=state), "transformer.layers.0.foo.weight",
                     "transformer.layers.1.linear2.weight", "emb.0.weight is (3, 3), expected (65, 32)", t5=made[3])
    assert "decoder.model" not in message
    codec = {"best_state": {**codec_state(model), "encoder.model.0.conv.conv.weight_x": torch.zeros(1)},
             "xp.cfg": as_omegaconf_yaml(codec_cfg(model))}
    _error(write_audiocraft(tmp_path / "codec", model, codec=codec), "encoder.model.0.conv.conv.weight_x",
           "not part of audiocraft's EnCodec", t5=made[3])


def test_attention_saved_through_torch_multihead_attention_is_read(made, tmp_path):
    model, _, _, t5 = made
    state = {re.sub(r"\.(self_attn|cross_attention)\.", r".\1.mha.", k): v for k, v in lm_state(model).items()}
    config, weights = read_audiocraft_lm(write_audiocraft(tmp_path / "mha", model, state=state), t5)
    assert "decoder.model.decoder.layers.1.encoder_attn.v_proj.weight" in weights


@pytest.mark.parametrize("path, value, fragment", [
    ("transformer_lm.positional_embedding", "rope", "positional_embedding is 'rope'"),
    ("transformer_lm.bias_attn", True, "bias_attn is True"),
    ("conditioners.self_wav", {"model": "chroma_stem"}, "self_wav besides the text"),
    ("codebooks_pattern.delay.delays", [0, 0, 0, 0], "delays is [0, 0, 0, 0]"),
    ("transformer_lm.dim", "${nowhere}", "lacks nowhere"),
    ("transformer_lm.num_heads", 2.5, "num_heads is 2.5"),
])
def test_what_the_hugging_face_layout_cannot_hold_is_refused_by_field(made, tmp_path, path, value, fragment):
    model = made[0]
    cfg = copy.deepcopy(lm_cfg(model))
    *parents, leaf = path.split(".")
    node = cfg
    for part in parents:
        node = node[part]
    node[leaf] = value
    _error(write_audiocraft(tmp_path / "ac", model, lm=cfg), "xp.cfg", fragment, t5=made[3])


def test_a_pretrained_codec_reference_needs_its_folder(made, tmp_path):
    model, hf, _, t5 = made
    reference = {"pretrained": "//pretrained/facebook/encodec_32khz", "exported": True, "version": "1.3.0"}
    folder = write_audiocraft(tmp_path / "ac", model, codec=reference)
    _error(folder, "'facebook/encodec_32khz'", "encodec_folder", t5=t5)
    model.audio_encoder.save_pretrained(tmp_path / "encodec")
    config, weights = read_audiocraft_lm(folder, t5, encodec_folder=tmp_path / "encodec")
    codec = build_encodec(config["audio_encoder"], weights, config["_sources"]["audio_encoder"],
                          prefix="audio_encoder.")
    expected = load_encodec(tmp_path / "encodec").state_dict()
    assert all(torch.equal(t, expected[k]) for k, t in codec.state_dict().items())


def test_a_t5_of_another_width_is_refused(made, tmp_path):
    model, _, ac, _ = made
    other = transformers.T5EncoderModel(transformers.T5Config(vocab_size=99, d_model=16, d_kv=8, d_ff=20,
                                                              num_layers=1, num_heads=2))
    other.save_pretrained(tmp_path / "t5")
    _error(ac, "takes 24-wide text states (t5-base in xp.cfg)", "d_model 16", t5=tmp_path / "t5")


def test_the_pipeline_reads_an_audiocraft_folder_like_its_hugging_face_twin(made):
    from engine.models.musicgen.pipeline import MusicGen, detect_folder

    _, hf, ac, t5 = made
    assert detect_folder(ac) == "audiocraft"
    ours = MusicGen(ac, t5_folder=t5)
    twin = MusicGen(hf)
    a = ours.generate(["jazz piano"], seconds=0.2, seed=2)
    assert np.array_equal(a, twin.generate(["jazz piano"], seconds=0.2, seed=2))
    with pytest.raises(CheckpointError, match="t5"):
        MusicGen(ac)  # no T5 beside it, none given


def test_a_usable_audiocraft_folder_is_listed_as_installed_and_a_damaged_one_as_broken(made, tmp_path):
    """The listing checks both files' xp.cfg with the tensors only mapped (issue #26)."""
    import os
    import shutil

    from engine.models import catalog
    from engine.models.store import models_dir

    _, _, ac, _ = made
    own = models_dir("musicgen")
    shutil.copytree(ac, own / "good")
    bad = write_audiocraft(own / "bad", made[0], lm=dict(lm_cfg(made[0]), lm_model="other_lm"))
    assert bad.is_dir() and os.environ["MOTET_DATA_DIR"] in str(own)
    installed, broken = catalog.listing("musicgen")
    assert [(m.name, m.format) for m in installed if m.source == "motet"] == [("good", "audiocraft")]
    assert [b.name for b in broken] == ["bad"] and "lm_model" in broken[0].reason
