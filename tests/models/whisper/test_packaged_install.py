"""Joining a packaged model (model.bin in parts) into <data>/models: atomic, verified, and clear
when it cannot be done. Fake small parts stand in for the packages, so these run without them."""

import errno
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.jobs import Cancelled
from engine.models import catalog
from engine.models.common.errors import CheckpointError
from engine.models.whisper import sources


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _model_bin() -> bytes:
    """A small, structurally valid CTranslate2 model.bin (binary version 6)."""
    out = struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", 2)
    for name, array in (("decoder/embeddings/weight", np.arange(4096, dtype=np.float16).reshape(64, 64)),
                        ("decoder/num_heads", np.array(2, dtype=np.int16))):
        dtype_id = {np.float16: 4, np.int16: 2}[array.dtype.type]
        out += _string(name) + struct.pack("<B", array.ndim) + b"".join(struct.pack("<I", d) for d in array.shape)
        out += struct.pack("<BI", dtype_id, array.nbytes) + array.tobytes()
    return out + struct.pack("<I", 0)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Packaged 'base' as two packages' data folders; packaged_parts points at them."""
    blob = _model_bin()
    cut = len(blob) // 2
    site = tmp_path / "site"
    (site / "p1").mkdir(parents=True)
    (site / "p2").mkdir()
    files = {site / "p1" / "model.bin.part1": blob[:cut], site / "p2" / "model.bin.part2": blob[cut:],
             site / "p1" / "config.json": b"{}", site / "p1" / "tokenizer.json": b"{}"}
    for path, data in files.items():
        path.write_bytes(data)
    parts = sources.PackagedParts(sources.PACKAGED["base"], (site / "p1" / "model.bin.part1", site / "p2" / "model.bin.part2"),
                                  (site / "p1" / "config.json", site / "p1" / "tokenizer.json"),
                                  {p: hashlib.sha256(d).digest() for p, d in files.items()})
    monkeypatch.setattr(sources, "packaged_parts", lambda name: parts if name == "base" else None)
    monkeypatch.setattr(sources, "_CHUNK", 1024)  # several chunks, so failures can land mid-file
    return parts, blob


def _left(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_join_is_whole_and_listed(fake):
    parts, blob = fake
    seen = []
    folder = catalog.download_model("base", progress=seen.append)
    assert folder == catalog.models_dir() / "base"
    assert (folder / "model.bin").read_bytes() == blob and (folder / "config.json").read_bytes() == b"{}"
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 3
    assert _left(catalog.models_dir()) == ["base"]
    assert [m.name for m in catalog.installed_models() if m.source == "motet"] == ["base"]


def test_full_disk_mid_write_leaves_nothing(fake, monkeypatch):
    real_open = open

    class Full:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 2048:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

    def fake_open(path, mode="r", *a, **kw):
        f = real_open(path, mode, *a, **kw)
        return Full(f) if "w" in mode and Path(path).name == "model.bin" else f

    monkeypatch.setattr(sources, "open", fake_open, raising=False)
    with pytest.raises(CheckpointError, match="disk is full.*Nothing was installed"):
        catalog.download_model("base")
    assert _left(catalog.models_dir()) == []


def test_not_enough_free_space_is_said_before_writing(fake, monkeypatch):
    monkeypatch.setattr(sources.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(CheckpointError, match="not enough disk space"):
        catalog.download_model("base")
    assert _left(catalog.models_dir()) == []


def test_cancel_leaves_nothing(fake):
    calls = []
    with pytest.raises(Cancelled):
        catalog.download_model("base", should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert _left(catalog.models_dir()) == []


def test_damaged_part_is_refused(fake):
    parts, blob = fake
    path = parts.parts[1]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="RECORD hash"):
        catalog.download_model("base")
    assert _left(catalog.models_dir()) == []


def test_truncated_join_is_refused(fake):
    parts, _ = fake
    parts.hashes.clear()  # a package without hashes: the joined model.bin's structure still is checked
    path = parts.parts[1]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        catalog.download_model("base")
    assert _left(catalog.models_dir()) == []


def test_an_incomplete_folder_is_replaced_a_complete_one_kept(fake):
    parts, blob = fake
    target = catalog.models_dir() / "base"
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(blob[:100])  # left by hand, or by an older version
    assert catalog.download_model("base") == target
    assert (target / "model.bin").read_bytes() == blob and _left(catalog.models_dir()) == ["base"]
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert catalog.download_model("base") == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp


def test_stale_temporary_folders_are_cleared_and_never_listed(fake):
    root = catalog.models_dir()
    stale = root / ".base.partial-1-dead"
    stale.mkdir(parents=True)
    (stale / "model.bin").write_bytes(b"half")
    assert all(m.source != "motet" for m in catalog.installed_models())
    import os

    os.utime(stale / "model.bin", (0, 0))
    os.utime(stale, (0, 0))
    catalog.download_model("base")
    assert _left(root) == ["base"]


def test_without_the_packages_download_goes_to_the_hub(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    monkeypatch.setattr(sources, "packaged_parts", lambda name: None)
    asked = []

    def offline(repo, **kw):
        asked.append(repo)
        raise LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointError, match="cannot reach the Hugging Face Hub"):
        catalog.download_model("base")
    assert asked == ["openai/whisper-base"] and _left(catalog.models_dir()) == []
    with pytest.raises(CheckpointError, match="no installed model called 'base'"):
        catalog.resolve_model("base")
