"""The Transcribe page for now: open an audio file, see its spectrogram and waveform, play it.

Whisper transcription lands here with the transcription engine; until then the page says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.audio.devices import AudioUnavailable
from engine.audio.dsp import pooled_spectrogram
from engine.audio.files import AudioInfo, audio_info, load_audio
from engine.audio.playback import Player
from engine.jobs import JobQueue, Priority
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner, format_duration
from gui.jobs.bridge import JobsBridge
from gui.spectrogram.static import MAX_STATIC_COLUMNS
from gui.spectrogram.view import SpectrogramView
from gui.transcribe.waveform import WaveformView

AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.oga *.aiff *.aif *.mp3);;All files (*)"


class AudioFileView(QWidget):
    statusMessage = Signal(str)
    fileLoaded = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.bridge = bridge
        self.settings = settings
        self.player = Player()
        self.audio = None
        self.sample_rate = 0
        self.info: AudioInfo | None = None
        self._load_job: int | None = None

        self.open_button = QPushButton("Open audio file…")
        self.open_button.setToolTip("Open a WAV, FLAC or OGG file (Ctrl+O)")
        self.play_button = QPushButton("▶ Play")
        self.stop_button = QPushButton("■ Stop")
        self.info_label = QLabel("No file open.")
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        for w in (self.open_button, self.play_button, self.stop_button):
            row.addWidget(w)
        row.addWidget(self.info_label, 1)

        self.banner = Banner()
        self.spectrogram = SpectrogramView()
        self.waveform = WaveformView()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.spectrogram)
        splitter.addWidget(self.waveform)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(33)
        self.playhead_timer.timeout.connect(self._follow_playhead)
        self.open_button.clicked.connect(self.choose_and_open)
        self.play_button.clicked.connect(lambda: self.play())
        self.stop_button.clicked.connect(self.stop)
        self._update_buttons()

    def choose_and_open(self) -> None:
        folder = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open audio file", folder, AUDIO_FILTER)
        if path:
            self.settings.setValue(Keys.PATHS_OPEN_DIR, str(Path(path).parent))
            self.open_file(path)

    def open_file(self, path: str) -> int:
        """Load on the job queue; the current file stays shown until the new one has loaded."""

        scale = self.spectrogram.scale
        max_columns = MAX_STATIC_COLUMNS

        def load(ctx):  # reading and the whole-file spectrogram: never on the GUI thread
            info = audio_info(path)
            ctx.progress(0.3, "reading")
            audio, sr = load_audio(path)
            ctx.checkpoint()
            ctx.progress(0.7, "spectrogram")
            mono = audio.mean(axis=1, dtype=np.float32)
            return info, audio, sr, mono, pooled_spectrogram(mono, sr, scale, max_columns)

        if self._load_job is not None:
            self.queue.cancel(self._load_job)
        job = self.queue.submit(load, kind="open", title=f"Open {Path(path).name}",
                                priority=Priority.INTERACTIVE, lane="cpu")
        self._load_job = job.id
        self.bridge.watch(job.id, on_finished=lambda result: self._loaded(job.id, result),
                          on_failed=lambda message, _: self._load_failed(job.id, message),
                          on_cancelled=lambda: self._load_ended(job.id))
        self.statusMessage.emit(f"Opening {Path(path).name}…")
        return job.id

    def _load_ended(self, job_id: int) -> bool:
        """Whether ``job_id`` is the load still wanted (a newer one may have replaced it)."""
        if job_id != self._load_job:
            return False
        self._load_job = None
        return True

    def _load_failed(self, job_id: int, message: str) -> None:
        if self._load_ended(job_id):
            self.banner.show_message(f"Could not open the file: {message}", "error")

    def _loaded(self, job_id: int, result) -> None:
        if not self._load_ended(job_id):
            return
        info, audio, sr, mono, pooled = result
        self.stop()
        self.info, self.audio, self.sample_rate = info, audio, sr
        self.banner.hide()
        chans = "mono" if info.channels == 1 else f"{info.channels} channels"
        self.info_label.setText(
            f"<b>{Path(info.path).name}</b> · {format_duration(info.duration)} · {info.sample_rate} Hz · "
            f"{chans} · {info.format} {info.subtype}")
        self.spectrogram.show_audio(mono, sr, pooled)
        self.waveform.show_audio(mono, sr)
        self._update_buttons()
        self.fileLoaded.emit(info.path)

    def _update_buttons(self) -> None:
        self.play_button.setEnabled(self.audio is not None)
        self.stop_button.setEnabled(self.audio is not None)

    def play(self, start: float = 0.0, end: float | None = None) -> None:
        """Play the open file, or the span from ``start`` to ``end`` seconds."""
        if self.audio is None:
            return
        try:
            self.player.play(self.audio, self.sample_rate, start=start, end=end)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")
            return
        self.playhead_timer.start()

    def stop(self) -> None:
        self.player.stop()
        self.playhead_timer.stop()
        self.waveform.set_playhead(None)

    def _follow_playhead(self) -> None:
        if not self.player.playing:
            self.stop()
            return
        self.waveform.set_playhead(self.player.position)

    def save_settings(self) -> None:
        pass  # the open folder is stored when chosen

    def shutdown(self) -> None:
        self.stop()
