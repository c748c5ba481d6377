"""`motet continue` says which track it continued and which it left (issue #29 item 2): on
two-bar-groove.mid only the bass was continued and the drums stopped after bar 2, silently."""

from engine.cli import run
from engine.midi.midifile import read_midi
from engine.midi.score import Note
from engine.midi.synth import ASSETS
from engine.tasks import music as music_jobs

GROOVE = ASSETS / "motifs" / "two-bar-groove.mid"


def fake_continue(asked):
    def body(ctx, score, prompt, bars, variations, *rest, **kw):
        asked.append(list(prompt))
        end = max(n.end for n in prompt)
        return [[Note(end, 40, 240)]] * variations
    return body


def test_continue_names_the_track_and_the_drums_left_behind(tmp_path, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(music_jobs, "continue_motif", fake_continue(asked))
    assert run(["continue", str(GROOVE), "--variations", "1", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    bass = read_midi(str(GROOVE)).tracks[1].notes
    assert sorted(asked[0]) == sorted(bass)
    line = err.strip().splitlines()[0]
    assert 'continuing track 1 "Bass" (10 notes)' in line, err
    assert 'track 0 "Drums" (drums) stops after bar 2' in line and "--track N" in line, err
    assert "two-bar-groove-continued-1.mid: 1 new notes" in out


def test_continue_with_track_says_that_track(tmp_path, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(music_jobs, "continue_motif", fake_continue(asked))
    assert run(["continue", str(GROOVE), "--track", "0", "--variations", "1", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert 'continuing track 0 "Drums" (24 notes)' in err and 'track 1 "Bass" stops after bar 2' in err
    assert len(asked[0]) == 24


def test_continue_of_several_tracks_says_where_the_new_notes_go(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(music_jobs, "continue_motif", fake_continue([]))
    walking = ASSETS / "motifs" / "walking-motif.mid"
    assert run(["continue", str(walking), "--variations", "1", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert 'continuing track 0 "Melody" and track 1 "Bass" together' in err
    assert 'the new notes go into track 0 "Melody"' in err and "not continued" not in err


def test_a_one_track_file_gets_no_track_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(music_jobs, "continue_motif", fake_continue([]))
    arpeggios = ASSETS / "motifs" / "minor-arpeggios.mid"
    assert run(["continue", str(arpeggios), "--variations", "1", "--out", str(tmp_path)]) == 0
    assert "continuing" not in capsys.readouterr().err
