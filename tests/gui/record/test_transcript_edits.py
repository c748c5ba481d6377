"""A take's transcript on the Record page made again, undone and edited in place (issue #27
item 5), and a take listed under its name on the Transcribe page."""

import errno
from pathlib import Path

import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from qt_wait import wait_until

from engine.atomic import WriteError
from engine.audio import takes as takes_module
from engine.audio.takes import TakeLibrary
from engine.transcript import Segment, TranscriptionResult, Word
from gui.common.settings import Keys

JOB_S = 300  # tiny.en on a 3 s clip on a 2-core CPU, with the model loaded once: generous


def _broken(duration: float) -> TranscriptionResult:
    words = [Word(0.1, 0.4, " the", 0.9), Word(0.4, 0.9, " quik", 0.5)]
    return TranscriptionResult("en", 1.0, duration, [
        Segment(0, 0, 0.1, 0.9, " the quik", [], 0, 0, 0, 0, words),
        Segment(1, 0, 1.0, 2.0, " zzz brokne", [], 0, 0, 0, 0)])


@pytest.fixture
def view(record_view_of, tmp_path):
    from speech import espeak

    lib = TakeLibrary(tmp_path / "lib")
    audio = espeak("The quick brown fox jumps over the lazy dog.", "en-us", tmp_path / "fox.wav")
    take = lib.begin(16000, 1, name="Fox interview")
    sf.write(take.path, audio, 16000)
    take = lib.commit(take, len(audio) / 16000)
    lib.save_transcript(take.id, _broken(take.duration))
    v = record_view_of(lib)
    v.settings.setValue(Keys.TRANSCRIBE_BEAM_SIZE, 1)
    v.settings.setValue(Keys.TRANSCRIBE_COMPUTE_TYPE, "int8")
    v.refresh_takes(select=take.id)
    return v


def _take(view):
    return view.library.list()[0]


def _lines(view):
    return [view.transcript.line_text(i) for i in range(view.transcript.line_count())]


def _edit_line(view, qtbot, row: int, text: str, key=Qt.Key.Key_F2) -> None:
    """Select line ``row``, open its editor with F2 (as a person would), type ``text``, Enter."""
    segments = view.transcript.segments
    segments.setFocus()
    segments.setCurrentRow(row)
    qtbot.keyClick(segments, key)
    editor = segments.findChild(QLineEdit)
    assert editor is not None and editor.isVisible(), "F2 opened no editor"
    assert editor.text() == view.transcript.line_text(row)  # the text alone, not its time
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    _committed(segments)


def _committed(segments) -> None:
    """The editor hands its text over on a queued call: let it arrive."""
    from PySide6.QtWidgets import QAbstractItemView

    wait_until(lambda: segments.state() != QAbstractItemView.State.EditingState, 10, "the edit to be committed")
    qtbot_wait(50)


def qtbot_wait(ms: int) -> None:
    from qt_wait import wait

    wait(ms)


