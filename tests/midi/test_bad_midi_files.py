"""MIDI files that are valid bytes but absurd inside: each is refused with one MidiFileError that
names the file and the cause, before it can divide by zero or fill the memory."""

import struct

import mido
import pytest

from engine.midi import midifile
from engine.midi.midifile import MidiFileError, read_midi


def save(path, messages, ticks_per_beat=480):
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    mid.tracks.append(mido.MidiTrack(messages))
    mid.save(path)
    return path


def notes(count, length=240):
    out = []
    for i in range(count):
        out += [mido.Message("note_on", note=60 + i % 12, velocity=90, time=0),
                mido.Message("note_off", note=60 + i % 12, time=length)]
    return out


def test_tempo_zero_is_refused_not_a_division_by_zero(tmp_path):
    path = save(tmp_path / "still.mid", [mido.MetaMessage("set_tempo", tempo=0)] + notes(2))
    with pytest.raises(MidiFileError, match=r"'still.mid' has a tempo of 0"):
        read_midi(path)


def test_absurdly_fast_tempo_is_refused(tmp_path):
    path = save(tmp_path / "fast.mid", [mido.MetaMessage("set_tempo", tempo=1)] + notes(2))  # 60 million BPM
    with pytest.raises(MidiFileError, match=r"'fast.mid' has a tempo of 60000000 BPM"):
        read_midi(path)


def header(division: bytes) -> bytes:
    track = b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHH", 6, 1, 1) + division + b"MTrk" + struct.pack(">I", len(track)) + track


def test_zero_ticks_per_beat_is_not_called_smpte(tmp_path):
    path = tmp_path / "zero.mid"
    path.write_bytes(header(b"\x00\x00"))
    with pytest.raises(MidiFileError) as info:
        read_midi(path)
    assert "'zero.mid'" in str(info.value) and "0 ticks per beat" in str(info.value)
    assert "SMPTE" not in str(info.value)


def test_smpte_division_is_still_named(tmp_path):
    path = tmp_path / "smpte.mid"
    path.write_bytes(header(b"\xe7\x28"))  # -25 frames per second, 40 ticks per frame
    with pytest.raises(MidiFileError, match="SMPTE"):
        read_midi(path)


@pytest.mark.parametrize("content", [
    b"MThd",  # mido raises EOFError() with no message
    b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\x90",
    b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0XXXX\x00\x00\x00\x00",
])
def test_a_broken_file_always_gets_a_reason(tmp_path, content):
    path = tmp_path / "broken.mid"
    path.write_bytes(content)
    with pytest.raises(MidiFileError) as info:
        read_midi(path)
    message = str(info.value)
    assert message.startswith("'broken.mid' ") and "\n" not in message
    reason = message.rsplit(":", 1)[-1].strip()
    assert reason, f"empty reason: {message!r}"


def test_a_huge_file_is_refused_before_parsing(tmp_path, monkeypatch):
    path = save(tmp_path / "huge.mid", notes(200))
    monkeypatch.setattr(midifile, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(mido, "MidiFile", lambda *a, **k: pytest.fail("parsed a file over the size limit"))
    with pytest.raises(MidiFileError, match=r"'huge.mid' is .* larger than .* Motet reads"):
        read_midi(path)


def test_too_many_notes_is_refused(tmp_path, monkeypatch):
    path = save(tmp_path / "dense.mid", notes(30))
    monkeypatch.setattr(midifile, "MAX_NOTES", 20)
    with pytest.raises(MidiFileError, match=r"'dense.mid' has more than 20 notes"):
        read_midi(path)


def test_a_note_lasting_days_is_refused(tmp_path):
    # one note of 2**27 ticks at 480 per beat and 120 BPM: about 39 hours
    path = save(tmp_path / "long.mid", [mido.Message("note_on", note=60, velocity=90, time=0),
                                        mido.Message("note_off", note=60, time=2**27)])
    with pytest.raises(MidiFileError, match=r"'long.mid' lasts .* hours; Motet reads pieces up to"):
        read_midi(path)


def test_a_note_never_ended_in_a_long_empty_track_is_refused_too(tmp_path):
    path = save(tmp_path / "open.mid", [mido.Message("note_on", note=60, velocity=90, time=0),
                                        mido.MetaMessage("end_of_track", time=2**27)])
    with pytest.raises(MidiFileError, match="'open.mid' lasts"):
        read_midi(path)


def test_ordinary_files_still_read(tmp_path):
    path = save(tmp_path / "ok.mid", [mido.MetaMessage("set_tempo", tempo=500000)] + notes(30))
    score = read_midi(path)
    assert score.note_count() == 30 and score.bpm == 120


@pytest.mark.parametrize("numerator, denominator_power", [(0, 2), (4, 255)])
def test_an_impossible_time_signature_is_refused(tmp_path, numerator, denominator_power):
    path = tmp_path / "sig.mid"
    save(path, [mido.MetaMessage("time_signature", numerator=4, denominator=4)] + notes(2))
    raw = path.read_bytes().replace(b"\xff\x58\x04\x04\x02", b"\xff\x58\x04" + bytes([numerator, denominator_power]))
    path.write_bytes(raw)
    with pytest.raises(MidiFileError, match=r"'sig.mid' has a time signature of "):
        read_midi(path)


def test_an_impossible_key_signature_is_a_clear_error(tmp_path):
    """Found by mutating a real file: mido raises its own KeySignatureError, not a ValueError."""
    track = b"\x00\xff\x59\x02\x07\xa1\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"
    path = tmp_path / "key.mid"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 1, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track)
    with pytest.raises(MidiFileError, match=r"'key.mid' is not a readable MIDI file: .*key"):
        read_midi(path)
