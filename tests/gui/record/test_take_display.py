"""What the Record page shows of a take: its whole spectrogram and waveform, Play that turns into
Stop while it plays, and a transcript status that says what the take is (no audio device needed)."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from qt_wait import wait_until

from engine.audio.takes import TakeLibrary
from gui.record.live_transcription import live_status

SR = 16000
LOAD_S = 60  # reading a few seconds of audio and its spectrogram on the cpu lane: no real work


def _add_take(lib, name, seconds, sr=SR):
    take = lib.begin(sr, 1, name=name)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(take.path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV", subtype="FLOAT")
    return lib.commit(take, seconds)


@pytest.fixture
def view(record_view_of, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    _add_take(lib, "Long", 25.0)  # longer than the 10 s the live spectrogram scrolls through
    _add_take(lib, "Short", 2.0)
    return record_view_of(lib)


def _take(view, name):
    return next(t for t in view.library.list() if t.name == name)


def _shown(view, take):
    return view.display.path == take.path and not view.display.loading


def test_selecting_a_take_shows_its_whole_spectrogram_and_waveform(view):
    assert view.spectrogram.mode == "idle" and not view.waveform.isVisible()  # nothing selected yet
    long = _take(view, "Long")
    view.refresh_takes(select=long.id)  # what Stop does with the new take
    wait_until(lambda: _shown(view, long), LOAD_S, "the take's audio")
    assert view.spectrogram.mode == "static"
    assert view.spectrogram.x_range() == pytest.approx((0.0, 25.0), abs=0.05)  # all of it, not the last 10 s
    assert view.waveform.isVisible() and view.waveform.duration == pytest.approx(25.0)
    assert view.waveform.viewbox.viewRange()[0] == pytest.approx([0.0, 25.0], abs=0.05)
    assert view.display.info.duration == pytest.approx(25.0)

    short = _take(view, "Short")
    view.refresh_takes(select=short.id)
    wait_until(lambda: _shown(view, short), LOAD_S, "the other take's audio")
    assert view.spectrogram.x_range() == pytest.approx((0.0, 2.0), abs=0.05)
    view.spectrogram.viewbox.setXRange(0.5, 1.0, padding=0)  # zooming one zooms the other
    assert view.waveform.viewbox.viewRange()[0] == pytest.approx([0.5, 1.0], abs=1e-3)

    view.takes.clearSelection()
    assert view.spectrogram.mode == "idle" and not view.waveform.isVisible()


class FakePlayer:
    """Stands in for the sound output: plays nothing, says what it was asked."""

    def __init__(self):
        self.playing, self.position, self.played = False, 0.0, []

    def play(self, audio, sr, start=0.0, end=None, on_finished=None):
        self.played.append((len(audio) / sr, start, end))
        self.playing, self.position = True, start

    def stop(self):
        self.playing = False


def test_play_becomes_stop_while_a_take_plays_and_its_playhead_moves(view):
    view.player = FakePlayer()
    short = _take(view, "Short")
    view.refresh_takes(select=short.id)
    wait_until(lambda: _shown(view, short), LOAD_S, "the take's audio")
    assert view.play_button.text() == "▶ Play"
    view.play_button.click()
    wait_until(lambda: view.player.played, LOAD_S, "the take loaded to play")
    assert view.player.played == [(pytest.approx(2.0), 0.0, None)]
    assert view.play_button.text() == "■ Stop" and view.play_button.isEnabled()
    view.player.position = 1.25
    wait_until(lambda: view.waveform.playhead_position() == pytest.approx(1.25), 10, "the playhead")
    view.player.playing = False  # the end of the take
    wait_until(lambda: view.play_button.text() == "▶ Play", 10, "Play again at the end")
    assert view.waveform.playhead_position() is None
    view.play_button.click()
    wait_until(lambda: view.player.playing, LOAD_S, "playing again")
    view.play_button.click()  # Stop
    assert not view.player.playing and view.play_button.text() == "▶ Play"
    assert [b.text() for b in view.findChildren(type(view.play_button)) if "Stop" in b.text()] == []


def test_a_take_without_transcript_says_so_and_offers_to_transcribe(view):
    short = _take(view, "Short")
    view.refresh_takes(select=short.id)
    status = view.transcript.status_label
    assert "Not transcribed yet" in status.text() and ">Transcribe</a>" in status.text()
    asked = []
    view.transcribeRequested.connect(asked.append)
    status.linkActivated.emit("transcribe")  # a click on the link
    assert asked == [short.path]


def test_a_recovered_take_says_it_was_recovered_and_is_shown(record_view_of, tmp_path):
    root = tmp_path / "lib"
    began = subprocess.run(  # a Motet that began a take and was killed before Stop
        [sys.executable, "-c", "from engine.audio.takes import TakeLibrary; "
                               f"print(TakeLibrary({str(root)!r}).begin({SR}, 1, name='Interview').path)"],
        capture_output=True, text=True, timeout=120)
    assert began.returncode == 0, began.stderr
    sf.write(began.stdout.strip(), np.full(SR * 3, 0.1, np.float32), SR, format="WAV", subtype="FLOAT")
    view = record_view_of(TakeLibrary(root))
    assert "can be recovered" in view.banner.label.text()
    view.banner.button("Recover").click()
    [take] = view.library.list()
    assert view.selected_take_id() == take.id
    status = view.transcript.status_label.text()
    assert status.startswith("Recovered after a crash — not transcribed yet:") and ">Transcribe</a>" in status
    wait_until(lambda: _shown(view, take), LOAD_S, "the recovered take's audio")
    assert view.waveform.isVisible() and view.waveform.duration == pytest.approx(3.0)


def test_the_live_status_says_what_happens_in_words():
    assert live_status(3.4, "loading the model", 0, False, "tiny.en (int8)") == \
        "Recording 00:03 · live transcript: loading tiny.en (int8)…"
    assert live_status(11.0, "listening", 0, False, "tiny.en") == \
        "Recording 00:11 · live transcript: listening for speech"
    assert live_status(11.9, "listening · 00:11 · 0 segments", 0, True, "tiny.en") == \
        "Recording 00:11 · live transcript: hearing speech…"
    assert live_status(75.0, "listening · 01:15 · 1 segment", 1, True, "tiny.en") == \
        "Recording 01:15 · live transcript: 1 line"
    assert live_status(75.0, "listening · 01:15 · 3 segments · 12 damaged samples heard as silence", 3, False,
                       "tiny.en") == "Recording 01:15 · live transcript: 3 lines · 12 damaged samples heard as silence"


def test_the_transcript_status_counts_lines_and_follows_a_transcript_being_finished(view):
    from engine.live.transcriber import LiveUpdate
    from engine.transcript import Segment, TranscriptionResult

    short, long = _take(view, "Short"), _take(view, "Long")
    seg = Segment(id=0, seek=0, start=0.1, end=1.5, text=" Hello.", tokens=[], avg_logprob=0.0,
                  compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0)
    view.library.save_transcript(long.id, TranscriptionResult(language="en", language_probability=1.0,
                                                              duration=25.0, segments=[seg]))
    view.refresh_takes(select=long.id)
    assert view.transcript.status_label.text() == "1 line · click one to hear it"

    # right after Stop: the take's live lines are on screen while its transcript is finished
    view._live_jobs[99], view._panel_take = short, short.id
    view.transcript.clear(live=True)
    view.transcript.show_update(LiveUpdate(segments=[seg], committed="", tentative="", start=None, audio_seconds=2.0))
    view.refresh_takes(select=short.id)
    assert view.transcript.status_label.text() == "Finishing the transcript…"
    assert view.transcript.line_count() == 1  # the live lines stay
    view.refresh_takes(select=long.id)
    view.refresh_takes(select=short.id)
    assert view.transcript.status_label.text() == "Finishing the transcript…"
    assert view.transcript.line_count() == 0  # not the other take's lines
    view._on_live_event(SimpleNamespace(job_id=99, kind="finished", state=SimpleNamespace(done=True),
                                        result=TranscriptionResult(language="en", language_probability=1.0,
                                                                   duration=2.0, segments=[seg, seg])))
    assert view.transcript.status_label.text() == "2 lines · stored with the take"
    assert view.transcript.line_count() == 2
