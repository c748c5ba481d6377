"""The piano roll editor driven with the mouse and keys (pytest-qt, offscreen)."""

import mido
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from engine.jobs import JobQueue
from engine.midi.midifile import read_midi, write_midi
from engine.midi.score import Note, Score, Track
from gui.common.settings import app_settings
from gui.jobs.bridge import JobsBridge
from gui.pianoroll.view import PianoRollView

# Bounds on work that scales with the machine (DESIGN.md §9), generous for a slow, busy one:
RENDER_S = 120  # loading the SoundFont (about a second, more when busy) and rendering a few seconds
GENERATE_S = 240  # loading the shipped Music Transformer and sampling 2 variations of 2 bars


def point(view, tick, pitch):
    """Canvas coordinates of the middle of a row at a tick."""
    g = view.geo
    return QPoint(int(g.x(tick)) + 1, g.y(pitch) + g.row // 2)


def show(view, pitch):
    view.grid_area.ensureVisible(0, view.geo.y(pitch), 10, 200)


def drag(qtbot, widget, a: QPoint, b: QPoint, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, modifier, a)
    steps = 6
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        from PySide6.QtCore import QEvent, QPointF
        from PySide6.QtGui import QMouseEvent

        ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(p), QPointF(widget.mapToGlobal(p)),
                         Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, modifier)
        widget.mouseMoveEvent(ev)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, modifier, b)


def test_draw_a_note_by_click_and_stretch_it_by_dragging(roll, qtbot):
    show(roll, 60)
    c = roll.canvas
    qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=point(roll, 250, 60))
    assert roll.doc.notes == [Note(240, 60, 480, 100)]  # snapped down to the 1/16 grid
    drag(qtbot, c, point(roll, 1000, 64), point(roll, 1500, 64))
    assert Note(960, 64, 960, 100) in roll.doc.notes  # drawn at 960 and stretched to end at 1920
    assert roll.doc.undo_stack.count() == 2  # each drawing is one step
    assert roll.modified and "*" in roll.file_label.text()


def test_move_resize_and_undo_restores_exactly(roll, qtbot):
    score = Score(tracks=[Track(notes=[Note(0, 60, 480, 90), Note(480, 62, 480, 80), Note(960, 64, 480, 70)])])
    roll.doc.load(score)
    show(roll, 62)
    before = roll.doc.snapshot()
    c = roll.canvas
    # move the middle note right by a beat and up a tone
    drag(qtbot, c, point(roll, 700, 62), point(roll, 1180, 64))
    assert Note(960, 64, 480, 80) in roll.doc.notes and Note(480, 62, 480, 80) not in roll.doc.notes
    # resize the first note from its right end, then from its left end
    drag(qtbot, c, QPoint(int(roll.geo.x(480)) - 2, point(roll, 0, 60).y()), point(roll, 720, 60))
    assert Note(0, 60, 720, 90) in roll.doc.notes
    drag(qtbot, c, QPoint(int(roll.geo.x(0)) + 1, point(roll, 0, 60).y()), point(roll, 240, 60))
    assert Note(240, 60, 480, 90) in roll.doc.notes
    assert roll.doc.undo_stack.count() == 3
    for _ in range(3):
        roll.actions_by_name["undo"].trigger()
    assert roll.doc.snapshot().tracks == before.tracks
    roll.actions_by_name["redo"].trigger()
    assert Note(960, 64, 480, 80) in roll.doc.notes


