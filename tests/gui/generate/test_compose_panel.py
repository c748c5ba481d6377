"""Generate's MIDI mode (Compose) as a person uses it, with a tiny random composer model: the mode
remembered, the prompt read into chips as it is typed (defaults looking different, an edited chip
winning), a bad value stopping Compose, pieces with previews and seeds that play and save as .mid,
Cancel, a missing model, and every control fitting at 1024x700."""

import os
import threading
from pathlib import Path

import pytest
from composer_helpers import random_composer
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QLineEdit, QWidget
from qt_wait import wait, wait_until

from engine.audio.devices import AudioUnavailable
from engine.jobs import JobState
from engine.midi.midifile import read_midi
from engine.models.composer import generate as composer_generate
from gui.generate.compose_results import ResultCard
from gui.shell.main_window import MainWindow

COMPOSE_S = 240  # bound for loading a tiny model and a few short pieces on a busy 2-core machine
RENDER_S = 120  # loading the SoundFont and rendering a few seconds


@pytest.fixture(scope="module")
def composer(tmp_path_factory):
    return random_composer(tmp_path_factory.mktemp("models") / "tiny-composer")


@pytest.fixture(autouse=True)
def no_hub_cache(tmp_path, monkeypatch):
    """No MusicGen from the machine's Hugging Face cache (the Audio mode lists what it finds)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture
def make_window(qtbot, composer):
    windows = []

    def make(size=QSize(1024, 700), mode="midi"):
        w = MainWindow()
        qtbot.addWidget(w)
        w.show()
        w.resize(size)
        w.nav.setCurrentRow(MainWindow.PAGES.index("Generate"))
        if mode:
            w.generate_view.set_mode(mode)
        w.generate_view.compose.model_folder = composer
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.generate_view.shutdown()
        w.close()


def _type(qtbot, panel, text):
    panel.prompt.clear()
    qtbot.keyClicks(panel.prompt, text)
    wait_until(lambda: not panel.read_timer.isActive(), 10, "the prompt read")  # 250 ms after the last key


def _values(panel):
    return {name: chip.value() for name, chip in panel.chips.items()}


def _states(panel):
    return {name: chip.state for name, chip in panel.chips.items()}


def _pick(combo, data):
    """Choose an item as a person does (``activated`` is the user's signal, not a programmatic change)."""
    index = combo.findData(data)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _wait_composed(view):
    wait_until(lambda: not view.midi_row.jobs, COMPOSE_S, "the compose job")


def test_mode_switch_is_remembered(make_window):
    w = make_window(mode=None)
    view = w.generate_view
    assert view.mode() == "audio" and view.mode_buttons["audio"].isChecked()
    assert view.form_area.isVisible() and not view.compose.isVisible()
    view.mode_buttons["midi"].click()
    assert view.mode() == "midi" and view.compose.isVisible() and not view.form_area.isVisible()
    w.close()
    w2 = make_window(mode=None)  # a restart: MIDI mode again
    assert w2.generate_view.mode() == "midi" and w2.generate_view.mode_buttons["midi"].isChecked()
    assert w2.generate_view.compose.isVisible()
    w2.generate_view.mode_buttons["audio"].click()
    assert make_window(mode=None).generate_view.mode() == "audio"


def test_chips_follow_the_prompt_and_defaults_look_different(make_window, qtbot):
    view = make_window().generate_view
    panel = view.compose
    _type(qtbot, panel, "a lively jig in D major, 16 bars, fiddle, played wonderfully")
    from engine.models.composer.controls import Key

    assert _values(panel) == {"style": "jig", "key": Key(2, "major"), "meter": (6, 8), "tempo": 218.0, "bars": 16,
                              "instrument": 40, "voices": 1}
    assert _states(panel) == {"style": "said", "key": "said", "meter": "default", "tempo": "said", "bars": "said",
                              "instrument": "said", "voices": "default"}
    meter, style = panel.chips["meter"], panel.chips["style"]
    assert meter.editors[0].font().italic() and not style.editors[0].font().italic()
    assert meter.styleSheet() != style.styleSheet() and "default" in meter.toolTip()
    assert "ignored: wonderfully" in panel.reading_label.text() and view.midi_row.button.isEnabled()

    _type(qtbot, panel, "a slow air in E minor on tin whistle")  # the chips follow
    values = _values(panel)
    assert (values["style"], values["key"], values["meter"], values["instrument"]) == \
        ("air", Key(4, "minor"), (3, 4), 78)
    assert panel.chips["meter"].state == "default" and panel.chips["bars"].state == "default"
    _type(qtbot, panel, "a waltz in C")  # a style without training pieces: the notice says what was done
    assert panel.chips["style"].value() == "air" and panel.chips["meter"].state == "said"
    assert "no waltzes in the training data" in panel.reading_label.text()


def test_an_edited_chip_wins_until_the_prompt_names_it(make_window, qtbot):
    view = make_window().generate_view
    panel = view.compose
    _type(qtbot, panel, "a reel in G")
    panel.chips["bars"].editors[0].setValue(8)  # the user's edit
    assert panel.chips["bars"].state == "edited" and panel.controls().bars == 8
    _type(qtbot, panel, "a reel in G, for flute")  # the prompt changes, but not its bars
    assert panel.chips["bars"].value() == 8 and panel.chips["bars"].state == "edited"
    assert panel.chips["instrument"].value() == 73 and panel.chips["instrument"].state == "said"
    _type(qtbot, panel, "a reel in G, for flute, 12 bars")  # now it names them: the prompt wins again
    assert panel.chips["bars"].value() == 12 and panel.chips["bars"].state == "said"

    _pick(panel.chips["instrument"].editors[0], 21)  # accordion over the prompt's flute
    _type(qtbot, panel, "a reel in G, for flute, 12 bars, fast")
    assert panel.chips["instrument"].value() == 21 and panel.controls().program == 21

    _pick(panel.chips["style"].editors[0], "chorale")  # a style by hand brings its usual values for the rest
    c = panel.controls()
    assert (c.style, c.meter, c.voices, c.bars, c.program, str(c.key)) == ("chorale", (4, 4), 4, 12, 21, "G major")
    assert panel.chips["meter"].value() == (4, 4) and panel.chips["meter"].state == "default"


@pytest.mark.parametrize("prompt,message", [("a jig, 1000 bars", "1 to 64 bars, not 1000"),
                                            ("a reel, 0 bars", "1 to 64 bars, not 0"),
                                            ("a reel in 7/8", "the meter 7/8 is not one the model knows")])
def test_a_bad_value_disables_compose_with_its_message(make_window, qtbot, prompt, message):
    view = make_window().generate_view
    panel = view.compose
    _type(qtbot, panel, prompt)
    assert not view.midi_row.button.isEnabled() and message in panel.reading_label.text()
    assert "\n" not in panel.reading_label.text() and message in view.midi_row.button.toolTip()
    assert not panel.chips["bars"].isEnabled()  # the chips of the last good reading, greyed
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not view.midi_row.jobs and view.compose_banner.isVisible() and message in view.compose_banner.label.text()
    _type(qtbot, panel, "a reel, 8 bars")
    assert view.midi_row.button.isEnabled() and "not" not in panel.reading_label.text()
    assert panel.chips["bars"].isEnabled() and panel.chips["bars"].value() == 8


def test_compose_gives_variations_that_play_and_save(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    view = w.generate_view
    panel = view.compose
    _type(qtbot, panel, "a jig in D major, 4 bars, fiddle")
    panel.variations_spin.setValue(3)
    panel.seed_edit.setText("77")
    progress = []
    w.bridge.event.connect(lambda ev: progress.append(ev.message) if ev.kind == "progress" else None)
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter
    assert len(view.midi_row.jobs) == 1 and view.midi_row.cancel_button.isEnabled() and view.midi_row.progress.isVisible()
    assert panel.prompt_text() == "a jig in D major, 4 bars, fiddle"  # no new line typed
    _wait_composed(view)
    assert not view.compose_banner.isVisible(), view.compose_banner.label.text()
    assert any(m.startswith("composing · bar") and m.endswith("of 4") for m in progress), progress
    cards = list(view.compose_results.cards)
    assert [c.item.variation for c in cards] == [1, 2, 3] and {c.item.seed for c in cards} == {77}
    assert "seed 77" in view.midi_row.status_label.text() and not view.midi_row.cancel_button.isEnabled()
    for card in cards:
        score = card.item.score
        assert "seed 77" in card.item.details() and "seed\xa077" in card.details_label.text() and "jig · D major · 6/8 · 174 BPM · 4 bars" in card.item.chips
        assert card.preview.isVisible() and card.preview.score is score and score.note_count() > 0
        assert 0 < score.end_tick <= 4 * score.ticks_per_bar
        ts = score.time_signature
        assert (ts.numerator, ts.denominator) == (6, 8) and score.bpm == pytest.approx(174, abs=0.01)
        assert score.tracks[0].program == 40
    assert len({tuple(c.item.score.tracks[0].notes) for c in cards}) == 3  # three different pieces
    assert panel.history()[0] == "a jig in D major, 4 bars, fiddle"

    # an empty seed: a new one, shown; the newest batch on top
    panel.seed_edit.clear()
    panel.variations_spin.setValue(1)
    view.midi_row.button.click()
    _wait_composed(view)
    newest = view.compose_results.cards[0]
    assert len(view.compose_results.cards) == 4 and newest.item.variations == 1
    assert f"seed\xa0{newest.item.seed}" in newest.details_label.text() and newest.item.seed != 77

    # Play renders on the cpu lane, then plays; no output device is one banner line
    played = []
    monkeypatch.setattr(view.compose_results.player, "play", lambda audio, rate, **kw: played.append((audio.shape, rate)))
    newest.play_button.click()
    assert newest.play_button.text() == ResultCard.STOP
    wait_until(lambda: played, RENDER_S, "the rendered piece")
    (frames, channels), rate = played[0]
    assert frames / rate >= 4 * 3 * 60 / 174 and channels == 2  # at least its 4 bars of 3 quarters, in stereo
    view.compose_results.stop()
    assert newest.play_button.text() == ResultCard.PLAY

    def no_device(*args, **kwargs):
        raise AudioUnavailable("no audio output device")

    monkeypatch.setattr(view.compose_results.player, "play", no_device)
    cards[0].play_button.click()
    wait_until(lambda: view.compose_banner.isVisible(), RENDER_S, "the banner")
    assert "no audio output device" in view.compose_banner.label.text() and cards[0].play_button.text() == ResultCard.PLAY

    # Save .mid…: named after the prompt and seed; read_midi opens what it wrote
    asked = {}

    def save_dialog(parent, title, default, filters):
        asked["default"] = default
        return str(tmp_path / "chosen"), filters

    monkeypatch.setattr("gui.generate.compose_results.QFileDialog.getSaveFileName", save_dialog)
    cards[1].save_button.click()
    assert asked["default"].endswith("a jig in D major, 4 bars, fiddle-77-2.mid")
    back = read_midi(tmp_path / "chosen.mid")
    assert [n.pitch for n in back.tracks[0].notes] == [n.pitch for n in cards[1].item.score.tracks[0].notes]
    assert back.bpm == pytest.approx(174, abs=0.01) and back.end_tick == cards[1].item.score.end_tick

    # a failed write is one banner line, and leaves nothing behind
    view.compose_banner.hide()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    assert not view.compose_results.save(cards[0], blocked / "piece.mid")
    line = view.compose_banner.label.text()
    assert view.compose_banner.isVisible() and "\n" not in line and "piece.mid" in line
    assert blocked.read_text() == "a file where a folder should be"


def test_cancel_leaves_no_result_and_the_page_usable(make_window, qtbot, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = composer_generate.compose

    def gated(*args, progress=None, **kwargs):
        def report(fraction):  # hold the job inside its first bars until the test has pressed Cancel
            progress(fraction)
            if fraction > 0 and not started.is_set():
                started.set()
                release.wait(60)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(composer_generate, "compose", gated)
    w = make_window()
    view = w.generate_view
    panel = view.compose
    _type(qtbot, panel, "a reel in A, 64 bars")
    panel.variations_spin.setValue(2)
    job = w.queue.get(view.compose_midi())
    wait_until(started.is_set, COMPOSE_S, "the first bars")
    view.midi_row.cancel_button.click()
    release.set()
    _wait_composed(view)
    assert job.state is JobState.CANCELLED and view.compose_results.cards == []
    assert view.compose_banner.isVisible() and "cancelled" in view.compose_banner.label.text()
    assert "cancelled" in view.midi_row.status_label.text() and not view.midi_row.progress.isVisible()
    assert view.compose_results.empty_label.isVisible()

    _type(qtbot, panel, "a reel in A, 2 bars")  # the page is still usable
    view.compose_midi()
    _wait_composed(view)
    assert len(view.compose_results.cards) == 2 and not view.compose_banner.isVisible()


def test_no_composer_model_is_one_banner_line(make_window, tmp_path):
    w = make_window()
    view = w.generate_view
    panel = view.compose
    panel.model_folder = tmp_path / "no-composer-here"
    panel.set_prompt("a jig, 2 bars")
    job_id = view.compose_midi()
    _wait_composed(view)
    assert w.queue.get(job_id).state is JobState.FAILED
    line = view.compose_banner.label.text()
    assert line.startswith("Could not compose:") and "no-composer-here" in line
    assert "\n" not in line and "Traceback" not in line
    assert view.compose_results.cards == [] and view.midi_row.button.isEnabled() and w.isVisible()


def _check_fits(page: QWidget, skip: QWidget) -> None:
    """Every shown control lies inside the page at no less than its minimum size (``skip``: the
    cards' scroll area, whose lower cards scroll)."""
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QLabel)
    for child in page.findChildren(QWidget):
        if not child.isVisibleTo(page) or not isinstance(child, kinds) or child.objectName().startswith("qt_") \
                or skip.isAncestorOf(child):
            continue
        if isinstance(child.parentWidget(), (QLineEdit, QAbstractSpinBox, QComboBox)):
            continue  # their inner parts (a line edit's clear button)
        top_left = child.mapTo(page, child.rect().topLeft())
        bottom_right = child.mapTo(page, child.rect().bottomRight())
        assert page.rect().contains(top_left) and page.rect().contains(bottom_right), (type(child), child.objectName())
        if not (isinstance(child, QLabel) and child.wordWrap()):
            hint = child.minimumSizeHint()
            assert child.width() >= hint.width() and child.height() >= hint.height(), (child, child.size(), hint)


def test_every_control_fits_at_1024x700(make_window, qtbot):
    """After one Compose, at the smallest supported window and a larger one; the screenshots are
    for a person to look at ($MOTET_SCREENSHOTS, a folder; none without it)."""
    shots = Path(os.environ["MOTET_SCREENSHOTS"]) if os.environ.get("MOTET_SCREENSHOTS") else None
    for kept, size in ((0, QSize(1024, 700)), (2, QSize(1400, 900))):
        w = make_window(size)  # the second lists the first's pieces (kept across restarts) under its own
        view = w.generate_view
        panel = view.compose
        _type(qtbot, panel, "a lively jig in D major, 4 bars, fiddle, with a twist")
        panel.chips["voices"].editors[0].setValue(2)
        panel.variations_spin.setValue(2)
        panel.seed_edit.setText("5")
        view.compose_midi()
        _wait_composed(view)
        wait(100)
        # the page does not make the window grow (the Jobs dock may: it gives the page's room back)
        assert w.size() == QSize(size.width(), size.height() + w.jobs_dock._grown), (w.size(), w.jobs_dock._grown)
        assert len(view.compose_results.cards) == 2 + kept
        hint = view.minimumSizeHint()
        assert hint.width() <= view.width() and hint.height() <= view.height(), (hint, view.size())
        _check_fits(view, view.compose_results.area)
        first = view.compose_results.cards[0]
        for button in (first.play_button, first.open_button, first.save_button):  # the newest card is in view
            corner = button.mapTo(view.compose_results.area.viewport(), button.rect().bottomRight())
            assert view.compose_results.area.viewport().rect().contains(corner)
        assert not view.compose_area.verticalScrollBar().isVisible()  # the form needs no scrolling
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            w.grab().save(str(shots / f"compose-{size.width()}.png"))
        w.close()


# -- issue #29 ---------------------------------------------------------------------------------------

def test_without_a_seed_the_result_is_what_the_chips_showed(make_window, qtbot):
    """An empty prompt and no seed: the chips draw a style; the piece is that style, and its seed
    reads the prompt into the same chips again (as `motet compose --seed` does)."""
    from engine.models.composer.prompt import read_prompt
    from gui.generate.compose_results import describe

    w = make_window()
    view = w.generate_view
    panel = view.compose
    panel.seed_edit.clear()
    panel.variations_spin.setValue(1)
    for _ in range(3):
        _type(qtbot, panel, "heavy metal, 200 bpm, 2 bars")
        shown = describe(panel.controls())
        view.midi_row.button.click()
        _wait_composed(view)
        card = view.compose_results.cards[0]
        assert card.item.chips == shown
        ts = card.item.score.time_signature
        assert f"{ts.numerator}/{ts.denominator}" == panel_meter(shown)
        assert describe(read_prompt("heavy metal, 200 bpm, 2 bars", seed=card.item.seed).controls) == shown


def panel_meter(chips: str) -> str:
    return chips.split(" · ")[2]


def test_composed_pieces_are_listed_again_after_a_restart(make_window, qtbot, composer, tmp_path, monkeypatch):
    w = make_window()
    view = w.generate_view
    panel = view.compose
    _type(qtbot, panel, "a slow air in E minor, 2 bars, flute")
    panel.variations_spin.setValue(2)
    panel.seed_edit.setText("31")
    view.midi_row.button.click()
    _wait_composed(view)
    _type(qtbot, panel, "a reel in G, 2 bars")
    panel.variations_spin.setValue(1)
    view.midi_row.button.click()
    _wait_composed(view)
    before = [(c.item.title, c.details_label.text(), [n.pitch for n in c.item.score.tracks[0].notes])
              for c in view.compose_results.cards]
    assert len(before) == 3 and not view.compose_banner.isVisible()
    view.shutdown()
    w.close()

    again = make_window()  # the app started again
    results = again.generate_view.compose_results
    after = [(c.item.title, c.details_label.text(), [n.pitch for n in c.item.score.tracks[0].notes])
             for c in results.cards]
    assert after == before  # newest first, variation 1 of 2 above 2 of 2, the same notes
    assert not results.empty_label.isVisible() and all(c.isVisible() for c in results.cards[:1])
    assert "variation\xa01\xa0of\xa02" in results.cards[1].details_label.text()
    if os.environ.get("MOTET_SCREENSHOTS"):
        again.generate_view.grab().save(os.path.join(os.environ["MOTET_SCREENSHOTS"], "compose-restart.png"))

    # a piece made with `motet compose` meanwhile is listed when the page shows again
    from engine.cli import run

    assert run(["compose", "a hornpipe, 2 bars", "--seed", "8", "--model", str(composer),
                "--out", str(tmp_path / "cli")]) == 0
    again.nav.setCurrentRow(MainWindow.PAGES.index("Record"))
    again.nav.setCurrentRow(MainWindow.PAGES.index("Generate"))
    wait(200)
    assert len(results.cards) == 4 and results.cards[0].item.prompt == "a hornpipe, 2 bars"

    # Delete (the card's context menu, confirmed): gone now and after a restart
    monkeypatch.setattr(results, "ask_delete", lambda card: True)
    doomed = results.cards[0]
    assert results.delete(doomed) and len(results.cards) == 3 and doomed not in results.cards
    third = make_window()
    assert [c.item.title for c in third.generate_view.compose_results.cards] == [t for t, _, _ in before]
