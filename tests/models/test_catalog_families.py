"""The catalog knows families: each lists what is installed (bundled, Motet's folder, added
folders) and what can be downloaded, and a new family plugs in without a new catalog."""

import json
import shutil

import pytest

from engine.models import catalog
from engine.models.common.errors import CheckpointError
from engine.models.music_transformer.generate import ASSET_DIR


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_the_shipped_music_transformer_is_listed_and_resolved():
    entries = catalog.installed_models(family_name="music_transformer")
    assert [(e.name, e.source, e.family, e.format) for e in entries][:1] == [
        ("shipped", "bundled", "music_transformer", "safetensors")]
    assert catalog.resolve_model(None, family_name="music_transformer") == ASSET_DIR
    assert catalog.resolve_model("shipped", family_name="music_transformer") == ASSET_DIR


def test_a_model_in_motets_folder_is_listed_and_a_broken_one_is_not(data_dir):
    own = data_dir / "models" / "music_transformer"
    shutil.copytree(ASSET_DIR, own / "mine")
    (own / "broken").mkdir()
    (own / "broken" / "config.json").write_text(json.dumps({"d_model": "wide"}))
    names = [e.name for e in catalog.installed_models(family_name="music_transformer")]
    assert "mine" in names and "broken" not in names
    # a Music Transformer folder is not a Whisper model, and the reverse
    assert "mine" not in [e.name for e in catalog.installed_models([own / "mine"])]


def test_music_transformers_are_not_downloaded_and_say_why():
    assert catalog.downloadable_models("music_transformer") == []
    with pytest.raises(CheckpointError, match="not downloaded"):
        catalog.download_model("big", family_name="music_transformer")
    with pytest.raises(CheckpointError, match="give a model folder"):
        catalog.resolve_model("big", family_name="music_transformer")


def test_whisper_lists_downloads_with_sizes_and_no_duplicates():
    found = catalog.downloadable_models("whisper")
    names = [d.name for d in found]
    assert len(names) == len(set(names)) and "tiny.en" in names
    assert all(d.size_mb is None or d.size_mb > 0 for d in found)


def test_a_new_family_plugs_in(tmp_path, monkeypatch):
    def detect(folder):
        if not (folder / "weights.npz").is_file():
            raise CheckpointError(f"{folder}: no weights.npz")
        return "npz"

    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "weights.npz").write_bytes(b"x" * 2048)
    monkeypatch.setitem(catalog.FAMILIES, "toy", lambda: catalog.Family(
        "toy", "Toy", detect, bundled=lambda: [("toy-1", folder)], own_folder="toy",
        none_installed="no toy"))
    assert [(e.name, e.format, e.family) for e in catalog.installed_models(family_name="toy")] == [
        ("toy-1", "npz", "toy")]
    assert catalog.resolve_model("toy-1", family_name="toy") == folder
    with pytest.raises(CheckpointError, match="no model family called 'nope'"):
        catalog.installed_models(family_name="nope")


def test_models_list_shows_every_family(capsys):
    from engine.cli import run

    assert run(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "Whisper (whisper)" in out and "Music Transformer (music_transformer)" in out
    assert run(["models", "list", "--family", "music_transformer"]) == 0
    out = capsys.readouterr().out
    assert "Whisper" not in out and "shipped" in out
