"""dB to pixels: a 256-entry LUT (matplotlib's perceptual 'inferno', from pyqtgraph) applied in NumPy.

New columns are coloured into small preallocated scratch arrays, never into fresh ones, so a
live push allocates nothing. The dB values of what is shown are kept too, so a new colour range
re-colours the history instead of losing it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


def colormap_lut(name: str = "inferno") -> np.ndarray:
    """256 colours as uint32 0xFFRRGGBB (Qt's RGB32, i.e. B,G,R,255 bytes in memory)."""
    try:
        rgb = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
    except Exception:  # noqa: BLE001 - a pyqtgraph without the map: a plain grey ramp
        ramp = np.arange(256, dtype=np.uint8)
        rgb = np.stack([ramp, ramp, ramp], axis=1)
    rgb = np.asarray(rgb, dtype=np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


LUT = colormap_lut()


class ColouringMixin:
    """Part of :class:`gui.spectrogram.view.SpectrogramView`: colour dB columns with the view's
    floor and ceiling."""

    def _ensure_scratch(self, k: int, bins: int) -> None:
        if self._scratch_f.shape[0] < k or self._scratch_f.shape[1] != bins:
            size = max(k, 8)
            self._scratch_f = np.empty((size, bins), dtype=np.float32)
            self._scratch_i = np.empty((size, bins), dtype=np.uint8)
            self._scratch_p = np.empty((size, bins), dtype=np.uint32)

    def _colour(self, db: np.ndarray) -> np.ndarray:
        """dB (k, bins) -> pixels (k, bins) uint32, in preallocated scratch."""
        k, bins = db.shape
        self._ensure_scratch(k, bins)
        f, i, p = self._scratch_f[:k], self._scratch_i[:k], self._scratch_p[:k]
        np.subtract(db, self._floor, out=f)
        np.multiply(f, 255.0 / (self._ceiling - self._floor), out=f)
        np.fmax(f, 0.0, out=f)  # fmax/fmin also turn NaN into the bound
        np.fmin(f, 255.0, out=f)
        np.copyto(i, f, casting="unsafe")
        np.take(LUT, i, out=p, mode="clip")
        return p

    def _colour_all(self, db: np.ndarray) -> np.ndarray:
        """Colour a whole (columns, bins) array in bounded chunks: (columns, bins) uint32."""
        out = np.empty(db.shape, dtype=np.uint32)
        step = 1024
        for i in range(0, db.shape[0], step):
            out[i:i + step] = self._colour(db[i:i + step])
        return out

    def _recolour(self) -> None:
        if self._mode == "live" and self._db is not None:
            n = self._n
            self._pixels[:, :n] = self._colour_all(self._db).T
            self._pixels[:, n:] = self._pixels[:, :n]
            self.image_item.update()
        elif self._mode == "static" and self._static_db is not None:
            self._pixels[:] = self._colour_all(self._static_db).T
            self.image_item.update()