def test_marquee_select_transpose_copy_paste_at_playhead_and_delete(roll, qtbot):
    notes = [Note(0, 60, 240), Note(240, 62, 240), Note(480, 64, 240), Note(1920, 72, 240)]
    roll.doc.load(Score(tracks=[Track(notes=list(notes))]))
    roll.set_tool("select")
    show(roll, 62)
    drag(qtbot, roll.canvas, point(roll, 10, 65) - QPoint(0, 4), point(roll, 700, 59))
    assert roll.doc.selection == set(notes[:3])
    roll.canvas.setFocus()
    qtbot.keyClick(roll.canvas, Qt.Key.Key_Up)
    assert {n.pitch for n in roll.doc.selection} == {61, 63, 65}
    qtbot.keyClick(roll.canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # an octave down
    assert {n.pitch for n in roll.doc.selection} == {49, 51, 53}
    roll.copy()
    roll.set_playhead(3840)
    roll.paste()
    assert sorted(n.start for n in roll.doc.selection) == [3840, 4080, 4320]
    roll.doc.delete_selection()
    assert len(roll.doc.notes) == 4
    roll.doc.select_all()
    assert len(roll.doc.selection) == 4


def test_transpose_out_of_range_is_refused_with_a_message(roll):
    roll.doc.load(Score(tracks=[Track(notes=[Note(0, 127, 100)])]))
    roll.doc.select_all()
    roll.transpose(1)
    assert roll.doc.notes == [Note(0, 127, 100)] and roll.banner.isVisible()


def test_velocity_lane_drag_sets_the_selected_notes(roll, qtbot):
    notes = [Note(0, 60, 240, 100), Note(480, 62, 240, 100), Note(960, 64, 240, 100)]
    roll.doc.load(Score(tracks=[Track(notes=list(notes))]))
    roll.doc.select(notes[:2])
    lane = roll.velocity
    x = int(roll.geo.x(480)) + 1
    drag(qtbot, lane, QPoint(x, 10), QPoint(x, lane.height() // 2))
    velocities = {n.start: n.velocity for n in roll.doc.notes}
    assert velocities[0] == velocities[480] == pytest.approx(64, abs=3)
    assert velocities[960] == 100  # not selected: untouched
    roll.actions_by_name["undo"].trigger()
    assert roll.doc.notes == notes


def test_quantize_duplicate_and_tempo_are_undoable(roll):
    roll.doc.load(Score(tracks=[Track(notes=[Note(130, 60, 100), Note(250, 62, 100)])]))
    roll.doc.select_all()
    roll.quantize()
    assert sorted(n.start for n in roll.doc.notes) == [120, 240]
    roll.duplicate()
    assert len(roll.doc.notes) == 4
    roll.tempo_spin.setValue(90)
    roll.tempo_spin.editingFinished.emit()
    assert roll.doc.score.bpm == pytest.approx(90)
    roll.sig_num.setValue(3)
    assert roll.doc.score.ticks_per_bar == 3 * 480
    for _ in range(4):
        roll.doc.undo_stack.undo()
    assert roll.doc.score.bpm == pytest.approx(120) and len(roll.doc.notes) == 2
    assert sorted(n.start for n in roll.doc.notes) == [130, 250]


def test_open_save_round_trip_and_a_corrupt_file_keeps_the_score(roll, tmp_path):
    path = tmp_path / "motif.mid"
    write_midi(Score(tracks=[Track(name="Lead", program=40, notes=[Note(0, 67, 480, 77)])]), path)
    assert roll.open_file(str(path))
    assert roll.doc.notes == [Note(0, 67, 480, 77)] and roll.program_combo.currentText() == "41 Violin"
    roll.doc.add_note(Note(480, 69, 480, 90))
    assert roll.save_to(str(tmp_path / "out.mid")) and not roll.modified
    assert read_midi(tmp_path / "out.mid").tracks[0].notes == [Note(0, 67, 480, 77), Note(480, 69, 480, 90)]
    bad = tmp_path / "broken.mid"
    bad.write_bytes(path.read_bytes()[:30])
    assert not roll.open_file(str(bad))
    assert "Could not open" in roll.banner.label.text()
    assert len(roll.doc.notes) == 2 and roll.doc.path == str(tmp_path / "out.mid")


def test_unsaved_changes_are_asked_about(roll, monkeypatch):
    roll.doc.add_note(Note(0, 60, 480))
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: next(answers))
    roll.new_score()
    assert len(roll.doc.notes) == 1  # cancelled
    roll.new_score()
    assert roll.doc.notes == [] and not roll.modified


def test_autosave_survives_a_crash_and_is_offered_back(roll, qtbot):
    roll.doc.add_note(Note(0, 60, 480))
    roll.autosave()
    assert (roll.autosave_dir / "piano-roll.mid").exists()
    # a new session (the old one "crashed": it never shut down)
    again = PianoRollView(roll.queue, roll.bridge, app_settings())
    qtbot.addWidget(again)
    assert not again.banner.isHidden() and "unsaved work" in again.banner.label.text()
    assert again.restore_autosave()
    assert again.doc.notes == [Note(0, 60, 480)] and again.modified
    again.doc.undo_stack.setClean()


def test_playback_renders_and_the_playhead_follows(roll, qtbot, monkeypatch):
    played = []
    monkeypatch.setattr(roll.player, "play", lambda audio, sr, **kw: played.append((audio.shape, sr)))
    roll.doc.load(Score(tracks=[Track(notes=[Note(0, 69, 960)])]))
    roll.play()
    qtbot.waitUntil(lambda: bool(played), timeout=RENDER_S * 1000)
    (frames, channels), sr = played[0]
    assert channels == 2 and frames == pytest.approx(sr * (1.0 + 1.0), abs=2)  # the note + 1 s tail
    assert roll.play_button.text() == "■ Stop"
    # half a second into the audio the playhead is half a second (a beat at 120 BPM) in
    monkeypatch.setattr(type(roll.player), "playing", property(lambda self: True))
    monkeypatch.setattr(type(roll.player), "position", property(lambda self: 0.5))
    qtbot.waitUntil(lambda: roll.canvas.playhead == 480, timeout=2000)
    monkeypatch.setattr(type(roll.player), "playing", property(lambda self: False))
    qtbot.waitUntil(lambda: roll.play_button.text() == "▶ Play", timeout=2000)  # the end: it stops


def test_export_wav_writes_the_rendered_score(roll, qtbot, tmp_path):
    import soundfile as sf

    roll.doc.load(Score(tracks=[Track(notes=[Note(0, 69, 480)])]))
    job_id = roll.export_wav(str(tmp_path / "motif.wav"))
    job = roll.queue.get(job_id)
    assert job.wait(RENDER_S) and job.error is None
    audio, sr = sf.read(tmp_path / "motif.wav")
    assert len(audio) / sr == pytest.approx(1.5, abs=0.01) and abs(audio).max() > 0.05


def test_legato_join_and_split_at_the_playhead(roll):
    notes = [Note(0, 60, 100), Note(480, 62, 100)]
    roll.doc.load(Score(tracks=[Track(notes=list(notes))]))
    roll.doc.select_all()
    roll.actions_by_name["legato"].trigger()
    assert sorted(roll.doc.notes) == [Note(0, 60, 480), Note(480, 62, 100)]
    roll.set_playhead(240)
    roll.doc.select([Note(0, 60, 480)])
    roll.split_at_playhead()
    assert sorted(roll.doc.notes)[:2] == [Note(0, 60, 240), Note(240, 60, 240)]
    roll.doc.select([Note(0, 60, 240), Note(240, 60, 240)])
    roll.actions_by_name["join"].trigger()
    assert sorted(roll.doc.notes)[0] == Note(0, 60, 480)


def test_continue_previews_variations_and_accept_is_one_undoable_step(roll, qtbot):
    from engine.midi.synth import ASSETS

    assert roll.open_file(str(ASSETS / "motifs" / "walking-motif.mid"))
    before = roll.doc.snapshot()
    prompt_end = max(n.end for n in roll.doc.notes)
    roll.actions_by_name["continue"].trigger()
    assert roll.continue_panel.isVisible()
    roll.bars_spin.setValue(2)
    roll.variations_spin.setValue(2)
    job_id = roll.generate_continuation()
    assert job_id is not None
    qtbot.waitUntil(lambda: roll._continue_job is None, timeout=GENERATE_S * 1000)
    assert roll.variation_combo.count() == 2, roll.continue_status.text()
    preview = roll.canvas.preview_notes
    assert preview and all(n.start >= prompt_end - 1 for n in preview)
    bar = roll.doc.score.ticks_per_bar  # the rest of the motif's last bar, then two bars
    assert all(n.end <= -(-prompt_end // bar) * bar + 2 * bar for n in preview)
    assert roll.doc.snapshot() == before  # previews are not in the score
    roll.variation_combo.setCurrentIndex(1)
    chosen = roll.canvas.preview_notes
    roll.accept_continuation()
    assert set(chosen) <= set(roll.doc.notes) and not roll.continue_panel.isVisible()
    roll.actions_by_name["undo"].trigger()
    assert roll.doc.snapshot().tracks == before.tracks


def test_continue_with_nothing_to_continue_says_so(roll):
    roll.doc.load(Score())
    assert roll.generate_continuation() is None
    assert "nothing to continue" in roll.banner.label.text()


# -- bad MIDI files and failed saves: one banner line naming the file and the cause, the score kept --

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


def test_every_shortcut_is_unique_and_redo_has_two(roll, qtbot):
    keys = [k.toString() for a in roll.actions() for k in a.shortcuts()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert {"Ctrl+Shift+Z", "Ctrl+Y"} <= {k.toString() for k in roll.actions_by_name["redo"].shortcuts()}
    roll.doc.add_note(Note(0, 60, 480))
    roll.actions_by_name["undo"].trigger()
    assert roll.doc.notes == []
    roll.canvas.setFocus()
    qtbot.keyClick(roll.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert roll.doc.notes == [Note(0, 60, 480)]


def test_an_example_motif_opens_untitled_and_export_says_when_it_is_done(roll, qtbot, tmp_path):
    from qt_wait import wait_until

    menu = roll.actions_by_name["open_example"].menu()
    names = [a.text() for a in menu.actions()]
    assert "walking motif" in names and len(names) == len(roll.example_motifs()) >= 3
    menu.actions()[names.index("walking motif")].trigger()
    assert roll.doc.path is None and len(roll.doc.notes) == 17 and roll.suggested_name == "walking-motif"
    said = []
    roll.statusMessage.connect(said.append)
    roll.export_wav(str(tmp_path / "walk.wav"))
    wait_until(lambda: said, 120, "the export")
    assert said == ["Exported walk.wav"] and (tmp_path / "walk.wav").stat().st_size > 1000


def test_the_continue_panel_never_widens_the_page(roll):
    before = roll.minimumSizeHint().width()
    roll.show_continue()
    roll._variations = [[Note(0, 60, 480)] * 40] * 8
    for i in range(8):
        roll.variation_combo.addItem(f"Variation {i + 1} ({40} notes)")
    roll.continue_status.setText("a long status line " * 12)
    roll._update_continue_buttons()
    assert roll.minimumSizeHint().width() <= max(before, 870)  # a 1024-px window with the page list
    roll.close_continue()
    assert roll.minimumSizeHint().width() <= max(before, 870)


def test_continue_says_what_it_continues_starts_after_it_and_accept_clears_the_selection(roll, qtbot, monkeypatch):
    """Issue #29: after moving a note, that note stayed selected and Continue continued just it,
    from inside the melody; after Accept the inserted notes stayed selected."""
    from engine.tasks import music as music_jobs

    asked = []

    def fake_continue(ctx, score, prompt, bars, variations, *rest, **kw):
        asked.append(list(prompt))
        end = max(n.end for n in prompt)
        # one note inside the prompt, one straddling its end, one after it
        return [[Note(end - 480, 66, 240), Note(end - 120, 67, 240), Note(end + 240, 68, 240)]] * variations

    monkeypatch.setattr(music_jobs, "continue_motif", fake_continue)
    roll.doc.load(Score(tracks=[Track(notes=[Note(i * 480, 60 + i % 5, 480) for i in range(8)])]))
    roll.actions_by_name["continue"].trigger()
    subject = roll.continue_subject
    assert subject.isVisible() and subject.text().startswith("the whole track: 8 notes")
    roll.doc.select([Note(480, 61, 480)])  # as a moved note stays selected
    assert subject.text().startswith("the selection: 1 note,"), subject.text()
    roll.variations_spin.setValue(1)
    assert roll.generate_continuation() is not None
    qtbot.waitUntil(lambda: roll._continue_job is None, timeout=10_000)
    assert asked[-1] == [Note(480, 61, 480)]
    assert roll.canvas.preview_notes == [Note(960, 67, 120), Note(1200, 68, 240)]  # none before its end
    roll.accept_continuation()
    assert not roll.doc.selection
    roll.show_continue()
    assert subject.text().startswith("the whole track: 10 notes"), subject.text()
    roll.actions_by_name["undo"].trigger()
    assert len(roll.doc.notes) == 8


def test_an_example_motif_opens_under_its_name(roll):
    """Issue #29 item 3: an example opened titled "Untitled"."""
    from engine.midi.synth import ASSETS

    assert roll.open_example(ASSETS / "motifs" / "walking-motif.mid")
    assert "walking-motif.mid (example)" in roll.file_label.text() and roll.doc.path is None
    roll.doc.add_note(Note(0, 50, 120))
    assert "walking-motif.mid (example) *" in roll.file_label.text()
    roll.doc.undo_stack.setClean()
    roll.new_score()
    assert "Untitled" in roll.file_label.text()


def test_the_example_motifs_are_as_long_as_their_description_says():
    """Issue #29 item 3: walking-motif was "a four-bar melody" whose notes end in bar 3."""
    from engine.midi.synth import ASSETS

    text = " ".join((ASSETS / "motifs" / "README.md").read_text().split())
    walking = read_midi(str(ASSETS / "motifs" / "walking-motif.mid"))
    melody, bass = walking.tracks
    bar = walking.ticks_per_bar
    assert "two bars of eighth notes that end on a long C in bar 3, over a two-bar walking bass" in text
    assert max(n.end for n in melody.notes[:-1] if n.start < 2 * bar) <= 2 * bar
    last = max(melody.notes, key=lambda n: n.start)
    assert last.pitch % 12 == 0 and last.start // bar == 2 and last.end <= 3 * bar  # a long C in bar 3
    assert -(-max(n.end for n in bass.notes) // bar) == 2 and "four-bar" not in text


def test_the_synthesizer_is_warmed_in_the_background_when_the_page_opens(qtbot, monkeypatch):
    """Issue #29 item 4: the first Play took more than 2 s (loading the SoundFont), later ones 0.3 s."""
    import threading

    from engine.midi import synth

    monkeypatch.setattr(synth, "_cache", {})
    loaded_on = []
    real = synth.Synthesizer

    class Recording(real):
        def __init__(self, *a, **k):
            loaded_on.append(threading.current_thread() is threading.main_thread())
            super().__init__(*a, **k)

    monkeypatch.setattr(synth, "Synthesizer", Recording)
    queue = JobQueue()
    bridge = JobsBridge(queue)
    view = PianoRollView(queue, bridge, app_settings())
    qtbot.addWidget(view)
    try:
        assert not synth.is_loaded()
        view.show()
        qtbot.waitUntil(lambda: getattr(view, "synth_warm_up", None) is not None, timeout=5000)
        view.synth_warm_up.join(RENDER_S)
        assert synth.is_loaded() and loaded_on == [False]  # loaded once, not on the GUI thread
        view.play()  # the first Play finds it loaded: no second load
        qtbot.waitUntil(lambda: not view._render_jobs, timeout=RENDER_S * 1000)
        assert loaded_on == [False]
    finally:
        view.stop()
        bridge.close()
        queue.shutdown()