def test_transcribe_again_replaces_the_transcript_and_undo_brings_the_old_one_back(view, qtbot, tmp_path):
    take = _take(view)
    assert _lines(view) == ["the quik", "zzz brokne"]
    assert view.transcript.again_button.isEnabled() and not view.transcript.undo_button.isEnabled()
    qtbot.mouseClick(view.transcript.again_button, Qt.MouseButton.LeftButton)
    assert view._again_jobs and view.banner.button("Cancel") is not None
    assert not view.transcript.again_button.isEnabled()  # one at a time per take
    wait_until(lambda: not view._again_jobs, JOB_S, "Transcribe again")
    text = " ".join(_lines(view)).lower()
    assert "lazy dog" in text and "brokne" not in text, view.banner.label.text()
    assert "lazy dog" in view.library.load_transcript(take.id).text.lower()
    assert "made again" in view.banner.label.text() and view.banner.button("Undo") is not None
    assert view.transcript.undo_button.isEnabled()

    # an edited line after it, then a look at the page
    _edit_line(view, qtbot, 0, "The quick brown fox jumps over the lazy dog (edited).")
    assert view.library.load_transcript(take.id).segments[0].text.strip().endswith("(edited).")
    assert not view.banner.isVisible()  # its Undo was for the transcript before the edit
    view.resize(1000, 680)
    qtbot.wait(50)
    view.grab().save(str(Path("/tmp") / "take-edit.png"))

    # Ctrl+Z on the transcript: the edit goes; again: it comes back (the library keeps one step)
    view.transcript.segments.setFocus()
    qtbot.keyClick(view.transcript.segments, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "(edited)" not in " ".join(_lines(view)) and "lazy dog" in " ".join(_lines(view)).lower()
    qtbot.mouseClick(view.transcript.undo_button, Qt.MouseButton.LeftButton)
    assert "(edited)" in " ".join(_lines(view))


def test_undo_after_transcribe_again_brings_the_broken_one_back(view, monkeypatch):
    from engine.tasks import takes as take_jobs

    def fake(ctx, library, take_id, *args, **kwargs):  # the job's contract, without a model
        result = TranscriptionResult("en", 1.0, 3.0, [Segment(0, 0, 0.0, 2.0, " A new reading.", [], 0, 0, 0, 0)])
        library.replace_transcript(take_id, result)
        return result

    monkeypatch.setattr(take_jobs, "retranscribe_take", fake)
    assert view.retranscribe_selected() is not None
    wait_until(lambda: not view._again_jobs, 30, "the job")
    assert _lines(view) == ["A new reading."]
    view.banner.button("Undo").click()
    assert _lines(view) == ["the quik", "zzz brokne"]
    assert view.library.load_transcript(_take(view).id).text == "the quik zzz brokne"


def test_a_failed_transcribe_again_keeps_the_old_transcript(view):
    take = _take(view)
    Path(take.path).write_bytes(b"RIFF....WAVEjunk")  # the audio cannot be read any more
    view.retranscribe_selected()
    wait_until(lambda: not view._again_jobs, 60, "the job")
    message = view.banner.label.text()
    assert "Could not transcribe 'Fox interview' again" in message and "cannot be read" in message
    assert "unchanged" in message
    assert _lines(view) == ["the quik", "zzz brokne"]
    assert view.library.load_transcript(take.id).text == "the quik zzz brokne"


def test_an_edited_line_is_saved_with_the_take_and_exported(view, qtbot, tmp_path):
    take = _take(view)
    _edit_line(view, qtbot, 1, "Brown fox.")
    stored = view.library.load_transcript(take.id)
    assert [s.text.strip() for s in stored.segments] == ["the quik", "Brown fox."]
    assert _lines(view) == ["the quik", "Brown fox."]
    assert view.export_transcript(take.id, str(tmp_path / "out.srt"))
    assert "Brown fox." in (tmp_path / "out.srt").read_text()

    # the same words, another spelling: the word timings stay; other words: they go
    _edit_line(view, qtbot, 0, "The Quik,")
    assert [w.word for w in view.library.load_transcript(take.id).segments[0].words] == [" The", " Quik,"]
    _edit_line(view, qtbot, 0, "The quick")
    assert view.library.load_transcript(take.id).segments[0].words is None


def test_double_click_edits_a_line(view, qtbot):
    segments = view.transcript.segments
    rect = segments.visualItemRect(segments.item(0))
    qtbot.mousePress(segments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # as a real double-click:
    qtbot.mouseRelease(segments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # press, release, then
    qtbot.mouseDClick(segments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # the double-click
    assert segments.findChild(QLineEdit) is not None and segments.findChild(QLineEdit).isVisible()


def test_an_edit_on_a_full_disk_says_so_and_keeps_the_earlier_text(view, qtbot, monkeypatch):
    take = _take(view)

    def full_disk(path, text, *args):
        raise WriteError(errno.ENOSPC, f"could not save '{Path(path).name}': the disk is full")

    monkeypatch.setattr(takes_module, "write_text", full_disk)
    _edit_line(view, qtbot, 1, "never saved")
    message = view.banner.label.text()
    assert "not saved" in message and "the disk is full" in message and "earlier text" in message
    assert _lines(view) == ["the quik", "zzz brokne"]
    assert view.library.load_transcript(take.id).text == "the quik zzz brokne"


def test_a_blank_edit_is_refused(view, qtbot):
    segments = view.transcript.segments
    segments.setFocus()
    segments.setCurrentRow(0)
    qtbot.keyClick(segments, Qt.Key.Key_F2)
    editor = segments.findChild(QLineEdit)
    editor.setText("   ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    _committed(segments)
    assert "cannot be empty" in view.banner.label.text()
    assert _lines(view) == ["the quik", "zzz brokne"]


def test_a_take_sent_to_the_transcribe_page_is_listed_under_its_name(qtbot, tmp_path):
    from gui.shell.main_window import MainWindow

    lib = TakeLibrary(tmp_path / "lib")
    take = lib.begin(16000, 1, name="Kitchen demo")
    sf.write(take.path, [0.0] * 16000, 16000)
    take = lib.commit(take, 1.0)
    window = MainWindow(library=lib)
    qtbot.addWidget(window)
    window.show()
    wait_until(lambda: window.is_ready, 120, "the window")
    window.transcribe_view.add_files([take.path], transcribe=False)
    item = window.transcribe_view.files.topLevelItem(0)
    assert item.text(0) == "Kitchen demo" and take.id not in item.text(0)
    window.close()


def test_cancel_leaves_the_transcript_as_it_was(view, monkeypatch):
    import time

    from engine.tasks import takes as take_jobs

    def slow(ctx, library, take_id, *args, **kwargs):  # a long transcription: it checks for Cancel
        while True:
            ctx.checkpoint()
            time.sleep(0.02)

    monkeypatch.setattr(take_jobs, "retranscribe_take", slow)
    view.retranscribe_selected()
    view.banner.button("Cancel").click()
    wait_until(lambda: not view._again_jobs, 30, "the job to end")
    assert "cancelled" in view.banner.label.text() and "unchanged" in view.banner.label.text()
    assert _lines(view) == ["the quik", "zzz brokne"] and view.transcript.again_button.isEnabled()
