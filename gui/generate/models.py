"""Generate's model picker: the installed MusicGen models and added folders first, then the published
ones not installed, with their size. Choosing one of those offers its download (a job on the cpu
lane, with progress and Cancel beside the picker); it is selected once installed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import JobQueue, Priority
from engine.models.catalog import Downloadable, ModelEntry, downloadable_models, family, installed_models
from engine.models.common.errors import CheckpointError
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner, download_failure
from gui.jobs.bridge import JobsBridge

FAMILY = "musicgen"
HOW_TO_GET_ONE = ("No MusicGen model is installed: run <code>motet models download musicgen-small</code> "
                  "(about 2.4 GB), or use <b>Add folder…</b> to point at a MusicGen folder.")


def how_to_get_one(offered=None) -> str:
    """The no-model banner's line; ``offered``: the Downloadable its own Download button offers
    (the others are in the Model list, which stays usable)."""
    if offered is None:
        return HOW_TO_GET_ONE
    return (f"No MusicGen model is installed: press <b>Download {offered.name}…</b> here "
            f"({size_text(offered.size_mb)}; the other sizes are in the Model list), run "
            f"<code>motet models download {offered.name}</code>, or use <b>Add folder…</b> to point at a "
            "MusicGen folder.")


def size_text(megabytes: float | None) -> str:
    if megabytes is None:
        return "size unknown"
    return f"{megabytes / 1000:.1f} GB" if megabytes >= 1000 else f"{megabytes:.0f} MB"


class ModelPicker(QWidget):
    """The model combo box and Add folder…, and the download row while one is running."""

    changed = Signal()  # the chosen model (``current()``) changed, or the list was refilled
    statusMessage = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, banner: Banner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings, self.banner = queue, bridge, settings, banner
        self.catalog_error: str | None = None  # why the catalog could not list MusicGen models
        self.download_job: int | None = None
        self._previous = -1

        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setPlaceholderText("No model installed: choose a download")
        palette = self.combo.palette()  # the placeholder in the text's colour: it is a choice, not greyed out
        palette.setColor(QPalette.ColorRole.PlaceholderText, palette.color(QPalette.ColorRole.Text))
        self.combo.setPalette(palette)
        self.combo.setToolTip("MusicGen model: installed ones first, then downloads with their size")
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Use a MusicGen folder (Hugging Face format: config.json, tokenizer.json, "
                                   "model.safetensors); remembered")
        self.download_label = QLabel()
        self.download_bar = QProgressBar()
        self.download_bar.setRange(0, 1000)
        self.download_bar.setTextVisible(False)
        self.download_bar.setMaximumHeight(12)
        self.download_cancel = QPushButton("Cancel")
        self.download_cancel.setToolTip("Stop the download (it resumes where it stopped next time)")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.combo, 1)
        row.addWidget(self.add_button)
        self.download_row = QWidget()
        down = QHBoxLayout(self.download_row)
        down.setContentsMargins(0, 0, 0, 0)
        down.addWidget(self.download_label)
        down.addWidget(self.download_bar, 1)
        down.addWidget(self.download_cancel)
        self.download_row.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.download_row)

        self.combo.currentIndexChanged.connect(self._index_changed)
        self.add_button.clicked.connect(self.choose_folder)
        self.download_cancel.clicked.connect(self.cancel_download)

    # -- the list ----------------------------------------------------------------------------
    def folders(self) -> list[str]:
        value = self.settings.value(Keys.GENERATE_MODEL_FOLDERS, [])
        return [value] if isinstance(value, str) else list(value or [])

    def refresh(self, select: str | None = None) -> None:
        """Refill the list; select ``select`` (a folder), else the remembered model, else the first."""
        try:
            installed = installed_models(self.folders(), FAMILY)
            aliases = family(FAMILY).aliases
            have = set().union(*(aliases(e.name) for e in installed)) if installed else set()
            downloads = [d for d in downloadable_models(FAMILY)
                         if d.name.lower() not in have]
            self.catalog_error = None
        except CheckpointError as exc:  # the engine does not know MusicGen models (yet)
            installed, downloads, self.catalog_error = [], [], str(exc)
        wanted = select or get_str(self.settings, Keys.GENERATE_MODEL)
        self.combo.blockSignals(True)
        self.combo.clear()
        for entry in installed:
            self.combo.addItem(f"{entry.name} · {size_text(entry.size_bytes / 1e6)}", entry)
            self.combo.setItemData(self.combo.count() - 1, f"{entry.path}\n({entry.source})",
                                   Qt.ItemDataRole.ToolTipRole)
        if installed and downloads:
            self.combo.insertSeparator(self.combo.count())
        for d in downloads:
            self.combo.addItem(f"Download {d.name} ({size_text(d.size_mb)})…", d)
            self.combo.setItemData(self.combo.count() - 1, f"Download {d.name} from the Hugging Face Hub",
                                   Qt.ItemDataRole.ToolTipRole)
        index = next((i for i, e in enumerate(installed) if str(e.path) == wanted), 0 if installed else -1)
        self.combo.setCurrentIndex(index)
        self._previous = index
        self.combo.blockSignals(False)
        self.changed.emit()

    def current(self) -> ModelEntry | None:
        data = self.combo.currentData()
        return data if isinstance(data, ModelEntry) else None

    def _index_changed(self, index: int) -> None:
        data = self.combo.itemData(index)
        if isinstance(data, Downloadable):  # not a model yet: back to the one chosen, and offer it
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(self._previous)
            self.combo.blockSignals(False)
            QTimer.singleShot(0, lambda: self.offer_download(data))
            return
        self._previous = index
        if isinstance(data, ModelEntry):
            self.settings.setValue(Keys.GENERATE_MODEL, str(data.path))
        self.changed.emit()

    # -- folders -----------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = get_str(self.settings, Keys.PATHS_OPEN_DIR, str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "MusicGen model folder", start)
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> bool:
        """Remember a MusicGen folder and select it; a folder that is not one says why in the banner."""
        try:
            family(FAMILY).detect(Path(folder))
        except CheckpointError as exc:
            self.banner.show_message(f"Not a MusicGen folder: {one_line(str(exc))}", "error")
            return False
        folders = self.folders()
        if folder not in folders:
            self.settings.setValue(Keys.GENERATE_MODEL_FOLDERS, folders + [folder])
        self.banner.hide()
        self.refresh(select=folder)
        return True

    # -- downloads ---------------------------------------------------------------------------
    def offer_download(self, d: Downloadable) -> None:
        if self.download_job is not None:
            self.banner.show_message("A model is already downloading: wait for it or cancel it first.", "warn")
            return
        if self.ask_download(d):
            self.download(d.name)

    def ask_download(self, d: Downloadable) -> bool:
        answer = QMessageBox.question(
            self, "Download a MusicGen model",
            f"Download {d.name} ({size_text(d.size_mb)}) from the Hugging Face Hub?\n\n"
            "It runs in the background; you can cancel it and resume later.")
        return answer == QMessageBox.StandardButton.Yes

    def download(self, name: str) -> int:
        """Install ``name`` as a job (cpu lane); progress and Cancel under the picker."""
        from engine.tasks.downloads import download_model_job

        job = self.queue.submit(download_model_job, name, FAMILY, kind="download", title=f"Download {name}",
                                priority=Priority.INTERACTIVE, lane="cpu")
        self.download_job = job.id
        self.download_label.setText(f"Downloading {name}…")
        self.download_bar.setValue(0)
        self.download_row.show()
        self.bridge.watch(job.id, on_finished=lambda folder: self._download_ended(job.id, name, folder),
                          on_failed=lambda message, _: self._download_ended(job.id, name, None, message),
                          on_cancelled=lambda: self._download_ended(job.id, name, None),
                          on_progress=self._download_progress)
        return job.id

    def _download_progress(self, fraction: float | None, _message: str) -> None:
        self.download_bar.setRange(0, 0 if fraction is None else 1000)
        if fraction is not None:
            self.download_bar.setValue(round(fraction * 1000))

    def cancel_download(self) -> None:
        if self.download_job is not None:
            self.queue.cancel(self.download_job)

    def _download_ended(self, job_id: int, name: str, folder: str | None, error: str | None = None) -> None:
        if job_id != self.download_job:
            return
        self.download_job = None
        self.download_row.hide()
        if error is not None:
            sentence, details = download_failure(name, error)
            self.banner.show_message(sentence, "error", details=details)
        elif folder is None:
            self.statusMessage.emit(f"Download of {name} cancelled")
        else:
            self.banner.hide()
            self.refresh(select=folder)
            self.statusMessage.emit(f"Downloaded {name}")


def one_line(message: str, limit: int = 300) -> str:
    """The first line of an error, shortened: a banner line, never a traceback."""
    line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return line if len(line) <= limit else line[:limit - 1] + "…"
