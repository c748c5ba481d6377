"""Batch manifests and prompts files as a hostile or careless hand leaves them.

Manifests: lines of any JSON shape, torn lines and bytes that are not text, beside records that
reuse the real keys of a finished batch with outputs named outside the folder ("..", absolute
paths, links, folders). Whatever the manifest says, a rerun of `batch generate` and `batch
transcribe` ends with a summary (never an exception), writes nothing outside the output folder,
never changes a file it did not write (generate) or one the manifest does not record as a
batch's own (transcribe), and never copies a file from elsewhere into an output.

Prompts files: lines joined by every separator Python's ``str.splitlines`` knows (U+2028, form
feed, \\x85...), "\\r\\n", a byte-order mark, comments, and bytes that are not UTF-8. Only "\\n"
ends a prompt; a file is read as one prompt a line or refused with one line, and `motet batch
generate` on it exits 0 or 2 with a line starting "motet", never "unexpected error".
The workers are stand-ins (tests/batch/batch_fakes.py): what is fuzzed is the runner.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from batch.batch_fakes import transcript_of, use_fakes, wav
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batch.inputs import BatchInputError
from engine.batch.manifest import MANIFEST_NAME, STATUSES, Manifest, inside, safe_output
from engine.batch.runner import generate_batch, read_prompts, transcribe_batch
from engine.batch.workers import RenderSettings
from engine.cli import run

pytestmark = pytest.mark.timeout(900)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROMPTS = ["a lively jig", "slow piano", "a lively jig"]

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                max_size=3),
                    max_leaves=6)
NAMES = st.sampled_from(["../secret.txt", "SECRET", "link.txt", "up/secret.txt", "sub", "", ".", "./speech1.txt",
                         "speech1.txt", "speech2.txt", "a-lively-jig.wav", "slow-piano.wav", "x\\y", "a\x00b",
                         "sub/../speech1.txt", "mine.txt"]) | st.text(max_size=8)


@st.composite
def manifest_lines(draw, keys: list[str]) -> list[bytes]:
    """Lines to append to a finished batch's manifest: records that reuse its keys (or not) with
    outputs of any shape, other JSON, torn lines and bytes that are not UTF-8."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["record", "record", "record", "json", "bytes", "torn", "deep"]))
        if kind == "record":
            record = {"key": draw(st.sampled_from(keys) | JSON) if keys else draw(JSON),
                      "status": draw(st.sampled_from(["done", "done", "failed", "do"]) | JSON)}
            for field in ("outputs", "targets", "sources"):
                if draw(st.booleans()):
                    record[field] = draw(st.lists(NAMES, max_size=3) | JSON)
            lines.append(json.dumps(record).encode())
        elif kind == "json":
            lines.append(json.dumps(draw(JSON)).encode())
        elif kind == "bytes":
            lines.append(draw(st.binary(max_size=24)).replace(b"\n", b" "))
        elif kind == "torn":
            whole = json.dumps({"key": draw(st.sampled_from(keys)) if keys else "k", "status": "done",
                                "outputs": ["speech1.txt"]}).encode()
            lines.append(whole[:draw(st.integers(0, len(whole) - 1))])
        else:
            lines.append(b"[" * draw(st.integers(1, 50_000)))
    return lines


@pytest.fixture
def fakes(monkeypatch):
    use_fakes(monkeypatch)


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    return str(folder)


def _snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (links not followed): what it is and what it holds."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                found[path] = ("link", os.readlink(path))
            elif path.is_file():
                found[path] = ("file", path.read_bytes())
    return found


def _scene(root: Path) -> tuple[Path, Path]:
    """A secret outside the output folder, and links to it (and to its folder) inside."""
    secret = root / "secret.txt"
    secret.write_text("the secret")
    out = root / "out"
    out.mkdir()
    (out / "link.txt").symlink_to(secret)
    (out / "up").symlink_to(root)
    (out / "sub").mkdir()
    (out / "mine.txt").write_text("the user's own")
    return secret, out


def _append(out: Path, lines: list[bytes]) -> None:
    """``lines`` at the end of ``out``'s manifest, "SECRET" standing for the secret's absolute path."""
    secret = json.dumps(str(out.parent / "secret.txt"))[1:-1].encode()
    with open(out / MANIFEST_NAME, "ab") as f:
        f.write(b"\n".join(line.replace(b"SECRET", secret) for line in lines) + b"\n")


@FUZZ
@given(data=st.data())
def test_any_manifest_loads_to_checked_records(data, tmp_path):
    with tempfile.TemporaryDirectory(dir=tmp_path) as root:
        secret, out = _scene(Path(root))
        _append(out, data.draw(manifest_lines(["k1", "k2"])))
        manifest = Manifest(out)
        for key, record in manifest.records.items():
            assert isinstance(key, str) and record["status"] in STATUSES
            assert all(isinstance(name, str) for name in record.get("outputs", []))
            if manifest.done_record(key):
                for name in record["outputs"]:
                    path = safe_output(out, name)
                    assert path and not path.is_symlink() and out.resolve() in path.resolve().parents
        assert all(inside(name) for name in manifest.owned())


