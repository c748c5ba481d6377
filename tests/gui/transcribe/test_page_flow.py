"""Issue #29's Transcribe-page items, as the user sees them: an added file is selected and shown
(and the status line's "Opening …" ends), Export starts on the page's Format and a bare name gets
that format's extension, a folder batch lists what it wrote and failed with Open folder, and the
files transcribed are listed again after a restart (a gone one as missing)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtWidgets import QFileDialog
from qt_wait import wait_until

from engine.batch.runner import BatchSummary
from engine.transcript import Segment, TranscriptionResult
from gui.common.widgets import transcript_filters, transcript_target
from gui.shell.main_window import MainWindow
from gui.transcribe.view import NAME, STATUS


def tone(path, seconds=0.5):
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return str(path)


def result(*texts: str) -> TranscriptionResult:
    segments = [Segment(id=i, seek=0, start=float(i), end=i + 0.9, text=" " + text, tokens=[], avg_logprob=0.0,
                        compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0) for i, text in enumerate(texts)]
    return TranscriptionResult(language="en", language_probability=1.0, duration=len(texts), segments=segments,
                               model_name="tiny.en")


def select(view, item) -> None:
    """Click ``item`` alone (a test before may have left Qt believing a modifier is held)."""
    from PySide6.QtCore import QItemSelectionModel

    view.files.setCurrentItem(item, 0, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def transcript_lines(view) -> list[str]:
    return [view.transcript.topLevelItem(i).text(2) for i in range(view.transcript.topLevelItemCount())]


def test_an_added_file_is_selected_and_shown_and_the_status_line_ends(window, qtbot, tmp_path):
    view, file_view = window.transcribe_view, window.file_view
    first, talk = tone(tmp_path / "first.wav"), tone(tmp_path / "talk.wav", 0.8)
    view.add_files([first], transcribe=False)
    wait_until(lambda: file_view.info is not None and file_view.info.path == first, 30, "first.wav shown")
    view.results[first] = result("the first file")
    view.show_transcript(first)

    view.add_files([talk], transcribe=False)
    assert view.files.currentItem().data(NAME, 0x0100) == talk  # the new file is the selected one...
    assert view.files.selectedItems() == [view.files.currentItem()]
    assert transcript_lines(view) == []  # ...and the first file's transcript is no longer shown
    assert window.statusBar().currentMessage() == "Opening talk.wav…"
    wait_until(lambda: file_view.info is not None and file_view.info.path == talk, 30, "talk.wav shown")
    assert file_view.info_label.full_text().startswith("talk.wav · 00:00.8")
    assert window.statusBar().currentMessage() == "Opened talk.wav"  # not "Opening …" any more

    view.add_files([first], transcribe=False)  # adding a listed file again shows it again
    assert view.files.currentItem().data(NAME, 0x0100) == first and transcript_lines(view) == ["the first file"]
    assert view.files.topLevelItemCount() == 2

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    view.add_files([str(broken)], transcribe=False)
    wait_until(lambda: window.statusBar().currentMessage() != "Opening broken.wav…", 30, "the failed open")
    assert window.statusBar().currentMessage() == "Could not open broken.wav"


@pytest.mark.parametrize(("typed", "chosen", "expected"), [
    ("/x/talk_out", "SRT (*.srt)", ("/x/talk_out.srt", "srt")),
    ("/x/talk_out", "VTT (*.vtt)", ("/x/talk_out.vtt", "vtt")),
    ("/x/talk_out.TXT", "SRT (*.srt)", ("/x/talk_out.TXT", "txt")),  # a typed extension is kept, whatever the filter
    ("/x/talk_out.json", "SRT (*.srt)", ("/x/talk_out.json", "json")),
    ("/x/talk.v2", "JSON (*.json)", ("/x/talk.v2.json", "json")),  # not a transcript's extension: the filter's added
    ("/x/talk_out", "", ("/x/talk_out.srt", "srt")),  # a dialog that says no filter: the page's format
])
def test_a_name_without_an_extension_gets_the_chosen_format(typed, chosen, expected):
    assert transcript_target(typed, chosen, "srt") == expected


def test_the_filters_start_on_the_format_asked():
    filters, selected = transcript_filters("srt")
    assert selected == "SRT (*.srt)" and filters.split(";;")[0] == selected
    assert set(filters.split(";;")) == {"TXT (*.txt)", "SRT (*.srt)", "VTT (*.vtt)", "JSON (*.json)"}
    assert transcript_filters("nonsense")[1] == "SRT (*.srt)"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_the_export_dialog_follows_the_pages_format(window, tmp_path, monkeypatch, fmt):
    view = window.transcribe_view
    talk = tone(tmp_path / "talk.wav")
    view.add_files([talk], transcribe=False)
    view.results[talk] = result("Hello there.", "General Kenobi.")
    view.show_transcript(talk)
    view.batch_panel.format_combo.setCurrentIndex(view.batch_panel.format_combo.findData(fmt))
    asked = {}

    def save_dialog(parent, caption, folder, filters, selected="", *args):
        asked.update(folder=folder, filters=filters, selected=selected)
        return str(tmp_path / "talk_out"), selected  # the user types a bare name and presses Save

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
    view.choose_export()
    assert asked["folder"].endswith(f"talk.{fmt}")
    assert asked["selected"] == f"{fmt.upper()} (*.{fmt})" and asked["filters"].startswith(asked["selected"])
    written = tmp_path / f"talk_out.{fmt}"
    assert written.is_file() and not (tmp_path / "talk_out.txt").exists()
    assert "00:00:01" in written.read_text() and "-->" in written.read_text()  # timed cues, not plain text
    assert window.statusBar().currentMessage() == f"Exported talk_out.{fmt}"


def test_a_folder_batch_lists_what_it_wrote_and_failed_and_opens_the_folder(window, qtbot, tmp_path, monkeypatch):
    import gui.transcribe.batch_panel as batch_panel

    panel = window.transcribe_view.batch_panel
    out = tmp_path / "out"

    def fake_batch(ctx, folder, out_dir, fmt, cluster=None, **_):  # what engine.tasks.batch returns, quickly
        (out / "day 2").mkdir(parents=True)
        (out / "clip00.srt").write_text("1\n")
        (out / "day 2" / "clip04.srt").write_text("1\n")
        return BatchSummary(kind="transcribe", out_dir=str(out), cluster="this computer", workers=1,
                            done=[f"{folder}/clip00.wav", f"{folder}/day 2/clip04.wav"],
                            skipped=[f"{folder}/old.wav"], failed={f"{folder}/broken.wav": "not an audio file"},
                            outputs=[str(out / "clip00.srt"), str(out / "day 2" / "clip04.srt")])

    monkeypatch.setattr(batch_panel, "transcribe_folder", fake_batch)
    opened = []
    monkeypatch.setattr(batch_panel.QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    assert not panel.results_box.isVisible()
    panel.start(str(tmp_path / "talks"), str(out))
    wait_until(lambda: panel.job_id is None, 30, "the folder batch")

    assert panel.results_box.isVisible() and panel.open_folder_button.isVisible()
    rows = [(panel.results_list.topLevelItem(i).text(0), panel.results_list.topLevelItem(i).text(1))
            for i in range(panel.results_list.topLevelItemCount())]
    assert rows == [("clip00.srt", "written"), ("day 2/clip04.srt", "written"),
                    ("broken.wav", "failed: not an audio file")]
    header = panel.results_label.full_text()
    assert str(out) in header and "2 file(s) written, 1 failed, 1 done by an earlier run" in header
    assert window.statusBar().currentMessage().startswith("Folder batch: 2 transcribed, 1 already done, 1 failed")

    panel.open_folder_button.click()
    assert [u.toLocalFile() for u in opened] == [str(out)]
    panel.results_list.itemDoubleClicked.emit(panel.results_list.topLevelItem(1), 0)
    assert opened[-1].toLocalFile() == str(out / "day 2" / "clip04.srt")
    window.resize(1024, 700)
    qtbot.wait(50)
    window.grab().save(str(tmp_path / "after-batch.png"))
    panel.hide_results_button.click()
    assert not panel.results_box.isVisible()


def test_the_files_and_transcripts_are_there_after_a_restart(window, qtbot, tmp_path):
    view = window.transcribe_view
    talk, gone = tone(tmp_path / "talk.wav"), tone(tmp_path / "gone.wav")
    view.add_files([talk, gone], transcribe=False)
    view._transcribed(1, talk, result("Good morning.", "Let us begin."))  # what a finished job calls
    view._transcribed(2, gone, result("Soon gone."))
    damaged = tone(tmp_path / "damaged.wav")
    view.add_files([damaged], transcribe=False)
    view._transcribed(3, damaged, result("Never read back."))
    window.close()
    (tmp_path / "gone.wav").unlink()
    from engine.audio.recent_transcripts import RecentTranscripts

    store = RecentTranscripts(tmp_path / "data" / "transcripts")
    (store.root / f"{store.get(damaged).id}.json").write_text("{ not json")
    index = tmp_path / "data" / "transcripts" / "index.json"
    data = json.loads(index.read_text())
    data["entries"] = ["junk", {"id": "../../escape", "path": "/etc/passwd"}] + data["entries"]
    index.write_text(json.dumps(data))  # damaged entries are passed over

    w2 = MainWindow()
    qtbot.addWidget(w2)
    w2.show()
    w2.nav.setCurrentRow(1)
    view2 = w2.transcribe_view
    listed = [(view2.files.topLevelItem(i).text(NAME), view2.files.topLevelItem(i).text(STATUS))
              for i in range(view2.files.topLevelItemCount())]
    assert listed == [("talk.wav", "done"), ("gone.wav", "missing"), ("damaged.wav", "done")]

    select(view2, view2.files.topLevelItem(2))  # its transcript cannot be read: said, not a crash
    assert transcript_lines(view2) == [] and not view2.export_button.isEnabled()
    assert view2.status(damaged) == "unreadable"
    assert "cannot be read" in view2.files.topLevelItem(2).toolTip(STATUS)

    select(view2, view2.files.topLevelItem(0))
    assert transcript_lines(view2) == ["Good morning.", "Let us begin."] and view2.export_button.isEnabled()
    wait_until(lambda: w2.file_view.info is not None, 30, "talk.wav shown")

    select(view2, view2.files.topLevelItem(1))  # gone since: said, not a crash; its transcript kept
    assert transcript_lines(view2) == ["Soon gone."] and view2.export_button.isEnabled()
    assert "has gone" in w2.file_view.info_label.full_text() and w2.file_view.audio is None
    assert not w2.file_view.banner.isVisible()
    w2.resize(1024, 700)
    qtbot.wait(50)
    w2.grab().save(str(tmp_path / "after-restart.png"))

    select(view2, view2.files.topLevelItem(1))
    view2.remove_selected()  # forgotten here and after the next restart
    select(view2, view2.files.topLevelItem(1))
    view2.remove_selected()
    w2.close()
    w3 = MainWindow()
    qtbot.addWidget(w3)
    assert [w3.transcribe_view.files.topLevelItem(i).text(NAME)
            for i in range(w3.transcribe_view.files.topLevelItemCount())] == ["talk.wav"]
    w3.close()


def test_at_most_fifty_files_are_kept(window, qtbot, tmp_path):
    view = window.transcribe_view
    for i in range(52):
        path = str(tmp_path / f"f{i}.wav")
        view.add_files([path], transcribe=False)
        view._transcribed(i, path, result(str(i)))
    window.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    names = [w2.transcribe_view.files.topLevelItem(i).text(NAME)
             for i in range(w2.transcribe_view.files.topLevelItemCount())]
    assert names == [f"f{i}.wav" for i in range(2, 52)]
    w2.close()
