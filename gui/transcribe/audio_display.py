"""A file's audio as the Transcribe and Record pages show it: its whole spectrogram over its
waveform, read and analysed by a job on the cpu lane so that a long file never freezes the window.

The Transcribe page's file view and the Record page's takes both use it; on the Record page the
same spectrogram also scrolls live while recording (``SpectrogramView`` has both modes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from engine.audio.files import AudioInfo
from engine.jobs import JobQueue, Priority
from engine.tasks.display import load_for_display
from gui.jobs.bridge import JobsBridge
from gui.spectrogram.static import MAX_STATIC_COLUMNS
from gui.spectrogram.view import SpectrogramView
from gui.transcribe.waveform import WaveformView


class AudioDisplay(QWidget):
    """Spectrogram above waveform, both over the whole file; ``open_file`` loads one in a job.

    ``loaded(info)`` when it is shown, ``loadFailed(message)`` when it could not be read; until
    then what was shown stays. A newer ``open_file`` (or ``cancel_load``) replaces a pending one.
    """

    loaded = Signal(object)  # AudioInfo
    loadFailed = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge = queue, bridge
        self.audio: np.ndarray | None = None  # (frames, channels), as read
        self.sample_rate = 0
        self.info: AudioInfo | None = None
        self.path: str | None = None  # the file shown
        self._load_job: int | None = None

        self.spectrogram = SpectrogramView()
        self.waveform = WaveformView()
        self.waveform.share_time_axis(self.spectrogram.viewbox)  # one time axis; they zoom together
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.spectrogram)
        self.splitter.addWidget(self.waveform)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    @property
    def loading(self) -> bool:
        return self._load_job is not None

    def open_file(self, path: str, title: str | None = None) -> int:
        """Load ``path`` on the cpu lane; returns the job id."""
        self.cancel_load()
        job = self.queue.submit(load_for_display, str(path), self.spectrogram.scale, MAX_STATIC_COLUMNS, kind="open",
                                title=title or f"Open {Path(path).name}", priority=Priority.INTERACTIVE, lane="cpu")
        self._load_job = job.id
        self.bridge.watch(job.id, on_finished=lambda result: self._loaded(job.id, str(path), result),
                          on_failed=lambda message, _: self._failed(job.id, message),
                          on_cancelled=lambda: self._load_ended(job.id))
        return job.id

    def cancel_load(self) -> None:
        """Forget a pending load: its result, if it still comes, is not shown."""
        job_id, self._load_job = self._load_job, None
        if job_id is not None:
            self.queue.cancel(job_id)

    def start_live(self, sample_rate: int) -> None:
        """Scroll live audio (a recording) in the spectrogram; what was shown goes."""
        self.clear()
        self.spectrogram.start_live(sample_rate)

    def clear(self) -> None:
        """Show nothing (and drop a pending load)."""
        self.cancel_load()
        self.audio, self.sample_rate, self.info, self.path = None, 0, None, None
        self.spectrogram.clear()
        self.waveform.clear()

    def _load_ended(self, job_id: int) -> bool:
        """Whether ``job_id`` is the load still wanted (a newer one may have replaced it)."""
        if job_id != self._load_job:
            return False
        self._load_job = None
        return True

    def _failed(self, job_id: int, message: str) -> None:
        if self._load_ended(job_id):
            self.loadFailed.emit(message)

    def _loaded(self, job_id: int, path: str, result) -> None:
        if not self._load_ended(job_id):
            return
        info, audio, sr, mono, pooled = result
        self.info, self.audio, self.sample_rate, self.path = info, audio, sr, path
        self.spectrogram.show_audio(mono, sr, pooled)
        self.waveform.show_audio(mono, sr)
        self.loaded.emit(info)