@FUZZ
@given(data=st.data())
def test_a_rerun_of_generate_over_any_manifest_changes_nothing_it_did_not_write(data, tmp_path, fakes, model):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    with tempfile.TemporaryDirectory(dir=tmp_path) as root:
        secret, out = _scene(Path(root))
        first = generate_batch(prompts, out, model, RenderSettings(seconds=0.2), 3)
        assert len(first.done) == 3
        keys = [json.loads(line)["key"] for line in (out / MANIFEST_NAME).read_text().splitlines()]
        for name in data.draw(st.lists(st.sampled_from([Path(p).name for p in first.outputs]), max_size=3)):
            (out / name).unlink(missing_ok=True)
        _append(out, data.draw(manifest_lines(keys)))
        before = _snapshot(out)
        again = generate_batch(prompts, out, model, RenderSettings(seconds=0.2), 3)
        assert len(again.done) + len(again.skipped) + len(again.failed) == 3 and not again.failed
        after = _snapshot(out)
        for path, was in before.items():
            if path.name != MANIFEST_NAME:
                assert after.get(path) == was, path  # nothing there before is changed
        for name in again.outputs:
            assert Path(name).parent == out and not Path(name).is_symlink()
        assert secret.read_text() == "the secret" and sorted(p.name for p in Path(root).iterdir()) == [
            "out", "secret.txt"]


@FUZZ
@given(data=st.data())
def test_a_rerun_of_transcribe_over_any_manifest_never_copies_a_file_from_elsewhere(data, tmp_path, fakes, model):
    with tempfile.TemporaryDirectory(dir=tmp_path) as root, tempfile.TemporaryDirectory(dir=tmp_path) as inputs:
        inputs = Path(inputs)
        wav(inputs / "speech1.wav", freq=440)
        wav(inputs / "speech2.wav", freq=660)
        secret, out = _scene(Path(root))
        first = transcribe_batch([inputs], out, model=model)
        assert len(first.done) == 2
        keys = [json.loads(line)["key"] for line in (out / MANIFEST_NAME).read_text().splitlines()]
        for name in data.draw(st.lists(st.sampled_from(["speech1.txt", "speech2.txt"]), max_size=2)):
            (out / name).unlink(missing_ok=True)
        if data.draw(st.booleans()):
            (inputs / "speech2.wav").rename(inputs / "renamed.wav")  # the same content under another name
        _append(out, data.draw(manifest_lines(keys)))
        owned = Manifest(out).owned()
        before = _snapshot(out)
        again = transcribe_batch([inputs], out, model=model)
        assert len(again.done) + len(again.skipped) == 2 and not again.failed
        after = _snapshot(out)
        for path, was in before.items():
            if path.name != MANIFEST_NAME and path.relative_to(out).as_posix() not in owned:
                assert after.get(path) == was, path  # only the manifest's own outputs are replaced
        for path, now in after.items():
            if path.suffix == ".txt" and now != before.get(path) and path.name != "mine.txt":
                assert now[0] == "file" and now[1].decode().strip() in (transcript_of("speech1.wav"),
                                                                        transcript_of("speech2.wav"),
                                                                        transcript_of("renamed.wav"))
        assert secret.read_text() == "the secret" and sorted(p.name for p in Path(root).iterdir()) == [
            "out", "secret.txt"]


SEPARATORS = ["\r", "\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\t", " ", "\x00", "#",
              "\ufeff"]
PIECES = st.sampled_from(SEPARATORS + ["jazz", "slow piano", "é", "\U0001f3b5"]) | st.text(max_size=4)


@st.composite
def prompt_files(draw) -> tuple[bytes, str | None]:
    """A prompts file's bytes, and its text (None when it is not UTF-8)."""
    lines = draw(st.lists(st.lists(PIECES, max_size=5).map("".join), max_size=6))
    text = draw(st.sampled_from(["", "\ufeff"])) + "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))
    data = text.encode("utf-8", "surrogatepass")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data, None  # a lone surrogate from st.text: not UTF-8
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff"])) + data[at:], None
    return data, text


def _expected(text: str) -> list[str]:
    lines = [line.removesuffix("\r").strip() for line in text.removeprefix("\ufeff").split("\n")]
    return [line for line in lines if line and not line.startswith("#")]


@FUZZ
@given(case=prompt_files())
def test_only_a_newline_ends_a_prompt_and_a_bad_file_is_one_line(case, tmp_path):
    data, text = case
    path = tmp_path / "prompts.txt"
    path.write_bytes(data)
    expected = _expected(text) if text is not None else None
    if expected:
        assert read_prompts(path) == expected
    else:
        with pytest.raises(BatchInputError) as caught:
            read_prompts(path)
        assert "\n" not in str(caught.value)
        assert ("not UTF-8" in str(caught.value)) == (text is None)


@settings(FUZZ, max_examples=40)
@given(case=prompt_files())
def test_batch_generate_on_any_prompts_file_exits_0_or_2_with_one_line(case, tmp_path, fakes, model):
    data, text = case
    path = tmp_path / "prompts.txt"
    path.write_bytes(data)
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = run(["batch", "generate", str(path), "--output-dir", str(out), "--model", model, "--seconds", "0.2",
                    "--seed", "1"])
    expected = _expected(text) if text is not None else []
    if expected:
        assert code == 0, stderr.getvalue()
        summary = json.loads(stdout.getvalue())
        assert len(summary["done"]) == len(expected) and len(list(out.glob("*.wav"))) == len(expected)
    else:
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("motet: ")
        assert "unexpected error" not in lines[0]
