"""The music job bodies without Qt: continue a motif (through the model registry), merge a
variation into a track, render and export a score."""

import numpy as np
import pytest
import soundfile as sf

from engine.jobs import JobQueue, JobState
from engine.midi.midifile import read_midi
from engine.midi.score import Note, Score, Track
from engine.models.registry import models
from engine.tasks import music

MOTIF = "assets/motifs/two-bar-groove.mid"


def test_continue_motif_as_a_job_with_progress_and_the_model_kept():
    score = read_midi(MOTIF)
    prompt = [n for t in score.tracks if not t.is_drums for n in t.notes]
    queue, events = JobQueue(), []
    queue.subscribe(events.append)
    try:
        job = queue.submit(music.continue_motif, score, prompt, 1, 2, 1.0, 0.95, 7, lane="gpu")
        assert job.wait(600) and job.state is JobState.FINISHED, job.error
    finally:
        queue.shutdown()
    variations = job.result
    assert len(variations) == 2 and all(v for v in variations)
    end = max(n.end for n in prompt)
    assert all(n.start >= min(p.start for p in prompt) and 0 <= n.pitch <= 127 for v in variations for n in v)
    assert any(n.start >= end for v in variations for n in v)  # it goes on after the prompt
    assert [e.message for e in events if e.kind == "progress"][:1] == ["loading the composer"]  # shipped: it continues
    assert any(e.key[0] == "composer" for e in models.loaded())
    # the same seed without a job (what `motet continue` does) gives the same notes
    assert music.continue_motif(None, score, prompt, 1, 2, 1.0, 0.95, 7) == variations


def test_with_notes_adds_to_one_track_and_leaves_the_score_alone():
    score = Score(ticks_per_beat=480, tracks=[Track(notes=[Note(0, 60, 480, 90)]), Track(channel=1)])
    added = music.with_notes(score, 1, [Note(480, 64, 240, 80)])
    assert [len(t.notes) for t in added.tracks] == [1, 1] and [len(t.notes) for t in score.tracks] == [1, 0]
    assert music.with_notes(Score(ticks_per_beat=480, tracks=[]), 0, [Note(0, 60, 10, 90)]).note_count() == 1


def test_render_and_export(tmp_path):
    score = Score(ticks_per_beat=480, tracks=[Track(notes=[Note(0, 60, 480, 90), Note(480, 67, 480, 90)])])
    audio = music.render_score(None, score, tail=0.5)
    assert audio.ndim == 2 and audio.shape[1] == 2 and np.abs(audio).max() > 0.01
    path = music.export_wav(None, score, tmp_path / "out.wav")
    data, rate = sf.read(path)
    assert data.shape[0] / rate == pytest.approx(2.0, abs=0.05)  # two beats at 120 BPM and a second's tail
    assert np.abs(data).max() > 0.01 and data.shape[0] == music.render_score(None, score).shape[0]
