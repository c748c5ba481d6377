"""Prompts a hostile or careless user might type, through everything that reads one.

Text comes from hypothesis: any Unicode (control characters, NUL, emoji, right-to-left, combining
marks), argv bytes that are not UTF-8 (Python hands them over as lone surrogates), very long
prompts, and the composer's own words mixed with numbers and minus signs ("-5 bars", "tempo
-120"). The prompt reader, the check on text, the tags of a generated file, `motet generate` and
`motet compose` each give a result or one clear line (exit 2), never a traceback, never
"unexpected error"; a result never uses a negative count, and a file's tags always carry the seed.
"""

from __future__ import annotations

import contextlib
import io
import uuid

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audio.generations import Generation, write_tagged
from engine.cli import run
from engine.models.composer.prompt import read_prompt
from engine.tasks.generate import check_prompt

pytestmark = pytest.mark.timeout(1800)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(FUZZ, max_examples=15)  # each example runs a model

WORDS = ["a", "jig", "reel", "slow", "waltz", "in", "D", "E", "minor", "major", "F#", "B♭", "key", "of", "bars",
         "bar", "bpm", "tempo", "voices", "trio", "for", "fiddle", "piano", "3/4", "6/8", "0", "1", "5", "16", "64",
         "65", "1000", "-5", "−3", "-0", "-120", "4-5", "120", "7.5", "-2.5", "sixteen", "twenty", "one", "♩", ",",
         "!", "H", "major", "zzz", "\x00", "\t", "\n"]


def not_utf8(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")  # what Python makes of an argument in another encoding


TEXT = st.text(max_size=200)
ARGV_BYTES = st.binary(max_size=120).map(not_utf8)
SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
COMPOSER_WORDS = st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join)
LONG = st.text(min_size=900, max_size=6000)
PROMPTS = st.one_of(TEXT, ARGV_BYTES, COMPOSER_WORDS, LONG,
                    st.tuples(COMPOSER_WORDS, SURROGATES, TEXT).map("".join))


def is_text(prompt: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in prompt)


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run(argv)
        except SystemExit as exc:  # the parser's one-line errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str], code: int, err: str) -> None:
    assert "Traceback" not in err and "unexpected error" not in err and code != 70, (argv, err)
    if code != 0:
        lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
        assert code == 2 and lines[-1].startswith("motet"), (argv, err)


@FUZZ
@given(PROMPTS)
def test_the_text_check_refuses_exactly_what_is_not_text(prompt):
    if is_text(prompt):
        check_prompt(prompt)
        return
    with pytest.raises(ValueError) as info:
        check_prompt(prompt)
    message = str(info.value)
    assert message.startswith("the prompt is not valid text (") and "\n" not in message
    assert is_text(message)  # printable as it is


@FUZZ
@given(PROMPTS, st.integers(0, 2**31 - 1))
def test_the_composer_reads_any_prompt_and_never_uses_a_negative(prompt, seed):
    try:
        reading = read_prompt(prompt, seed=seed)
    except ValueError as exc:  # a value the model cannot take: said in one line
        assert str(exc) and "\n" not in str(exc)
        return
    c = reading.controls
    assert c.bars >= 1 and c.bpm > 0 and c.voices >= 1
    negative = [notice for notice in reading.notices if notice.endswith("is negative: ignored")]
    for notice in negative:  # its words are listed as ignored
        words = notice[1:notice.index("' is negative")]
        assert words.split()[-1] in reading.ignored or words.split()[0] in reading.ignored, (prompt, reading)


@FUZZ
@given(PROMPTS.filter(is_text), st.integers(0, 2**31 - 1), st.sampled_from(["wav", "flac"]))
def test_a_generated_files_tags_always_carry_its_seed(tmp_path, prompt, seed, suffix):
    g = Generation("", prompt, "musicgen-small", seed, 0.1, 8000, 1, 0.0, {"guidance": 3.0, "top_k": 250})
    out = write_tagged(np.zeros((1, 800), dtype=np.float32), 8000, tmp_path / f"{uuid.uuid4().hex}.{suffix}", g)
    with sf.SoundFile(str(out)) as f:
        assert f.comment.startswith(f"model musicgen-small, seed {seed}, "), (prompt, f.comment)
        assert f.title and f.frames == 800


@SLOW
@given(PROMPTS)
def test_generate_makes_music_or_says_why_in_one_line(tiny_musicgen_folder, tmp_path, monkeypatch, prompt):
    fresh = tmp_path / uuid.uuid4().hex
    fresh.mkdir()
    monkeypatch.chdir(fresh)  # the default name, from the prompt, lands here
    argv = ["generate", prompt, "--model", str(tiny_musicgen_folder), "--seconds", "0.2", "--seed", "1"]
    code, out, err = invoke(argv)
    check(argv, code, err)
    written = list(fresh.glob("*.wav"))
    if not is_text(prompt):
        assert code == 2 and "not valid text" in err and not written, (argv, err)
        return
    assert code == 0 and len(written) == 1, (argv, err)
    with sf.SoundFile(str(written[0])) as f:
        assert "seed 1," in f.comment


@pytest.fixture(scope="module")
def composer(tmp_path_factory):
    from composer_helpers import random_composer

    return random_composer(tmp_path_factory.mktemp("composer"))


@SLOW
@given(PROMPTS)
def test_compose_writes_a_piece_or_says_why_in_one_line(composer, tmp_path, prompt):
    out = tmp_path / uuid.uuid4().hex
    argv = ["compose", prompt, "--bars", "2", "--seed", "1", "--model", str(composer), "--out", str(out)]
    code, stdout, err = invoke(argv)
    check(argv, code, err)
    if not is_text(prompt):
        assert "not valid text" in err and not out.exists(), (argv, err)
    elif code == 0:
        assert [p.name for p in out.iterdir()] == ["compose-1-1.mid"], (argv, err)
