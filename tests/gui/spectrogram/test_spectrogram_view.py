"""The spectrogram view, measured rather than eyeballed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtGui import QImage

from gui.spectrogram.axes import format_hz
from gui.spectrogram.static import MAX_STATIC_COLUMNS
from gui.spectrogram.view import SpectrogramView

SR = 48000
BLOCK = 800


def sine(freq: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(f0: float, f1: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * (f1 / f0) ** (t / seconds)
    return (amp * np.sin(2 * np.pi * np.cumsum(f) / sr)).astype(np.float32)


def feed(view: SpectrogramView, audio: np.ndarray, block: int = BLOCK) -> None:
    for i in range(0, len(audio), block):
        view.push_audio(audio[i:i + block])


def brightness(pixels: np.ndarray) -> np.ndarray:
    """Sum of R, G, B of uint32 0xFFRRGGBB pixels."""
    p = pixels.astype(np.int64)
    return ((p >> 16) & 0xFF) + ((p >> 8) & 0xFF) + (p & 0xFF)


def qimage_rgb(image: QImage) -> np.ndarray:
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(h, img.bytesPerLine())
    return buf[:, :4 * w].reshape(h, w, 4)[..., [2, 1, 0]].astype(np.int32)  # B,G,R,A -> R,G,B


@pytest.fixture
def view(qtbot):
    v = SpectrogramView()
    qtbot.addWidget(v)
    v.resize(900, 420)
    v.show()
    qtbot.waitExposed(v)
    return v


@pytest.mark.parametrize("scale", ["mel", "linear"])
def test_live_sine_lights_up_the_row_at_its_frequency(view, qtbot, scale):
    view.scale = scale
    view.start_live(SR)
    feed(view, sine(1000.0, 1.0))
    qtbot.wait(20)
    pixels = view.displayed_pixels()
    assert pixels.shape[0] == len(view.bin_frequencies)
    recent = brightness(pixels[:, -50:]).mean(axis=1)  # the last half second
    row = int(np.argmax(recent))
    assert view.frequency_of_row(row) == pytest.approx(1000.0, abs=60.0)
    # the axis labels that row's height as about 1 kHz too
    assert view.freq_axis.tickStrings([row + 0.5], 1, 1) == [format_hz(round(view.frequency_of_row(row), -1))]
    assert view.freq_axis.position_of(1000.0) == pytest.approx(row + 0.5, abs=1.0)
    # and the brightest row really is bright, the rest of the column dark
    assert recent[row] > 3 * np.median(recent)


def test_push_accepts_multichannel_and_draws_without_reallocating(view):
    view.start_live(SR)
    buffer, qimage = view._pixels, view.image_item._qimage
    stereo = np.stack([sine(2000.0, 0.5), sine(2000.0, 0.5)], axis=1)
    drawn = sum(view.push_audio(stereo[i:i + BLOCK]) for i in range(0, len(stereo), BLOCK))
    assert drawn == pytest.approx(0.5 * view.columns_per_second, abs=5)
    assert view._pixels is buffer and view.image_item._qimage is qimage
    assert view.update_count > 0


def test_scrolling_moves_columns_left_and_the_time_axis_follows(view, qtbot):
    view.visible_seconds = 5
    view.start_live(SR)
    cps = view.columns_per_second
    feed(view, np.zeros(SR, np.float32))
    feed(view, sine(3000.0, 0.2))  # a short burst at 1.0-1.2 s
    feed(view, np.zeros(SR // 2, np.float32))

    tone_row = int(view.freq_axis.position_of(3000.0))

    def burst_column() -> float:
        cols = brightness(view.displayed_pixels()[tone_row])
        lit = np.nonzero(cols > cols.min() + 0.5 * (cols.max() - cols.min()))[0]
        return float(lit.mean())

    before = burst_column()
    feed(view, np.zeros(SR // 2, np.float32))
    after = burst_column()
    assert before - after == pytest.approx(0.5 * cps, abs=3)  # moved left by half a second
    # before the view is full, time runs 0..5 s; once it scrolls, the window ends at "now"
    assert view.x_range() == pytest.approx((0.0, 5.0))
    feed(view, np.zeros(3 * SR, np.float32))  # 5.2 s in all
    x0, x1 = view.x_range()
    assert x1 == pytest.approx(5.2, abs=0.03) and x1 - x0 == pytest.approx(5.0, abs=0.02)
    # and the burst (1.0-1.2 s) is drawn where the time axis says 1.0-1.2 s is
    assert x0 + burst_column() / cps == pytest.approx(1.1, abs=0.06)


def test_range_change_emits_and_recolours_the_history(view, qtbot):
    view.start_live(SR)
    feed(view, np.concatenate([sine(1000.0, 0.5, amp=0.01), np.zeros(SR // 2, np.float32)]))
    before = view.displayed_pixels().copy()
    with qtbot.waitSignal(view.settingsChanged, timeout=1000):
        view.floor_spin.setValue(-40)  # what the user does
    assert view.db_range == (-40.0, 0.0)
    after = view.displayed_pixels()
    assert not np.array_equal(before, after)
    # the quiet tone (about -40 dB and below) is now at or under the floor: dark everywhere
    assert brightness(after).max() < brightness(before).max()
    with qtbot.waitSignal(view.settingsChanged, timeout=1000):
        view.ceiling_spin.setValue(-10)
    assert view.db_range == (-40.0, -10.0)
    # the ceiling cannot go below floor + 10 dB: the floor moves out of the way
    with qtbot.waitSignal(view.settingsChanged, timeout=1000):
        view.ceiling_spin.setValue(-45)
    floor, ceiling = view.db_range
    assert ceiling == -45.0 and floor <= -55.0 and view.floor_spin.value() == floor


def test_scale_and_visible_seconds_changes_emit_and_rebuild(view, qtbot):
    view.start_live(SR)
    feed(view, sine(1000.0, 0.5))
    assert len(view.bin_frequencies) == 128
    with qtbot.waitSignal(view.settingsChanged, timeout=1000):
        view.scale_combo.setCurrentIndex(view.scale_combo.findData("linear"))
    assert view.scale == "linear"
    assert len(view.bin_frequencies) > 128 and view.displayed_pixels().shape[0] == len(view.bin_frequencies)
    feed(view, sine(1000.0, 0.5))
    row = int(np.argmax(brightness(view.displayed_pixels()[:, -20:]).mean(axis=1)))
    assert view.frequency_of_row(row) == pytest.approx(1000.0, abs=30.0)

    with qtbot.waitSignal(view.settingsChanged, timeout=1000):
        view.visible_combo.setCurrentIndex(view.visible_combo.findData(20.0))
    assert view.visible_seconds == 20.0
    assert view.displayed_pixels().shape[1] == pytest.approx(20 * view.columns_per_second, abs=1)
    # the history survives a longer window: the tone is still at the right edge
    row2 = int(np.argmax(brightness(view.displayed_pixels()[:, -20:]).mean(axis=1)))
    assert row2 == row


def test_setting_properties_from_code_updates_the_toolbar_without_emitting(view, qtbot):
    with qtbot.assertNotEmitted(view.settingsChanged):
        view.scale = "linear"
        view.db_range = (-80.0, -10.0)
        view.visible_seconds = 15.0
    assert view.scale_combo.currentData() == "linear"
    assert (view.floor_spin.value(), view.ceiling_spin.value()) == (-80, -10)
    assert view.visible_combo.currentData() == 15.0
    assert tuple(view.db_range) == (-80.0, -10.0)
    view.db_range = (5.0, -50.0)  # nonsense from a settings file is made usable
    floor, ceiling = view.db_range
    assert ceiling - floor >= 10.0
    view.scale = "bogus"
    assert view.scale == "mel"


def test_show_audio_sets_the_time_axis_to_the_file_duration(view, qtbot):
    sr = 44100
    duration = 37.5
    audio = np.stack([chirp(100.0, 8000.0, duration, sr=sr)] * 2, axis=1)  # stereo is mixed down
    view.show_audio(audio, sr)
    assert view.mode == "static"
    assert view.x_range() == pytest.approx((0.0, duration), abs=1e-6)
    cols = view.displayed_pixels().shape[1]
    assert 0 < cols <= MAX_STATIC_COLUMNS
    # the chirp rises: the brightest row at the end is above the one at the start
    b = brightness(view.displayed_pixels())
    assert np.argmax(b[:, -5:].mean(axis=1)) > np.argmax(b[:, :5].mean(axis=1)) + 30
    # re-colour and re-scale keep the file's time axis
    view.db_range = (-60.0, 0.0)
    view.scale = "linear"
    assert view.x_range() == pytest.approx((0.0, duration), abs=1e-6)
    view.clear()
    assert view.mode == "idle" and view.displayed_db() is None


def test_live_screenshot_of_a_chirp_shows_the_rising_ridge(view, qtbot, tmp_path):
    view.start_live(SR)
    feed(view, chirp(200.0, 8000.0, 3.0) + 0.003 * np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32))
    qtbot.wait(20)
    path = tmp_path / "spectrogram.png"
    assert view.grab().save(str(path))
    rgb = qimage_rgb(QImage(str(path)))
    # the ridge is inferno's yellow: the painted image follows the buffer written after it
    # was wrapped in the QImage (no copy was taken at start_live)
    bright = (rgb[..., 0] > 220) & (rgb[..., 1] > 180)
    ys, xs = np.nonzero(bright)
    assert len(xs) > 100
    left = ys[xs < np.percentile(xs, 20)].mean()
    right = ys[xs > np.percentile(xs, 80)].mean()
    assert right < left - 50  # screen y grows downwards: the ridge rises to the right
