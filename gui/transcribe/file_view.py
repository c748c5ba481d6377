"""The Transcribe page's audio: the selected (or opened) file's spectrogram and waveform, with
Play and Stop and a playhead that follows playback. Loading is ``AudioDisplay``'s job."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from engine.audio.devices import AudioUnavailable
from engine.audio.takes import take_name_for
from engine.audio.playback import Player
from engine.jobs import JobQueue
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner, ElidedLabel, format_duration
from gui.jobs.bridge import JobsBridge
from gui.transcribe.audio_display import AudioDisplay

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

        self.open_button = QPushButton("Open audio file…")
        self.open_button.setToolTip("Open a WAV, FLAC or OGG file (Ctrl+O)")
        self.play_button = QPushButton("▶ Play")
        self.stop_button = QPushButton("■ Stop")
        self.info_label = ElidedLabel("No file open.")  # a long name is elided, never widens the window
        row = QHBoxLayout()
        for w in (self.open_button, self.play_button, self.stop_button):
            row.addWidget(w)
        row.addWidget(self.info_label, 1)

        self.banner = Banner()
        self.display = AudioDisplay(queue, bridge)
        self.spectrogram, self.waveform = self.display.spectrogram, self.display.waveform

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.banner)
        layout.addWidget(self.display, 1)

        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(33)
        self.playhead_timer.timeout.connect(self._follow_playhead)
        self.open_button.clicked.connect(self.choose_and_open)
        self.play_button.clicked.connect(lambda: self.play())
        self.stop_button.clicked.connect(self.stop)
        self.display.loaded.connect(self._loaded)
        self.display.loadFailed.connect(self._load_failed)
        self._opening = ""  # the name of the file being opened, for the status line
        self._update_buttons()

    # what is shown is the display's
    audio = property(lambda self: self.display.audio)
    sample_rate = property(lambda self: self.display.sample_rate)
    info = property(lambda self: self.display.info)
    _load_job = property(lambda self: self.display._load_job)

    def choose_and_open(self) -> None:
        folder = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open audio file", folder, AUDIO_FILTER)
        if path:
            self.settings.setValue(Keys.PATHS_OPEN_DIR, str(Path(path).parent))
            self.open_file(path)

    def open_file(self, path: str) -> int:
        """Load on the job queue; the current file stays shown until the new one has loaded."""
        job_id = self.display.open_file(path)
        self._opening = take_name_for(path) or Path(path).name
        self.statusMessage.emit(f"Opening {self._opening}…")
        return job_id

    def show_missing(self, path: str, name: str | None = None) -> None:
        """``path`` has gone (moved or deleted): show nothing and say so, not an error."""
        self.stop()
        self.display.clear()
        self.banner.hide()
        name = name or take_name_for(path) or Path(path).name
        self.info_label.set_text(name, " · the file has gone (moved or deleted)")
        self.info_label.setToolTip(path)
        self._update_buttons()
        self.statusMessage.emit(f"{name} is missing: {path}")

    def _load_failed(self, message: str) -> None:
        self.banner.show_message(f"Could not open the file: {message}", "error")
        self.statusMessage.emit(f"Could not open {self._opening or 'the file'}")

    def _loaded(self, info) -> None:
        self.stop()
        self.banner.hide()
        chans = "mono" if info.channels == 1 else f"{info.channels} channels"
        details = f" · {format_duration(info.duration)} · {info.sample_rate} Hz · {chans} · {info.format} {info.subtype}"
        name = take_name_for(info.path) or Path(info.path).name
        self.info_label.set_text(name, details)
        self._update_buttons()
        self.statusMessage.emit(f"Opened {name}")  # the "Opening …" line ends here
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
