"""The Record view's level meter, measured rather than eyeballed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from gui.record.level_meter import LevelMeter


def test_level_meter_clip_peak_hold_and_reset(qtbot):
    now = [100.0]
    meter = LevelMeter(clock=lambda: now[0])
    qtbot.addWidget(meter)
    assert meter.sizeHint().width() == 200 and meter.sizeHint().height() == 16
    meter.resize(200, 16)
    meter.set_level(-20.0, -0.5)
    assert not meter.clipped
    meter.set_level(-12.0, 0.0)  # 0 dBFS
    assert meter.clipped
    img = meter.grab().toImage()
    clip_colour = img.pixelColor(img.width() - 4, img.height() // 2)
    assert clip_colour.red() > 200 and clip_colour.green() < 80
    # the peak holds for 1.5 s, then falls
    now[0] += 1.0
    meter.set_level(-30.0, -24.0)
    assert meter.peak_hold_db() == pytest.approx(0.0)
    now[0] += 1.5
    assert meter.peak_hold_db() < -15.0
    assert meter.clipped  # the light stays on until cleared
    meter.reset()
    assert not meter.clipped and meter.peak_hold_db() == float("-inf")
    meter.set_level(-40.0, -0.1)
    assert meter.clipped
