"""The waveform view, measured rather than eyeballed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

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
