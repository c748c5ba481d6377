"""Audio to continue: nothing, one of the Record page's takes, or any audio file, with the part of
it to use (start and end seconds). Beside it, "Melody from audio": a file whose tune the melody
model (musicgen-melody) follows; other models have no such input, so it is disabled for them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from engine.audio.files import AudioFileError, audio_info
from engine.audio.takes import TakeLibrary
from gui.common.settings import Keys, get_str
from gui.common.widgets import format_duration
from gui.transcribe.file_view import AUDIO_FILTER

NONE, FILE, CHOOSE = "none", "file", "choose"


class SourcePicker(QWidget):
    """``source()`` is (path, start, end) of the audio to continue, or None."""

    error = Signal(str)  # a chosen file that cannot be read

    def __init__(self, settings: QSettings, takes: TakeLibrary | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.takes = takes
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.setToolTip("Audio for MusicGen to continue: a take from the Record page or any audio file")
        self.start_spin = QDoubleSpinBox()
        self.end_spin = QDoubleSpinBox()
        for spin, tip in ((self.start_spin, "Where the part to continue starts"),
                          (self.end_spin, "Where it ends (MusicGen hears at most its last 20 s)")):
            spin.setDecimals(1)
            spin.setSuffix(" s")
            spin.setSingleStep(0.5)
            spin.setToolTip(tip)
        self.melody_button = QPushButton("Melody from audio…")
        self.melody_button.clicked.connect(self._choose_melody)
        self._melody: str | None = None
        self.set_melody_supported(False)
        self.part_label = QLabel("Part:")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.addWidget(QLabel("Continue:"), 0, 0)
        grid.addWidget(self.combo, 0, 1, 1, 4)
        grid.addWidget(self.part_label, 1, 0)
        grid.addWidget(self.start_spin, 1, 1)
        grid.addWidget(QLabel("to"), 1, 2)
        grid.addWidget(self.end_spin, 1, 3)
        grid.addWidget(QLabel("Melody:"), 2, 0)
        grid.addWidget(self.melody_button, 2, 1, 1, 3)
        grid.setColumnStretch(4, 1)
        self._file: tuple[str, float] | None = None  # a chosen file and its duration
        self.combo.activated.connect(self._activated)
        self.combo.currentIndexChanged.connect(self._changed)
        self.refresh()

    def refresh(self) -> None:
        """List the takes again (one may have been recorded), keeping the current choice."""
        keep, part = self.combo.currentData(), (self.start_spin.value(), self.end_spin.value())
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("Nothing: from the prompt alone", (NONE, "", 0.0))
        if self._file is not None:
            path, duration = self._file
            self.combo.addItem(f"File: {Path(path).name} ({format_duration(duration)})", (FILE, path, duration))
        for take in self._list_takes():
            self.combo.addItem(f"Take: {take.name} ({format_duration(take.duration)})",
                               ("take", take.path, take.duration))
        self.combo.addItem("Choose an audio file…", (CHOOSE, "", 0.0))
        index = next((i for i in range(self.combo.count()) if keep and self.combo.itemData(i)[:2] == keep[:2]), 0)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._changed()
        if index:  # the same audio as before: the same part of it
            self.set_part(*part)

    def _list_takes(self) -> list:
        try:
            return (self.takes or TakeLibrary()).list()
        except Exception:  # noqa: BLE001 - an unusable take folder must not break Generate
            return []

    def _activated(self, index: int) -> None:
        if self.combo.itemData(index)[0] == CHOOSE:
            self.combo.setCurrentIndex(0)
            start = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
            path, _ = QFileDialog.getOpenFileName(self, "Audio to continue", start, AUDIO_FILTER)
            if path:
                self.settings.setValue(Keys.PATHS_OPEN_DIR, str(Path(path).parent))
                self.use_file(path)

    def use_file(self, path: str, start: float = 0.0, end: float | None = None) -> bool:
        """Continue ``path`` (its header read for the duration); False, with ``error``, if unreadable."""
        try:
            duration = audio_info(path).duration
        except AudioFileError as exc:
            self.error.emit(f"Cannot continue that file: {exc}")
            return False
        self._file = (path, duration)
        self.refresh()
        self.combo.setCurrentIndex(1)
        self.set_part(start, end)
        return True

    def _changed(self, *_: object) -> None:
        kind, _path, duration = self.combo.currentData() or (NONE, "", 0.0)
        active = kind not in (NONE, CHOOSE)
        for w in (self.start_spin, self.end_spin, self.part_label):
            w.setEnabled(active)
        self.start_spin.setRange(0.0, max(0.0, duration - 0.1))
        self.end_spin.setRange(0.1 if active else 0.0, duration)
        self.start_spin.setValue(0.0)
        self.end_spin.setValue(duration)

    def set_part(self, start: float, end: float | None) -> None:
        self.start_spin.setValue(start)
        self.end_spin.setValue(self.end_spin.maximum() if end is None else end)

    def source(self) -> tuple[str, float, float | None] | None:
        kind, path, duration = self.combo.currentData() or (NONE, "", 0.0)
        if kind in (NONE, CHOOSE):
            return None
        start, end = self.start_spin.value(), self.end_spin.value()
        if end - start < 0.1:
            raise ValueError("the part of the audio to continue must be at least 0.1 s long")
        return path, start, None if end >= duration else end

    def set_melody_supported(self, supported: bool) -> None:
        """Enable the melody input for a melody model; for others it is off and says why."""
        self.melody_button.setEnabled(supported)
        if not supported:
            self._melody = None
            self.melody_button.setText("Melody from audio…")
        self.melody_button.setToolTip("A file whose tune the music follows (its chromagram)" if supported else
                                      "Only the melody model (musicgen-melody) follows a melody from audio")

    def _choose_melody(self) -> None:
        if self._melody is not None:  # a second click lets go of the melody
            self._melody = None
            self.melody_button.setText("Melody from audio…")
            return
        start = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Melody to follow", start, AUDIO_FILTER)
        if path:
            self.use_melody(path)

    def use_melody(self, path: str) -> bool:
        """Follow ``path``'s tune; False, with ``error``, if it cannot be read."""
        try:
            audio_info(path)
        except AudioFileError as exc:
            self.error.emit(f"Cannot use that melody: {exc}")
            return False
        self._melody = path
        self.melody_button.setText(f"Melody: {Path(path).name} (click to remove)")
        return True

    def melody(self) -> str | None:
        return self._melody

    def clear(self) -> None:
        self.combo.setCurrentIndex(0)
