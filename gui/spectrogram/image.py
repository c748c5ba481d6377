"""The spectrogram's image item: a window onto a preallocated pixel buffer, painted without copies.

The picture is a buffer in Qt's native ``RGB32`` layout (uint8 BGRA bytes, one uint32 per
pixel), wrapped once in a QImage that shares its memory; the item paints a source rectangle of
it, so moving the window or writing pixels needs only ``update()``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage


class WindowImageItem(pg.ImageItem):
    """An ImageItem that paints a window ``[start, start + width)`` of a shared RGB32 buffer.

    The QImage wraps the buffer's memory once (no copy); moving the window or writing pixels
    needs only ``update()``: pyqtgraph's per-frame render (levels, LUT, conversion) is skipped.
    """

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.paint_count = 0
        self._pixels: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._start = 0
        self._width = 0

    def set_buffer(self, pixels: np.ndarray, width: int) -> None:
        """``pixels``: C-contiguous uint32 (rows, columns); the window shows ``width`` columns."""
        assert pixels.dtype == np.uint32 and pixels.flags.c_contiguous
        self.prepareGeometryChange()
        self._pixels = pixels
        self.image = pixels  # for pyqtgraph's bookkeeping and for tests; never rendered by it
        h, w = pixels.shape
        self._qimage = QImage(pixels, w, h, pixels.strides[0], QImage.Format.Format_RGB32)
        self._start = 0
        self._width = int(width)
        self._renderRequired = False
        self._unrenderable = False
        self.informViewBoundsChanged()
        self.update()

    def set_window_start(self, start: int) -> None:
        self._start = int(start)
        self.update()

    def visible_pixels(self) -> np.ndarray | None:
        if self._pixels is None:
            return None
        return self._pixels[:, self._start:self._start + self._width]

    # pyqtgraph's ImageItem API, narrowed to the window
    def width(self):
        return None if self._pixels is None else self._width

    def height(self):
        return None if self._pixels is None else self._pixels.shape[0]

    def render(self):
        self._renderRequired = False
        self._unrenderable = self._pixels is None

    def paint(self, painter, *args):
        if self._qimage is None or self._width <= 0:
            return
        h = self._pixels.shape[0]
        painter.drawImage(QRectF(0, 0, self._width, h), self._qimage, QRectF(self._start, 0, self._width, h))
        self.paint_count += 1
