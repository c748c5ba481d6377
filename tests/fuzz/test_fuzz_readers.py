"""Damaged audio and MIDI files, as a hostile or unlucky user would give them.

Valid files (WAV 16-bit, WAV float stereo, FLAC, a MIDI piece) are damaged by hypothesis: bytes
flipped, the file cut short, header fields (channels, sample rate, block size, data size, ticks
per beat, a tempo) set to 0, 1 or huge values, float samples set to NaN or infinity. Whatever
comes in, a reader gives a sane result or its own error with a one-line message: never another
exception, never a hang (the test's timeout), never non-finite samples or a zero tempo out.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audio.files import AudioFileError, audio_info, load_audio
from engine.midi.midifile import MidiFileError, read_midi, write_midi
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track

pytestmark = pytest.mark.timeout(900)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
WILD_U32 = [0, 1, 2, 3, 255, 8000, 16000, 44100, 384000, 10**9, 0x7FFFFFFF, 0xFFFFFFFF]
WILD_U16 = [0, 1, 2, 3, 8, 24, 32, 64, 255, 0x7FFF, 0xFFFF]


def _audio_file(fmt: str, subtype: str, channels: int, rate: int = 22050) -> bytes:
    t = np.arange(int(rate * 0.25)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone] * channels, axis=1), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


BASES = {"pcm16.wav": _audio_file("WAV", "PCM_16", 1), "float.wav": _audio_file("WAV", "FLOAT", 2),
         "pcm24.flac": _audio_file("FLAC", "PCM_24", 1)}


def _chunk(data: bytes, name: bytes) -> int:
    """Offset of a RIFF chunk's body, or -1."""
    pos = 12
    while pos + 8 <= len(data):
        size = struct.unpack_from("<I", data, pos + 4)[0]
        if data[pos:pos + 4] == name:
            return pos + 8
        pos += 8 + size + (size & 1)
    return -1


@st.composite
def audio_damage(draw) -> tuple[str, list]:
    """A base file's name and what to do to it (small, so a failing case reads well)."""
    name = draw(st.sampled_from(sorted(BASES)))
    size, ops = len(BASES[name]), []
    if name.endswith(".wav"):
        fields = [("<H", "fmt ", 2, WILD_U16), ("<I", "fmt ", 4, WILD_U32), ("<I", "fmt ", 8, WILD_U32),
                  ("<H", "fmt ", 12, WILD_U16), ("<H", "fmt ", 14, WILD_U16), ("<I", "data", -4, WILD_U32)]
        for layout, chunk, offset, values in draw(st.lists(st.sampled_from(fields), max_size=3)):
            ops.append(("field", layout, chunk, offset, draw(st.sampled_from(values))))
        if name == "float.wav":  # non-finite samples
            for index in draw(st.lists(st.integers(0, 5000), max_size=3)):
                ops.append(("sample", index, draw(st.sampled_from([float("nan"), float("inf"), float("-inf"), 3e38]))))
    ops += [("byte", offset, value) for offset, value in
            draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, 255)), max_size=4))]
    if draw(st.booleans()):
        ops.append(("cut", draw(st.integers(0, size))))
    return name, ops


def damage_audio(name: str, ops: list) -> bytes:
    data = bytearray(BASES[name])
    for op in ops:
        if op[0] == "field":
            _, layout, chunk, offset, value = op
            struct.pack_into(layout, data, _chunk(data, chunk.encode()) + offset, value)
        elif op[0] == "sample":
            body = _chunk(data, b"data")
            if body + 4 * op[1] + 4 <= len(data):
                struct.pack_into("<f", data, body + 4 * op[1], op[2])
        elif op[0] == "byte":
            data[op[1]] = op[2]
        else:
            data = data[:op[1]]
    return bytes(data)


def _one_line(message: str) -> None:
    assert message.strip() and "\n" not in message.strip(), repr(message)
    assert not message.rstrip().endswith(":"), repr(message)  # a reason, not an empty one


@FUZZ
@given(audio_damage())
def test_damaged_audio_gives_audio_or_a_clear_error(tmp_path, damage):
    name, ops = damage
    path = tmp_path / name
    path.write_bytes(damage_audio(name, ops))
    try:
        info = audio_info(path)
        assert info.sample_rate > 0 and info.channels > 0
    except AudioFileError as exc:
        _one_line(str(exc))
    try:
        audio, rate = load_audio(path, 16000, mono=True)
    except AudioFileError as exc:
        _one_line(str(exc))
        return
    assert rate == 16000 and audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 1
    assert audio.shape[0] > 0 and np.isfinite(audio).all()


def _midi_base() -> bytes:
    notes = [Note(i * 240, 60 + i % 12, 200, 90) for i in range(24)]
    score = Score(ticks_per_beat=480, tracks=[Track(name="lead", channel=0, program=0, notes=notes),
                                              Track(name="bass", channel=1, program=33, notes=notes[::3])],
                  tempos=[TempoChange(0, 500_000), TempoChange(1920, 400_000)],
                  time_signatures=[TimeSignature(0, 4, 4)])
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return write_midi(score, Path(folder) / "base.mid").read_bytes()


MIDI_BASE = _midi_base()


@st.composite
def midi_damage(draw) -> list:
    ops = []
    if draw(st.booleans()):  # ticks per beat (0, SMPTE, odd values)
        ops.append(("division", draw(st.sampled_from([0, 1, 0x7FFF, 0x8000, 0xE250, 0xFFFF]))))
    if draw(st.booleans()):
        ops.append(("tempo", draw(st.sampled_from([0, 1, 0xFFFFFF]))))
    ops += [("byte", offset, value) for offset, value in
            draw(st.lists(st.tuples(st.integers(0, len(MIDI_BASE) - 1), st.integers(0, 255)), max_size=4))]
    if draw(st.booleans()):
        ops.append(("cut", draw(st.integers(0, len(MIDI_BASE)))))
    return ops


def damage_midi(ops: list) -> bytes:
    data = bytearray(MIDI_BASE)
    for op in ops:
        if op[0] == "division":
            struct.pack_into(">H", data, 12, op[1])
        elif op[0] == "tempo":
            at = data.find(b"\xff\x51\x03")
            data[at + 3:at + 6] = op[1].to_bytes(3, "big")
        elif op[0] == "byte":
            data[op[1]] = op[2]
        else:
            data = data[:op[1]]
    return bytes(data)


@FUZZ
@given(midi_damage())
def test_damaged_midi_gives_a_score_or_a_clear_error(tmp_path, ops):
    path = tmp_path / "piece.mid"
    path.write_bytes(damage_midi(ops))
    try:
        score = read_midi(path)
    except MidiFileError as exc:
        _one_line(str(exc))
        return
    assert score.ticks_per_beat > 0
    assert all(t.microseconds_per_beat > 0 for t in score.tempos)
    assert all(ts.numerator > 0 and ts.denominator > 0 for ts in score.time_signatures)
    seconds = score.seconds_at(score.end_tick)
    assert np.isfinite(seconds) and seconds >= 0
    write_midi(score, tmp_path / "again.mid")  # what was read can be saved
