"""At 1024x700, the smallest window Motet is made for, every control of the Record and Transcribe
pages is on screen at no less than its own minimum size (with a take, or a file, shown)."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel
from qt_wait import wait_until

from engine.audio.takes import TakeLibrary
from gui.shell.main_window import MainWindow

LOAD_S = 60  # a few seconds of audio read on the cpu lane: no real work, a busy machine


def _misfits(page):
    """Visible controls cut by the page's edge or squeezed below their minimum size."""
    bad = []
    for w in page.findChildren(QAbstractButton) + page.findChildren(QComboBox) + \
            page.findChildren(QAbstractSpinBox) + page.findChildren(QLabel):
        if not w.isVisibleTo(page) or (isinstance(w, QLabel) and not w.text()):
            continue
        rect = QRect(w.mapTo(page, w.rect().topLeft()), w.size())
        hint = w.minimumSizeHint()
        if not page.rect().contains(rect) or w.width() < min(hint.width(), w.sizeHint().width()) \
                or w.height() < hint.height():
            bad.append((type(w).__name__, w.text() if hasattr(w, "text") else "", rect, hint))
    return bad


@pytest.fixture
def window(qtbot, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    take = lib.begin(16000, 1, name="A take")
    sf.write(take.path, (0.2 * np.sin(np.arange(16000 * 3) / 5)).astype(np.float32), 16000, format="WAV",
             subtype="FLOAT")
    lib.commit(take, 3.0)
    w = MainWindow(library=lib)
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_record_page_with_a_take_fits(window, qtbot):
    window.nav.setCurrentRow(0)
    view = window.record_view
    take = window.library.list()[0]
    view.refresh_takes(select=take.id)
    wait_until(lambda: view.display.path == take.path and view.waveform.isVisible(), LOAD_S, "the take shown")
    qtbot.wait(50)
    view.device_combo.addItem("USB Audio Interface with a Name Longer Than Any Window · 192 kHz " * 2)
    qtbot.wait(50)
    assert window.size() == QSize(1024, 700)
    assert _misfits(view) == []
    assert view.waveform.height() >= view.waveform.minimumSizeHint().height()


def test_transcribe_page_with_a_file_fits(window, qtbot, tmp_path):
    window.nav.setCurrentRow(1)
    path = tmp_path / ("a long name for a recording of a meeting that went on for most of the morning" + ".wav")
    sf.write(path, np.zeros(16000 * 2, np.float32), 16000)
    window.transcribe_view.add_files([str(path)], transcribe=False)
    wait_until(lambda: window.file_view.audio is not None, LOAD_S, "the file shown")
    window.transcribe_view.model_combo.addItem("a model folder with a very long name indeed · 1550 MB · safetensors")
    window.transcribe_view.model_label.set_text("a-model-folder-with-a-very-long-name-" * 4, " runs on CPU · float32")
    qtbot.wait(50)
    assert window.size() == QSize(1024, 700)
    assert _misfits(window.transcribe_view) == []
