"""A composed piece opened in the piano roll: it replaces the score as ONE undoable step (Ctrl+Z
gives back exactly what was there, even its ticks per beat and file), marks the document
modified (closing asks to save), and comes from Generate's MIDI mode through the main window."""

from composer_helpers import random_composer
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QMessageBox
from qt_wait import wait_until

from engine.midi.midifile import write_midi
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track, bpm_to_tempo
from gui.shell.main_window import MainWindow

COMPOSE_S = 240  # loading a tiny model and composing two short pieces on a busy 2-core machine


def composed_score() -> Score:
    """What Compose makes: 480 ticks per beat, 6/8, one violin track."""
    notes = [Note(i * 240, 62 + (i % 5), 240, 80) for i in range(12)]
    return Score(ticks_per_beat=480, tracks=[Track("Violin", 0, 40, notes)],
                 tempos=[TempoChange(0, bpm_to_tempo(174))], time_signatures=[TimeSignature(0, 6, 8)])


def state(roll):
    s = roll.doc.score
    return (s.ticks_per_beat, [(t.name, t.channel, t.program, list(t.notes)) for t in s.tracks], list(s.tempos),
            list(s.time_signatures), roll.doc.path, roll.doc.current)


def test_open_score_is_one_undoable_step(roll, tmp_path, monkeypatch):
    mine = Score(ticks_per_beat=96, tracks=[Track("Piano", 0, 0, [Note(0, 60, 96, 100), Note(96, 64, 48, 90)]),
                                            Track("Bass", 1, 32, [Note(0, 36, 192, 100)])])
    path = tmp_path / "mine.mid"
    write_midi(mine, path)
    assert roll.open_file(str(path))
    roll.doc.set_current_track(1)
    roll.doc.select(roll.doc.notes)
    before, before_score = state(roll), roll.doc.score
    assert not roll.modified

    roll.open_score(composed_score(), "a jig (seed 5)")
    assert roll.modified and roll.doc.path is None and roll.doc.current == 0 and not roll.doc.selection
    assert state(roll)[:4] == state_of(composed_score())
    assert roll.geo.snap == 480 // 4  # the snap follows the new ticks per beat (1/16)
    assert "Untitled *" in roll.file_label.text()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a) or QMessageBox.StandardButton.Cancel)
    assert not roll.maybe_save() and asked  # closing would ask to save

    roll.actions_by_name["undo"].trigger()  # Ctrl+Z
    assert state(roll) == before and roll.doc.score is before_score and not roll.modified
    assert roll.doc.selection == set(before_score.tracks[1].notes) and roll.geo.snap == 96 // 4
    assert "mine.mid" in roll.file_label.text() and "*" not in roll.file_label.text()

    roll.actions_by_name["redo"].trigger()
    roll.doc.add_note(Note(960, 70, 240, 100))  # an edit of the composed piece, then both undone
    assert len(roll.doc.notes) == 13
    roll.actions_by_name["undo"].trigger()
    assert state(roll)[:4] == state_of(composed_score())
    roll.actions_by_name["undo"].trigger()
    assert state(roll) == before and not roll.modified


def state_of(score):
    return (score.ticks_per_beat, [(t.name, t.channel, t.program, list(t.notes)) for t in score.tracks],
            list(score.tempos), list(score.time_signatures))


def test_save_as_suggests_the_pieces_title(roll, tmp_path, monkeypatch):
    roll.open_score(composed_score(), "a jig (seed 5)")
    asked = {}

    def save_dialog(parent, title, default, filters):
        asked["default"] = default
        return str(tmp_path / "jig"), filters

    monkeypatch.setattr("gui.pianoroll.files.QFileDialog.getSaveFileName", save_dialog)
    assert roll.save()
    assert asked["default"].endswith("a jig (seed 5).mid") and (tmp_path / "jig.mid").exists()
    assert not roll.modified and roll.doc.path == str(tmp_path / "jig.mid")


def test_open_in_piano_roll_from_compose(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.resize(QSize(1024, 700))
    try:
        roll = w.piano_roll
        roll.doc.add_note(Note(0, 60, 480, 100))
        roll.doc.add_note(Note(480, 67, 240, 90))
        before = state(roll)
        undo_steps = roll.doc.undo_stack.count()

        w.nav.setCurrentRow(MainWindow.PAGES.index("Generate"))
        view = w.generate_view
        view.set_mode("midi")
        panel = view.compose
        panel.model_folder = random_composer(tmp_path / "composer")
        panel.set_prompt("a hornpipe in G, 3 bars, on flute")
        panel.variations_spin.setValue(2)
        view.compose_midi()
        wait_until(lambda: not view.midi_row.jobs, COMPOSE_S, "the compose job")
        assert len(view.compose_results.cards) == 2, view.compose_banner.label.text()
        assert state(roll) == before  # nothing in the piano roll changes until a piece is opened

        card = view.compose_results.cards[1]
        card.open_button.click()
        assert w.stack.currentWidget() is roll and w.nav.currentRow() == MainWindow.PAGES.index("Piano roll")
        opened = roll.doc.score
        assert opened is not card.item.score  # a copy: editing it leaves the result as it was
        assert state_of(opened) == state_of(card.item.score)
        assert (opened.time_signature.numerator, opened.time_signature.denominator) == (2, 2) and opened.tracks[0].program == 73
        assert roll.modified and roll.doc.undo_stack.count() == undo_steps + 1

        roll.actions_by_name["undo"].trigger()  # Ctrl+Z: exactly the notes that were there
        assert state(roll) == before
        assert roll.doc.undo_stack.count() == undo_steps + 1 and roll.doc.undo_stack.index() == undo_steps
    finally:
        monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Discard)
        w.generate_view.shutdown()
        w.close()
