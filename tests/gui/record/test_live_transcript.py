"""The Record view's transcript panel: live snapshots, stored transcripts, click to play, export."""

import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from engine.audio.takes import TakeLibrary, transcript_path
from engine.live.transcriber import LiveUpdate
from engine.transcript import Segment, TranscriptionResult
from gui.common.settings import app_settings
from gui.record.live_transcript import LiveTranscriptPanel
from gui.record.view import RecordView


def seg(i, start, end, text):
    return Segment(id=i, seek=0, start=start, end=end, text=text, tokens=[], avg_logprob=0.0,
                   compression_ratio=1.0, no_speech_prob=0.0, temperature=0.0)


def update(segments, committed="", tentative="", start=None):
    return LiveUpdate(segments=segments, committed=committed, tentative=tentative, start=start, audio_seconds=10.0)


def test_panel_lists_final_segments_and_shows_the_current_line_with_tentative_greyed(qtbot):
    panel = LiveTranscriptPanel()
    qtbot.addWidget(panel)
    first = seg(0, 0.3, 2.9, " The birch canoe slid on the smooth planks.")
    panel.show_update(update([], " Glue the", " sheet to", start=3.1))
    assert panel.segments.count() == 0
    html = panel.current.text()
    assert "Glue the" in html and "sheet to" in html and "00:03.1" in html
    assert html.index("Glue the") < html.index("color:#999") < html.index("sheet to")  # tentative greyed
    panel.show_update(update([first], "", "", None))
    assert panel.segments.count() == 1 and panel.current.text() == ""
    assert panel.segments.item(0).text() == "00:00.3   The birch canoe slid on the smooth planks."
    panel.show_update(update([first], " Glue", "", start=3.1))
    assert panel.segments.count() == 1  # already listed: not added again

    clicked = []
    panel.segmentClicked.connect(lambda s, e: clicked.append((s, e)))
    rect = panel.segments.visualItemRect(panel.segments.item(0))
    qtbot.mouseClick(panel.segments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked == [(0.3, 2.9)]


@pytest.fixture
def view(record_view_of, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    take = lib.begin(16000, 1, name="Interview")
    sf.write(take.path, np.zeros(16000 * 4, np.float32), 16000, format="WAV", subtype="FLOAT")
    take = lib.commit(take, 4.0)
    lib.save_transcript(take.id, TranscriptionResult(
        language="en", language_probability=1.0, duration=4.0,
        segments=[seg(0, 0.2, 1.5, " Hello there."), seg(1, 2.0, 3.6, " Second line.")]))
    return record_view_of(lib)


def test_selecting_a_take_reopens_its_stored_transcript(view, tmp_path):
    take = view.library.list()[0]
    view.refresh_takes(select=take.id)
    view._show_selected_transcript()
    assert view.transcript.segments.count() == 2
    assert view.transcript.text() == "Hello there. Second line."
    assert view.transcript.export_button.isEnabled()
    for fmt in ("txt", "srt", "vtt", "json"):
        assert view.export_transcript(take.id, str(tmp_path / f"out.{fmt}"))
    assert (tmp_path / "out.txt").read_text() == "Hello there.\nSecond line.\n"
    assert "00:00:02,000 --> 00:00:03,600" in (tmp_path / "out.srt").read_text()
    assert json.loads((tmp_path / "out.json").read_text())["segments"][1]["text"] == "Second line."


def test_a_damaged_transcript_file_is_reported_not_fatal(view):
    take = view.library.list()[0]
    transcript_path(take.path).write_text("{not json")
    view.refresh_takes(select=take.id)
    view._show_selected_transcript()
    assert view.transcript.segments.count() == 0
    assert "could not be read" in view.transcript.status_label.text()


def test_deleting_a_take_deletes_its_transcript(view):
    take = view.library.list()[0]
    view.library.delete(take.id)
    assert not transcript_path(take.path).exists()


def test_live_transcription_setting_is_remembered(view, qtbot):
    view.transcript.enabled_check.setChecked(False)
    again = RecordView(view.library, view.queue, view.bridge, app_settings())
    qtbot.addWidget(again)
    assert not again.transcript.enabled_check.isChecked()
    again.shutdown()


def test_live_transcription_uses_the_transcribe_views_compute_type_on_the_cpu(view):
    from engine.device import ComputeDevice

    cpu = ComputeDevice(kind="cpu", index=None, name="CPU")
    gpu = ComputeDevice(kind="cuda", index=0, name="GPU")
    view.settings.setValue("transcribe/compute_type", "int8")
    assert view.live_compute_type(cpu) == "int8"
    assert view.live_compute_type(gpu) is None  # a GPU runs Settings' precision
    view.settings.setValue("transcribe/compute_type", "int4")  # a setting from elsewhere: ignored
    assert view.live_compute_type(cpu) is None
