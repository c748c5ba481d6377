"""The Record page while recording, with a real input (tests/conftest.py's PulseAudio): one Stop
button, and a status line that says in words what the live transcript is doing."""

import re
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtWidgets import QAbstractButton
from qt_wait import wait_until

from engine.audio.takes import TakeLibrary
from engine.live.transcriber import LiveUpdate
from engine.transcript import Segment

pytestmark = pytest.mark.pulse

STREAM_START_S = 30  # an audio stream delivering its first second: no real work, a busy machine


class FakePlayer:
    playing, position = False, 0.0

    def play(self, audio, sr, start=0.0, end=None, on_finished=None):
        self.playing = True

    def stop(self):
        self.playing = False


def _stops(view):
    return [b for b in view.findChildren(QAbstractButton) if b.isVisible() and "Stop" in b.text()]


def _seg(i):
    return Segment(id=i, seek=0, start=float(i), end=i + 0.9, text=f" Line {i}.", tokens=[], avg_logprob=0.0,
                   compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0)


def test_one_stop_while_recording_and_a_status_in_words(pulse, record_view_of, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    take = lib.begin(16000, 1, name="Earlier")
    sf.write(take.path, np.zeros(16000, np.float32), 16000, format="WAV", subtype="FLOAT")
    lib.commit(take, 1.0)
    view = record_view_of(lib)
    view.transcript.enabled_check.setChecked(False)  # no model to load: the live job's messages are fed below
    view.player = FakePlayer()
    view.refresh_takes(select=take.id)
    view.play_button.click()
    wait_until(lambda: view.player.playing, 60, "the take playing")
    assert _stops(view) == [view.play_button]  # Play turned into Stop

    assert view.start_recording(name="Now")
    assert _stops(view) == [view.record_button]  # one Stop: the recording's (the playback was stopped)
    assert not view.waveform.isVisible() and view.spectrogram.mode == "live"

    view._live_job_id, view._live_model_name = -7, "tiny.en"  # as a live job reports, in order
    for message in ("loading the model", "listening"):
        view._on_live_event(SimpleNamespace(job_id=-7, kind="progress", message=message))
    session = view.session
    wait_until(lambda: session.duration >= 1.0, STREAM_START_S, "a second recorded")
    wait_until(lambda: view.transcript.status_label.text().endswith("listening for speech"), 10, "the status")
    assert re.fullmatch(r"Recording \d\d:\d\d · live transcript: listening for speech",
                        view.transcript.status_label.text())
    view.transcript.show_update(LiveUpdate(segments=[_seg(0), _seg(1), _seg(2)], committed="", tentative="",
                                           start=None, audio_seconds=3.0))
    wait_until(lambda: view.transcript.status_label.text().endswith("live transcript: 3 lines"), 10, "3 lines")
    view._live_job_id = None  # there is no real live job to finish
    assert view.stop_recording() is not None
    assert _stops(view) == []
