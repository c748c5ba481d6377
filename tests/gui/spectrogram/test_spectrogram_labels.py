"""The spectrogram's frequency labels are read whole: none is cut at the plot's top edge."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from gui.spectrogram.view import SpectrogramView


@pytest.mark.parametrize("rate,scale", [(22050, "mel"), (44100, "mel"), (16000, "linear")])
def test_frequency_labels_are_inside_the_plot(qtbot, rate, scale):
    view = SpectrogramView()
    qtbot.addWidget(view)
    view.scale = scale
    view.resize(700, 240)
    view.show()
    qtbot.waitExposed(view)
    view.show_audio(np.zeros(rate, np.float32), rate)
    qtbot.wait(50)
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = view.freq_axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    visible = QRectF(view.plot.viewport().rect())
    assert len(texts) >= 3
    for rect, _, text in texts:
        on_screen = QRectF(view.plot.mapFromScene(view.freq_axis.mapRectToScene(rect)).boundingRect())
        assert visible.contains(on_screen), (text, on_screen, visible)
