"""The Generate page as a person uses it, with a tiny real MusicGen folder: prompt → jobs → results
that persist, play, export with tags, delete, and go back into the form; Cancel, no model, a
broken model, downloads; and every control fitting at 1024x700."""

import shutil

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QLineEdit, QWidget
from qt_wait import wait, wait_until

pytest.importorskip("transformers")

from musicgen_helpers import tiny_musicgen  # noqa: E402

from engine.audio.devices import AudioUnavailable  # noqa: E402
from engine.audio.generations import GenerationLibrary  # noqa: E402
from engine.jobs import JobState  # noqa: E402
from engine.models import catalog  # noqa: E402
from engine.models.musicgen.options import SECONDS  # noqa: E402
from engine.models.store import models_dir  # noqa: E402
from gui.generate.form import EXAMPLES  # noqa: E402
from gui.generate.results import details  # noqa: E402
from gui.shell.main_window import MainWindow  # noqa: E402

GENERATION_S = 240  # bound for a 1 s tiny generation on a busy 2-core machine (it takes ~5 s alone)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-musicgen"
    tiny_musicgen(folder)
    return folder


@pytest.fixture(autouse=True)
def no_hub_cache(tmp_path, monkeypatch):
    """No MusicGen from the machine's Hugging Face cache: only what a test installs is listed."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture
def make_window(qtbot):
    windows = []

    def make(size=QSize(1024, 700)):
        w = MainWindow()
        qtbot.addWidget(w)
        w.show()
        w.resize(size)
        w.nav.setCurrentRow(MainWindow.PAGES.index("Generate"))
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.generate_view.shutdown()
        w.close()


def _type_prompt(qtbot, view, text):
    view.form.prompt.clear()
    qtbot.keyClicks(view.form.prompt, text)


def _wait_generated(view, count):
    wait_until(lambda: not view.jobs, GENERATION_S, "the generation job")
    assert view.results.list.count() == count, view.banner.label.text()


def test_prompt_to_results_that_persist_play_export_delete_and_come_back(make_window, qtbot, tiny_folder,
                                                                         tmp_path, monkeypatch):
    w = make_window()
    view = w.generate_view
    assert view.models.add_folder(str(tiny_folder))
    assert view.models.current().path == tiny_folder and view.generate_button.isEnabled()
    assert not view.banner.isVisible()

    prompt = "warm analog synth chords, slow, dreamy"
    _type_prompt(qtbot, view, prompt)
    view.form.seconds_spin.setValue(0.2)  # clamped to the engine's own minimum
    assert view.form.seconds_spin.value() == SECONDS[0]
    view.form.variations_spin.setValue(2)
    qtbot.keyClicks(view.form.seed_edit, "1234")
    progress = []
    w.bridge.event.connect(lambda ev: progress.append(ev.message) if ev.kind == "progress" else None)
    qtbot.keyClick(view.form.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter
    assert len(view.jobs) == 1 and view.cancel_button.isEnabled() and view.progress.isVisible()
    assert view.form.prompt_text() == prompt  # no new line typed
    _wait_generated(view, 2)
    assert any("steps/s" in m for m in progress)
    assert not view.cancel_button.isEnabled() and "seed 1234" in view.status_label.text()

    stored = GenerationLibrary().list()  # a new library on the same folder: they persisted
    assert [g.prompt for g in stored] == [prompt, prompt] and {g.seed for g in stored} == {1234}
    assert sorted(g.settings["variation"] for g in stored) == [1, 2]
    assert view.form.history()[0] == prompt
    recent = view.form.history_button.menu()
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()] == [prompt]
    assert "seed 1234" in details(stored[0]) and "guidance 3" in details(stored[0])

    # selecting one shows its spectrogram and waveform, computed in a job
    results = view.results
    results.list.setCurrentRow(1)
    target = results.selected()
    wait_until(lambda: results.shown_id == target.id, 30, "the preview")
    assert abs(results.waveform.duration - target.seconds) < 0.01 and results.spectrogram.mode == "static"

    # Space plays the selection; no audio device is one banner line
    played = []
    monkeypatch.setattr(results.player, "play", lambda audio, sr, **kw: played.append((audio.shape, sr)))
    results.list.setFocus()
    qtbot.keyClick(results.list, Qt.Key.Key_Space)
    assert played == [((round(target.seconds * target.sample_rate), 1), target.sample_rate)]

    def no_device(*args, **kwargs):
        raise AudioUnavailable("no audio output device")

    monkeypatch.setattr(results.player, "play", no_device)
    results.play_button.click()
    assert view.banner.isVisible() and "no audio output device" in view.banner.label.text()

    # Export…: named after the prompt; WAV and FLAC carry the prompt in their tags
    asked = {}

    def save_dialog(parent, title, default, filters):
        asked["default"] = default
        return str(tmp_path / "chosen"), "FLAC audio (*.flac)"

    monkeypatch.setattr("gui.generate.results.QFileDialog.getSaveFileName", save_dialog)
    results.export_button.click()
    assert asked["default"].endswith("warm analog synth chords, slow, dreamy.wav")
    wav = tmp_path / "out.wav"
    results.export(target.id, str(wav))
    wait_until(lambda: wav.exists() and (tmp_path / "chosen.flac").exists(), 30, "the exports")
    for path in (wav, tmp_path / "chosen.flac"):
        with sf.SoundFile(str(path)) as f:
            assert f.title == prompt and "seed 1234" in f.comment

    # Use settings puts the prompt, settings and seed back
    view.form.seed_edit.clear()
    view.form.prompt.setPlainText("something else")
    view.form.guidance_spin.setValue(7.0)
    results.use_button.click()
    assert view.form.seed_edit.text() == "1234" and view.form.prompt_text() == prompt
    assert view.form.guidance_spin.value() == 3.0

    # Delete (the Delete key) asks first
    monkeypatch.setattr(results, "ask_delete", lambda g: False)
    qtbot.keyClick(results.list, Qt.Key.Key_Delete)
    assert results.list.count() == 2
    monkeypatch.setattr(results, "ask_delete", lambda g: True)
    qtbot.keyClick(results.list, Qt.Key.Key_Delete)
    assert results.list.count() == 1 and [g.id for g in GenerationLibrary().list()] != [target.id]
    assert len(GenerationLibrary().list()) == 1
    w.close()

    # a restart: the result, the model, the options and the prompt are still there
    w2 = make_window()
    v2 = w2.generate_view
    assert v2.results.list.count() == 1 and v2.models.current().path == tiny_folder
    assert (v2.form.variations_spin.value(), v2.form.seed_edit.text()) == (2, "1234")
    assert v2.form.prompt_text() == prompt and v2.form.history() == [prompt]


def test_continue_a_take(make_window, tiny_folder):
    w = make_window()
    view = w.generate_view
    take = w.library.begin(16000, 1, name="hummed idea")
    sf.write(take.path, (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000, subtype="FLOAT")
    take = w.library.commit(take, 1.0)
    view.source.refresh()
    combo = view.source.combo
    index = next(i for i in range(combo.count()) if "hummed idea" in combo.itemText(i))
    combo.setCurrentIndex(index)
    assert view.source.end_spin.value() == 1.0 and view.source.start_spin.isEnabled()
    view.source.set_part(0.2, 0.6)
    view.hide()
    view.show()  # the takes are listed again: the choice and its part stay
    assert view.source.source() == (take.path, 0.2, 0.6)
    view.models.add_folder(str(tiny_folder))
    view.form.prompt.setPlainText("carry on")
    view.form.seconds_spin.setValue(1.0)
    view.form.variations_spin.setValue(1)
    view.generate()
    _wait_generated(view, 1)
    g = GenerationLibrary().list()[0]
    assert g.settings["continued_from"] == f"{take.id}.wav"
    assert g.seconds > 1.0  # the part continued comes first


def test_cancel_leaves_no_result(make_window, tiny_folder):
    w = make_window()
    view = w.generate_view
    view.models.add_folder(str(tiny_folder))
    view.form.prompt.setPlainText("a very long piece")
    view.form.seconds_spin.setValue(30.0)
    view.form.variations_spin.setValue(1)
    job_id = view.generate()
    job = w.queue.get(job_id)
    wait_until(lambda: (job.progress or 0) > 0, GENERATION_S, "the first steps")
    view.cancel_button.click()
    wait_until(lambda: not view.jobs, 60, "the cancellation")
    assert job.state is JobState.CANCELLED
    assert view.results.list.count() == 0 and GenerationLibrary().list() == []
    assert view.banner.isVisible() and "cancelled" in view.banner.label.text()
    assert "cancelled" in view.status_label.text() and not view.progress.isVisible()


def test_no_model_shows_how_to_get_one(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    view = w.generate_view
    assert view.models.current() is None and not view.generate_button.isEnabled()
    text = view.banner.label.text()
    assert view.banner.isVisible() and "motet models download musicgen-small" in text and "Add folder" in text
    combo = view.models.combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert any(t.startswith("Download musicgen-small (2.4 GB)") for t in items)
    assert any(t.startswith("Download musicgen-melody") for t in items)
    assert not view.source.melody_button.isEnabled() and "melody model" in view.source.melody_button.toolTip()

    offered = []
    monkeypatch.setattr(view.models, "ask_download", lambda d: offered.append(d.name) or False)
    view.banner.button("Download musicgen-small…").click()
    assert offered == ["musicgen-small"] and view.models.download_job is None

    examples = view.form.examples_button.menu()
    examples.aboutToShow.emit()
    examples.actions()[0].trigger()
    assert view.form.prompt_text() == EXAMPLES[0]
    recent = view.form.history_button.menu()
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()] == ["No prompts yet"]
    qtbot.keyClick(view.form.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not view.jobs and "Choose a MusicGen model" in view.banner.label.text()

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    assert not view.models.add_folder(str(empty))
    assert "Not a MusicGen folder" in view.banner.label.text() and "\n" not in view.banner.label.text()


def test_broken_model_and_bad_input_are_one_line_errors(make_window, tiny_folder, tmp_path):
    broken = tmp_path / "broken-musicgen"
    shutil.copytree(tiny_folder, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    w = make_window()
    view = w.generate_view
    assert view.models.add_folder(str(broken))  # it looks like one until its weights are read

    bad_audio = tmp_path / "damaged.wav"
    bad_audio.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    assert not view.source.use_file(str(bad_audio))
    assert "Cannot continue that file" in view.banner.label.text() and view.source.source() is None
    view.form.prompt.setPlainText("doomed")
    view.form.seed_edit.setText("99999999999")  # past the validator, as a pasted value could be
    assert view.generate() is None and "seed must be" in view.banner.label.text()
    view.form.seed_edit.clear()
    view.form.seconds_spin.setValue(1.0)
    job_id = view.generate()
    wait_until(lambda: not view.jobs, 60, "the failing job")
    assert w.queue.get(job_id).state is JobState.FAILED
    line = view.banner.label.text()
    assert line.startswith("Could not generate:") and "\n" not in line and "Traceback" not in line
    assert view.results.list.count() == 0 and w.isVisible()


def test_download_shows_progress_cancels_and_installs(make_window, tiny_folder, monkeypatch):
    import threading

    release = threading.Event()

    def fake_download(name, progress=None, should_stop=None, family_name="whisper"):
        assert family_name == "musicgen"
        for i in range(1000):
            progress(min(0.5, i / 100))
            if should_stop():
                from engine.cancel import Cancelled

                raise Cancelled("download stopped")
            if release.wait(0.02):
                break
        folder = models_dir("musicgen") / name
        shutil.copytree(tiny_folder, folder)
        return folder

    monkeypatch.setattr(catalog, "download_model", fake_download)
    w = make_window()
    picker = w.generate_view.models
    monkeypatch.setattr(picker, "ask_download", lambda d: True)
    combo = picker.combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if "musicgen-small" in combo.itemText(i)))
    assert combo.currentIndex() == -1  # the offer is not a model: the choice goes back
    wait_until(lambda: picker.download_job is not None and picker.download_bar.value() > 0, 30, "download progress")
    assert picker.download_row.isVisible() and "musicgen-small" in picker.download_label.text()
    job = w.queue.get(picker.download_job)
    picker.download_cancel.click()
    wait_until(lambda: picker.download_job is None, 30, "the cancellation")
    assert job.state is JobState.CANCELLED and not picker.download_row.isVisible()
    assert "cancelled" in w.generate_view.status_label.text()

    release.set()
    picker.download("musicgen-small")
    wait_until(lambda: picker.download_job is None, 30, "the download")
    assert picker.current() is not None and picker.current().name == "musicgen-small"
    assert w.generate_view.generate_button.isEnabled() and not w.generate_view.banner.isVisible()
    assert not any("Download musicgen-small" in combo.itemText(i) for i in range(combo.count()))


def _check_fits(page: QWidget) -> None:
    """Every shown control lies inside the page at no less than its minimum size."""
    page_rect = page.rect()
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QLabel)
    for child in page.findChildren(QWidget):
        if not child.isVisibleTo(page) or not isinstance(child, kinds) or child.objectName().startswith("qt_"):
            continue  # (qt_*: the inner parts of spin and combo boxes)
        top_left = child.mapTo(page, child.rect().topLeft())
        bottom_right = child.mapTo(page, child.rect().bottomRight())
        assert page_rect.contains(top_left) and page_rect.contains(bottom_right), (type(child), child.objectName())
        hint = child.minimumSizeHint()
        if isinstance(child, QLabel) and child.wordWrap():
            continue
        assert child.width() >= hint.width() and child.height() >= hint.height(), (child, child.size(), hint)


def test_every_control_fits_at_1024x700(make_window, tiny_folder):
    """Before and while generating (the first window has no model yet: the banner shows), at the
    smallest supported window and a larger one; the screenshots are for a person to look at."""
    library = GenerationLibrary()
    rate = 32000
    t = np.arange(rate * 4) / rate
    for i, prompt in enumerate(["lo-fi hip hop beat with warm piano chords and vinyl crackle, 80 bpm",
                                "epic orchestral soundtrack with soaring strings"]):
        audio = (0.4 * np.sin(2 * np.pi * (220 + 110 * i) * t) * np.exp(-t % 1)).astype(np.float32)
        library.add(audio, rate, prompt, "facebook/musicgen-small", 1000 + i,
                    {"guidance": 3.0, "temperature": 1.0, "top_k": 250, "top_p": 0.0})
    for size in (QSize(1024, 700), QSize(1400, 900)):
        w = make_window(size)
        view = w.generate_view
        wait_until(lambda: view.results.shown_id is not None, 30, "the preview")
        wait(100)
        name = f"/tmp/generate_{size.width()}x{size.height()}"
        for state in ("before", "generating"):  # (before: no model at first; the next window remembers it)
            if state == "generating":
                view.models.add_folder(str(tiny_folder))
                view.form.prompt.setPlainText("lo-fi hip hop beat with warm piano chords, 80 bpm")
                view.form.seconds_spin.setValue(30.0)
                job = w.queue.get(view.generate())
                wait_until(lambda: (job.progress or 0) > 0, GENERATION_S, "the first steps")
                wait(100)
                assert "steps/s" in view.status_label.text()
            # the page does not make the window grow (the Jobs dock may, showing itself: README)
            assert w.size() == QSize(size.width(), size.height() + w.jobs_dock._grown), (w.size(), w.jobs_dock._grown)
            hint = view.minimumSizeHint()
            assert hint.width() <= view.width() and hint.height() <= view.height(), (hint, view.size())
            _check_fits(view)
            area = view.form_area  # the form needs no scrolling at these sizes
            assert not area.horizontalScrollBar().isVisible() and not area.verticalScrollBar().isVisible()
            w.grab().save(f"{name}_{state}.png")
        view.cancel()
        wait_until(lambda: not view.jobs, 60, "the cancellation")
        w.close()


def test_melody_input_only_for_a_melody_model(make_window, tiny_folder, tmp_path):
    melody_folder = tmp_path / "tiny-melody"
    tiny_musicgen(melody_folder, melody=True)
    tune = tmp_path / "tune.wav"
    sf.write(tune, (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 32000)).astype(np.float32), 32000)
    w = make_window()
    view = w.generate_view
    assert view.models.add_folder(str(tiny_folder))
    assert not view.source.melody_button.isEnabled() and "melody model" in view.source.melody_button.toolTip()
    assert view.models.add_folder(str(melody_folder))
    assert view.source.melody_button.isEnabled()
    assert view.source.use_melody(str(tune)) and "tune.wav" in view.source.melody_button.text()
    assert view.source.melody() == str(tune)
    assert view.models.add_folder(str(tiny_folder))  # back to a plain model: the melody is let go
    assert not view.source.melody_button.isEnabled() and view.source.melody() is None


def test_int8_is_asked_for_and_remembered(make_window, tiny_folder):
    w = make_window()
    form = w.generate_view.form
    form.int8_check.setChecked(True)
    assert form.request().compute_type == "int8"
    w2 = make_window()  # a restart: the choice is remembered
    assert w2.generate_view.form.int8_check.isChecked()
    w2.generate_view.form.int8_check.setChecked(False)
    assert w2.generate_view.form.request().compute_type == "float32"


# -- issue #29 ---------------------------------------------------------------------------------------

def _batches(count):
    """``count`` batches of two variations each, as Generate keeps them (long prompt and model name)."""
    library = GenerationLibrary()
    for b in range(count):
        for v in (1, 2):
            library.add(np.full((1, 8000), 0.01, np.float32), 32000, f"warm analog synth chords, slow, dreamy {b}",
                        "facebook/musicgen-small", 1234 + b, {"guidance": 3.0, "temperature": 1.0, "top_k": 250,
                                                              "top_p": 0.0, "variation": v, "variations": 2})


def test_variations_are_told_apart_and_the_list_has_room_at_1024x700(make_window, tmp_path):
    import os

    from PySide6.QtWidgets import QStyleOptionViewItem

    _batches(4)
    w = make_window()
    view = w.generate_view
    view.set_mode("audio")
    wait(200)
    results = view.results
    listed = results.list
    assert listed.count() == 8
    # the second line as drawn in the row's width starts with the variation, never cut off
    option = QStyleOptionViewItem()
    option.font = listed.font()
    for row in range(listed.count()):
        item = listed.item(row)
        g = item.data(Qt.ItemDataRole.UserRole)
        _, second = listed.itemDelegate().lines(g, option.font, listed.visualItemRect(item))
        assert second.startswith(f"variation {g.settings['variation']} of 2 · seed {g.seed}"), second
    # five results or more in view at the smallest supported window, the views under it still usable
    assert w.size() == QSize(1024, 700)
    row_height = listed.visualItemRect(listed.item(0)).height()
    visible = sum(listed.viewport().rect().contains(listed.visualItemRect(listed.item(r)))
                  for r in range(listed.count()))
    assert visible >= 5 and listed.viewport().height() >= 5 * row_height, (visible, listed.viewport().height())
    assert results.spectrogram.height() >= results.spectrogram.minimumSizeHint().height()
    assert results.waveform.height() >= results.waveform.minimumSizeHint().height()
    if os.environ.get("MOTET_SCREENSHOTS"):
        w.grab().save(os.path.join(os.environ["MOTET_SCREENSHOTS"], "generate-variations-1024.png"))


def test_no_model_banner_points_at_what_works(make_window, monkeypatch):
    """The banner names its own Download button (not a list that looks disabled); the Model list is
    usable too: a download chosen there is offered."""
    w = make_window()
    view = w.generate_view
    view.set_mode("audio")
    text = view.banner.label.text()
    assert "Download musicgen-small…" in text and "choose one to download in the model list" not in text
    button = view.banner.button("Download musicgen-small…")
    assert button is not None and button.isVisible() and button.isEnabled()
    combo = view.models.combo
    assert combo.isEnabled() and "choose a download" in combo.placeholderText()
    from PySide6.QtGui import QPalette

    palette = combo.palette()  # not drawn greyed out as if disabled
    assert palette.color(QPalette.ColorRole.PlaceholderText) == palette.color(QPalette.ColorRole.Text)
    offered = []
    monkeypatch.setattr(view.models, "ask_download", lambda d: offered.append(d.name) or False)
    index = next(i for i in range(combo.count()) if combo.itemText(i).startswith("Download musicgen-medium"))
    combo.setCurrentIndex(index)  # as choosing it in the popup does
    wait(50)
    assert offered == ["musicgen-medium"] and combo.currentIndex() == -1 and view.models.current() is None
    button.click()
    assert offered == ["musicgen-medium", "musicgen-small"]


def test_damaged_weights_are_one_banner_line(make_window, tiny_folder, monkeypatch):
    import torch

    import engine.models.musicgen.generate as musicgen
    from engine.models.common.sampling import DAMAGED, sample

    monkeypatch.setattr(musicgen, "sample", lambda logits, *a, **k: sample(torch.full_like(logits, float("nan")),
                                                                           *a, **k))
    w = make_window()
    view = w.generate_view
    view.set_mode("audio")
    assert view.models.add_folder(str(tiny_folder))
    view.form.prompt.setPlainText("a lively jig")
    view.generate()
    wait_until(lambda: not view.jobs, GENERATION_S, "the generation job")
    assert view.banner.isVisible() and view.banner.label.text() == f"Could not generate: {DAMAGED}"
    assert view.results.list.count() == 0
