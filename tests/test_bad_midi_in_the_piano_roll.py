"""The piano roll with bad MIDI files and failed saves: one banner line naming the file and the
cause, the score left as it was."""

import mido
import pytest

from engine.jobs import JobQueue
from engine.midi.score import Note
from gui.jobs import JobsBridge
from gui.piano_roll_view import PianoRollView
from gui.settings import app_settings


@pytest.fixture
def roll(qtbot):
    queue = JobQueue()
    bridge = JobsBridge(queue)
    view = PianoRollView(queue, bridge, app_settings())
    qtbot.addWidget(view)
    yield view
    view.stop()
    bridge.close()
    queue.shutdown()


def test_opening_a_file_with_tempo_zero_shows_why(roll, tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=0),
                                      mido.Message("note_on", note=60, velocity=90, time=0),
                                      mido.Message("note_off", note=60, time=480)]))
    mid.save(tmp_path / "still.mid")
    before = roll.doc.score
    assert roll.open_file(str(tmp_path / "still.mid")) is False
    text = roll.banner.label.text()
    assert text.startswith("Could not open the file: 'still.mid' has a tempo of 0"), text
    assert roll.doc.score is before


def test_a_failed_save_names_the_file_and_cause_once(roll, tmp_path):
    roll.doc.replace_notes([], [Note(0, 60, 480)], "Draw")
    assert roll.save_to(str(tmp_path / "no-such-folder" / "song.mid")) is False
    text = roll.banner.label.text()
    assert text == f"Could not save 'song.mid': the folder {tmp_path / 'no-such-folder'} does not exist", text


def test_bad_continue_settings_fall_back_to_the_defaults(qtbot):
    settings = app_settings()
    settings.setValue("continue/bars", "lots")
    settings.setValue("continue/temperature", "nan")
    settings.setValue("continue/variations", 1000)
    queue = JobQueue()
    bridge = JobsBridge(queue)
    try:
        view = PianoRollView(queue, bridge, settings)
        qtbot.addWidget(view)
        assert view.bars_spin.value() == 4 and view.temperature_spin.value() == 1.0
        assert view.variations_spin.value() == view.variations_spin.maximum()
    finally:
        bridge.close()
        queue.shutdown()
