"""The spectrogram's axes: frequency (mel or linear bins, labelled in Hz/kHz) and time (seconds).

Image row ``i`` spans ``[i, i + 1)`` and is labelled through the bins' centre frequencies, for
mel and linear alike. The time axis is lean: live scrolling moves it every frame.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

AXIS_WIDTH_PX = 72  # the frequency axis; the waveform view uses it too, so their x axes line up


def format_hz(hz: float) -> str:
    """'50 Hz', '500 Hz', '1 kHz', '2.5 kHz', '12 kHz'."""
    if hz < 1000:
        return f"{hz:.0f} Hz"
    khz = hz / 1000.0
    return f"{khz:.0f} kHz" if abs(khz - round(khz)) < 1e-6 else f"{khz:.1f} kHz"


# Candidate tick frequencies on a mel axis, most preferred first: 1-2-5 steps, then the rest,
# high decades before low ones (so 10 Hz never crowds out 100 Hz).
def _candidate_frequencies(f_max: float) -> list[float]:
    out: list[float] = []
    for mantissas in ((1,), (2, 5), (3, 4, 6, 8), (1.5, 2.5, 7, 9)):
        for exponent in range(5, 0, -1):
            for m in mantissas:
                f = m * 10 ** exponent
                if f <= f_max:
                    out.append(float(f))
    return out


_LINEAR_STEPS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)


class FrequencyAxis(pg.AxisItem):
    """A y axis over bin rows labelled with the frequency of each position, mel or linear."""

    MIN_TICK_SPACING_PX = 24

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._freqs = np.array([0.0, 1.0])
        self._centres = np.array([0.5, 1.5])

    def updateAutoSIPrefix(self):
        pass

    def setRange(self, mn, mx):
        if [mn, mx] != list(getattr(self, "range", ())):
            super().setRange(mn, mx)

    def set_bin_frequencies(self, freqs: np.ndarray) -> None:
        self._freqs = np.asarray(freqs, dtype=np.float64)
        self._centres = np.arange(len(self._freqs), dtype=np.float64) + 0.5
        self.picture = None
        self.update()

    def frequency_at(self, y):
        """Frequency (Hz) at a y position (row units), linear between bin centres."""
        f, c = self._freqs, self._centres
        if len(f) < 2:
            return np.zeros_like(np.asarray(y, dtype=np.float64))
        y = np.asarray(y, dtype=np.float64)
        out = np.interp(y, c, f)
        lo_slope = (f[1] - f[0]) / (c[1] - c[0])
        hi_slope = (f[-1] - f[-2]) / (c[-1] - c[-2])
        out = np.where(y < c[0], f[0] + (y - c[0]) * lo_slope, out)
        return np.where(y > c[-1], f[-1] + (y - c[-1]) * hi_slope, out)

    def position_of(self, hz):
        """y position (row units) of a frequency."""
        return np.interp(np.asarray(hz, dtype=np.float64), self._freqs, self._centres)

    @property
    def is_linear(self) -> bool:
        d = np.diff(self._freqs)
        return len(d) > 0 and bool(np.allclose(d, d[0], rtol=1e-6))

    def tickValues(self, minVal, maxVal, size):
        if len(self._freqs) < 2 or maxVal <= minVal or size <= 0:
            return []
        px_per_unit = size / (maxVal - minVal)
        if self.is_linear:  # evenly spaced: multiples of a 1-2-5 step
            f_lo, f_hi = (float(v) for v in self.frequency_at([minVal, maxVal]))
            px_per_hz = size / max(f_hi - f_lo, 1e-9)
            step = next((s for s in _LINEAR_STEPS if s * px_per_hz >= 1.25 * self.MIN_TICK_SPACING_PX),
                        _LINEAR_STEPS[-1])
            first = max(0, math.ceil(max(f_lo, float(self._freqs[0])) / step))
            last = math.floor(min(f_hi, float(self._freqs[-1])) / step)
            return [(1.0, [float(self.position_of(i * step)) for i in range(first, last + 1)])]
        chosen: list[float] = []
        positions: list[float] = []
        for f in _candidate_frequencies(float(self._freqs[-1])):
            if f < self._freqs[0]:
                continue
            y = float(self.position_of(f))
            if not (minVal <= y <= maxVal):
                continue
            if all(abs(y - p) * px_per_unit >= self.MIN_TICK_SPACING_PX for p in positions):
                chosen.append(f)
                positions.append(y)
        return [(1.0, sorted(positions))]

    def tickStrings(self, values, scale, spacing):
        return [format_hz(round(float(self.frequency_at(v)), -1) if v else 0.0) for v in values]


_TIME_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


class TimeAxis(pg.AxisItem):
    """A lean x axis in seconds: one level of ticks, 'm:ss' labels once times pass a minute.

    Live scrolling moves this axis every frame, so it skips pyqtgraph's SI-prefix relabelling
    and minor ticks, which cost more than drawing the spectrogram itself.
    """

    MIN_TICK_SPACING_PX = 70

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)
        self._minutes = None
        self._set_style(False)

    def _set_style(self, minutes: bool) -> None:
        if minutes != self._minutes:
            self._minutes = minutes
            self.setLabel("Time (m:ss)" if minutes else "Time (s)")

    def updateAutoSIPrefix(self):
        pass

    def tickValues(self, minVal, maxVal, size):
        if maxVal <= minVal or size <= 0:
            return []
        span = maxVal - minVal
        step = next((s for s in _TIME_STEPS if s * size / span >= self.MIN_TICK_SPACING_PX), None)
        if step is None:
            step = 3600 * math.ceil(span * self.MIN_TICK_SPACING_PX / size / 3600)
        first = math.ceil(minVal / step - 1e-9)
        last = math.floor(maxVal / step + 1e-9)
        self._set_style(max(abs(minVal), abs(maxVal)) >= 60 and step >= 1)
        return [(step, [i * step for i in range(first, last + 1)])]

    def tickStrings(self, values, scale, spacing):
        if self._minutes:
            out = []
            for v in values:
                sign = "-" if v < 0 else ""
                m, s = divmod(round(abs(v)), 60)
                out.append(f"{sign}{m}:{s:02d}" if m < 60 else f"{sign}{m // 60}:{m % 60:02d}:{s:02d}")
            return out
        decimals = 0 if spacing >= 1 else (1 if spacing >= 0.1 else 2)
        return [f"{v:.{decimals}f}" for v in values]
