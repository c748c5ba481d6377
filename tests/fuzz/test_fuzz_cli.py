"""Every `motet` subcommand with options a hostile or careless user might type.

Values come from a pool of the usual suspects (0, -1, nan, inf, 1e309, empty, words, huge
numbers) beside small valid ones; files are real, broken, missing, or two inputs with one name.
The outcome is a result (exit 0, and what it promised is there) or a clear error: a non-zero
exit with a line starting ``motet``, never a traceback, never "unexpected error" (a bug the
top-level guard caught), never a hang (the test's timeout). Commands that would run for long
with valid options (record, train) are fuzzed through their parser: what it accepts must be
within the limits the command can honour.
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.cli import build_parser, run

pytestmark = pytest.mark.timeout(1800)
ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WILD = ["0", "-1", "nan", "inf", "-inf", "1e309", "1e-9", "", "x", "100000", "2147483648", "0x10", "-0"]
SMALL = ["1", "2", "0.5"]
VALUES = st.sampled_from(WILD + SMALL)


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run(argv)
        except SystemExit as exc:  # the parser's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str], code: int, err: str) -> None:
    event(f"exit {code}")  # --hypothesis-show-statistics: how many examples ran to a result
    assert "Traceback" not in err and "unexpected error" not in err, (argv, err)
    assert code != 70, (argv, err)
    if code != 0:
        lines = [line.strip() for line in err.replace("\r", "\n").splitlines() if line.strip()]
        assert any(line.startswith("motet") for line in lines), (argv, err)


def flags(draw, spec: dict) -> list[str]:
    argv = []
    for name in draw(st.lists(st.sampled_from(sorted(spec)), unique=True, max_size=len(spec))):
        value = spec[name]
        argv += [name] if value is None else [name, draw(value)]
    return argv


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), "Hello there."], check=True)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, speech) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "twin").mkdir()
    shutil.copy(speech, folder / "twin" / "hello.wav")  # the same name as `speech`, elsewhere
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    (folder / "a-file").write_text("not a folder")
    (folder / "empty-model").mkdir()
    return {"speech": speech, "twin": folder / "twin" / "hello.wav", "broken": folder / "broken.wav",
            "missing": folder / "missing.wav", "broken_mid": folder / "broken.mid",
            "motif": ROOT / "assets" / "motifs" / "two-bar-groove.mid", "file": folder / "a-file",
            "empty_model": folder / "empty-model", "root": folder}


@FUZZ
@given(st.data())
def test_transcribe(files, tmp_path, data):
    sane = data.draw(st.booleans(), label="only valid values")  # so that many examples run to a result
    inputs = data.draw(st.lists(st.sampled_from(["speech", "twin"] if sane else ["speech", "twin", "broken", "missing"]),
                                min_size=1, max_size=3), label="inputs")
    fresh = tmp_path / uuid.uuid4().hex  # this example's own folders
    out_dir = data.draw(st.sampled_from(["out", "new/deep", ""] if sane else ["out", "a-file", "new/deep", ""]),
                        label="output dir")
    target = files["file"] if out_dir == "a-file" else fresh / out_dir
    argv = ["transcribe", *[str(files[i]) for i in inputs], "--output-dir", str(target) if out_dir else ""]
    small = st.sampled_from(["1", "2"])
    argv += data.draw(st.composite(lambda d: flags(d, {
        "--beam-size": small if sane else VALUES, "--batch-size": small if sane else VALUES,
        "--language": st.sampled_from(["en"] if sane else ["en", "de", "xx", "", "English"]),
        "--task": st.sampled_from(["transcribe"] if sane else ["transcribe", "translate", "x"]),
        "--format": st.sampled_from(["txt", "srt", "vtt", "json"] + ([] if sane else ["doc"])),
        "--compute-type": st.sampled_from(["float32", "int8"] + ([] if sane else ["int4", ""])),
        "--device": st.sampled_from(["auto", "cpu"] + ([] if sane else ["cuda", "mps", "gpu"])),
        "--model": st.sampled_from(["tiny.en"] + ([] if sane else ["no-such-model", str(files["empty_model"])])),
        "--word-timestamps": None}))(), label="options")
    fresh.mkdir()
    with contextlib.chdir(fresh):  # an empty --output-dir means here
        code, _, err = invoke(argv)
    check(argv, code, err)
    if code == 0:  # every input got its own transcript, none overwrote another
        written = [p for p in target.iterdir() if p.is_file()]
        assert len(written) == len(set(inputs)), (argv, written)
    elif sane:  # only one way for valid values to fail: two inputs (all are hello.wav) that would write one file
        assert len(inputs) > 1 and "would both be written to" in err, (argv, err)


@FUZZ
@given(st.data())
def test_continue(files, tmp_path, data):
    sane = data.draw(st.booleans(), label="only valid values")
    midi = data.draw(st.sampled_from(["motif"] if sane else ["motif", "broken_mid", "missing"]), label="midi")
    out = data.draw(st.sampled_from([tmp_path / "out", tmp_path / "new"] + ([] if sane else [files["file"]])),
                    label="out")
    argv = ["continue", str(files[midi] if midi != "missing" else files["root"] / "missing.mid"), "--out", str(out)]
    small = st.sampled_from(["1", "2", "1.5"])
    argv += data.draw(st.composite(lambda d: flags(d, {
        "--bars": small if sane else VALUES, "--variations": st.sampled_from(["1", "2"]) if sane else VALUES,
        "--temperature": small if sane else VALUES, "--top-p": st.sampled_from(["0.9", "1"]) if sane else VALUES,
        "--seed": small.filter(lambda v: "." not in v) if sane else VALUES,
        "--track": st.just("0") if sane else VALUES,
        **({} if sane else {"--model": st.sampled_from([str(files["empty_model"]), str(files["file"])])}),
    }))(), label="options")
    code, stdout, err = invoke(argv)
    check(argv, code, err)
    if code == 0:
        assert Path(out).is_dir() and list(Path(out).glob("*-continued-*.mid")), (argv, stdout)
    else:
        assert not sane, (argv, err)


@FUZZ
@given(st.data())
def test_models_takes_devices(files, tmp_path, monkeypatch, data):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    argv = data.draw(st.sampled_from([
        ["models", "list"], ["models", "download", "tiny"], ["models", "download", ""],
        ["models", "download", "../../etc"], ["models", "download", "no/such/thing"], ["models"],
        ["takes"], ["takes", "--recover"], ["devices"], ["devices", "--json"], ["takes", "--json"]]))
    code, _, err = invoke(argv)
    check(argv, code, err)


def _numbers_within(namespace, positive: tuple[str, ...]) -> None:
    for name, value in vars(namespace).items():
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
        if name in positive and value is not None:
            assert value > 0, (name, value)


@FUZZ
@given(st.data())
def test_record_and_train_parsers_accept_only_what_they_can_honour(data):
    command = data.draw(st.sampled_from(["record", "train"]))
    if command == "record":
        argv = ["record", *data.draw(st.composite(lambda d: flags(d, {
            "--seconds": VALUES, "--channels": VALUES, "--name": st.sampled_from(["", "a/b", "x" * 300, "ok"]),
            "--compute-type": st.sampled_from(["int8", "int4"]), "--transcribe": None}))())]
        positive = ("seconds", "channels")
    else:
        argv = ["train", "music-transformer", *data.draw(st.composite(lambda d: flags(d, {
            "--steps": VALUES, "--batch": VALUES, "--length": VALUES, "--d-model": VALUES, "--layers": VALUES,
            "--heads": VALUES, "--eval-every": VALUES, "--lr": VALUES, "--threads": VALUES}))())]
        positive = ("steps", "batch", "length", "d_model", "layers", "heads", "eval_every", "lr", "threads")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            namespace = build_parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code == 2
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("motet"), (argv, err.getvalue())
            return
    _numbers_within(namespace, positive)
