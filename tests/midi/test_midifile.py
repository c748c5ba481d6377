"""Standard MIDI files: round trips, files made by other programs, broken files."""

from pathlib import Path

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.midi.midifile import MidiFileError, read_midi, write_midi
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track


def fifo_safe(notes: list[Note]) -> bool:
    """MIDI cannot tell which of two overlapping notes of one pitch ends first; the reader pairs
    first in, first out. Scores where that is the truth round-trip exactly."""
    by_pitch: dict[int, list[Note]] = {}
    for n in sorted(notes):
        by_pitch.setdefault(n.pitch, []).append(n)
    for group in by_pitch.values():
        ends = [n.end for n in group]
        if ends != sorted(ends):
            return False
    return True


notes_st = st.lists(st.builds(Note, start=st.integers(0, 5000), pitch=st.integers(0, 127),
                              duration=st.integers(1, 2000), velocity=st.integers(1, 127)), max_size=40)


@st.composite
def scores(draw):
    channels = draw(st.lists(st.integers(0, 15), min_size=1, max_size=4, unique=True))
    tracks = []
    for i, ch in enumerate(channels):
        notes = draw(notes_st.filter(fifo_safe))
        tracks.append(Track(name=f"T{i}", channel=ch, program=draw(st.integers(0, 127)), notes=sorted(notes)))
    tempo_ticks = sorted(set([0] + draw(st.lists(st.integers(1, 8000), max_size=3))))
    tempos = [TempoChange(t, draw(st.integers(200_000, 2_000_000))) for t in tempo_ticks]
    sig_ticks = sorted(set([0] + draw(st.lists(st.integers(1, 8000), max_size=2))))
    sigs = [TimeSignature(t, draw(st.integers(1, 15)), draw(st.sampled_from([2, 4, 8, 16]))) for t in sig_ticks]
    return Score(ticks_per_beat=draw(st.sampled_from([96, 192, 480, 960])), tracks=tracks, tempos=tempos,
                 time_signatures=sigs)


def canonical(score: Score):
    return (score.ticks_per_beat,
            sorted((t.channel, t.program, tuple(sorted(t.notes))) for t in score.tracks if t.notes),
            score.tempos, score.time_signatures)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scores())
def test_write_read_round_trip_is_exact(tmp_path_factory, score):
    path = tmp_path_factory.mktemp("rt") / "score.mid"
    write_midi(score, path)
    assert canonical(read_midi(path)) == canonical(score)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes_st)
def test_any_overlaps_keep_every_note_start_and_end(tmp_path_factory, notes):
    """Even when the pairing is ambiguous, each pitch keeps its note count, starts and ends."""
    score = Score(tracks=[Track(notes=notes)])
    path = tmp_path_factory.mktemp("ov") / "o.mid"
    write_midi(score, path)
    back = read_midi(path).tracks[0].notes if notes else []

    def summary(ns):
        return sorted((n.pitch, n.start) for n in ns), sorted((n.pitch, n.end) for n in ns)

    assert summary(back) == summary(notes)


def test_type0_running_status_and_velocity_zero_note_offs(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack()
    track += [mido.MetaMessage("set_tempo", tempo=400000, time=0),
              mido.Message("program_change", channel=0, program=40, time=0),
              mido.Message("program_change", channel=9, program=0, time=0),
              mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
              mido.Message("note_on", channel=0, note=64, velocity=80, time=0),  # running status
              mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
              mido.Message("note_on", channel=0, note=60, velocity=0, time=96),  # vel 0 = off
              mido.Message("note_on", channel=9, note=36, velocity=0, time=0),
              mido.Message("note_off", channel=0, note=64, velocity=0, time=96)]
    mid.tracks.append(track)
    path = tmp_path / "t0.mid"
    mid.save(path)
    raw = path.read_bytes()
    assert raw.count(b"\x90") < 5  # mido wrote running status: not every note-on repeats its status
    score = read_midi(path)
    assert score.tempos == [TempoChange(0, 400000)]
    by_channel = {t.channel: t for t in score.tracks}
    assert by_channel[0].program == 40
    assert by_channel[0].notes == [Note(0, 60, 96, 90), Note(0, 64, 192, 80)]
    assert by_channel[9].is_drums and by_channel[9].notes == [Note(0, 36, 96, 100)]
    # written back as type 1 and as type 0, the same notes
    for midi_type in (0, 1):
        write_midi(score, tmp_path / f"back{midi_type}.mid", midi_type=midi_type)
        assert canonical(read_midi(tmp_path / f"back{midi_type}.mid")) == canonical(score)


def test_program_change_mid_track_starts_a_new_track(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("track_name", name="Lead"),
        mido.Message("program_change", program=0, time=0),
        mido.Message("note_on", note=60, velocity=100, time=0), mido.Message("note_off", note=60, time=480),
        mido.Message("program_change", program=73, time=0),
        mido.Message("note_on", note=72, velocity=100, time=0), mido.Message("note_off", note=72, time=480)]))
    mid.save(tmp_path / "p.mid")
    score = read_midi(tmp_path / "p.mid")
    assert [(t.program, [n.pitch for n in t.notes]) for t in score.tracks] == [(0, [60]), (73, [72])]


@pytest.mark.parametrize("content, why", [
    (b"", "not a readable"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a readable"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x90\x3c", "not a readable"),  # truncated
])
def test_corrupt_or_truncated_files_give_a_clear_error(tmp_path, content, why):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiFileError, match=why):
        read_midi(path)


def test_missing_file_and_failed_write_leave_nothing_behind(tmp_path):
    with pytest.raises(MidiFileError, match="does not exist"):
        read_midi(tmp_path / "nope.mid")
    good = tmp_path / "keep.mid"
    write_midi(Score(tracks=[Track(notes=[Note(0, 60, 480)])]), good)
    before = good.read_bytes()
    with pytest.raises(Exception):
        write_midi(Score(tempos=[TempoChange(0, 2**25)]), good)  # no such tempo: the old file stays
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mid"]


music21 = pytest.importorskip("music21")


@pytest.mark.parametrize("work", ["bach/bwv66.6", "bach/bwv7.7", "schoenberg/opus19/movement2"])
def test_files_written_by_music21_read_without_losing_notes(tmp_path, work):
    stream = music21.corpus.parse(work)
    path = Path(stream.write("midi", fp=str(tmp_path / "m21.mid")))
    mid = mido.MidiFile(str(path))
    raw_note_ons = sum(1 for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0)
    score = read_midi(path)
    assert raw_note_ons > 50
    assert score.note_count() == raw_note_ons
    assert len(score.tracks) >= 1 and score.tempos
    # and through our writer and reader once more, unchanged
    write_midi(score, tmp_path / "again.mid")
    assert canonical(read_midi(tmp_path / "again.mid")) == canonical(score)
