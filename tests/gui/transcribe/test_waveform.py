"""The waveform view, measured rather than eyeballed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from gui.transcribe.waveform import WaveformView

SR = 48000


def sine(freq: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_waveform_envelope_of_a_sine_has_its_amplitude(qtbot):
    wf = WaveformView()
    qtbot.addWidget(wf)
    wf.resize(800, 200)
    wf.show()
    qtbot.waitExposed(wf)
    wf.show_audio(sine(440.0, 10.0, amp=0.5), SR)
    t, lo, hi = wf.envelope()
    assert wf.viewbox.viewRange()[0] == pytest.approx([0.0, 10.0])
    assert len(t) < 5000  # a bucket per pixel or so, not 480 000 points
    assert hi.max() == pytest.approx(0.5, abs=1e-3) and lo.min() == pytest.approx(-0.5, abs=1e-3)
    assert np.median(hi) == pytest.approx(0.5, abs=0.01)  # every bucket spans a full period
    # zoomed in to a few periods, it draws from the samples and keeps the amplitude
    wf.viewbox.setXRange(1.0, 1.01, padding=0)
    t, lo, hi = wf.envelope()
    assert t[0] <= 1.0 + 1e-3 and hi.max() == pytest.approx(0.5, abs=2e-3)
    wf.set_playhead(2.5)
    assert wf.playhead_position() == pytest.approx(2.5)
    wf.set_playhead(None)
    assert wf.playhead_position() is None
    wf.clear()
    assert wf.envelope() is None


def _tick_labels(axis):
    """The amplitude axis's labels as pyqtgraph would paint them: (text, rectangle) each."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _, text in texts]


@pytest.mark.parametrize("shared", [False, True], ids=["alone", "under-a-spectrogram"])
@pytest.mark.parametrize("height", [None, 120, 240], ids=["minimum", "120px", "240px"])
def test_amplitude_labels_never_overlap_and_fit_the_strip(qtbot, height, shared):
    import pyqtgraph as pg

    wf = WaveformView()
    qtbot.addWidget(wf)
    if shared:  # as the Transcribe and Record pages show it: its time axis is the spectrogram's
        wf.share_time_axis(pg.ViewBox())
    wf.resize(600, height or 300)
    wf.show()
    qtbot.waitExposed(wf)
    wf.show_audio(sine(440.0, 2.0), SR)
    if height is None:  # squeezed to its minimum (a small window)
        wf.resize(600, wf.minimumSizeHint().height())
    qtbot.wait(50)
    axis = wf.amplitude_axis
    labels = _tick_labels(axis)
    texts = [t for t, _ in labels]
    assert {"1", "0", "\u22121"} <= set(texts)  # at least the ends and the middle, at any height
    rects = [r for _, r in labels]
    visible = QRectF(wf.plot.viewport().rect())
    for i, a in enumerate(rects):
        on_screen = wf.plot.mapFromScene(axis.mapRectToScene(a)).boundingRect()
        assert visible.contains(QRectF(on_screen)), (texts[i], on_screen, visible)  # not cut at an edge
        for b in rects[i + 1:]:
            assert not a.intersects(b), texts
    if height == 240:
        assert "0.5" in texts  # a tall strip gets the halves too
    label = axis.label  # the "Amplitude" title is shown only where it fits
    assert label.isVisible() == (axis.size().height() >= label.boundingRect().width())
