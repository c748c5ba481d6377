"""The Transcribe page's folder batch: a whole folder to transcripts as one job, in this process
or on a Ray cluster (the address remembered in the settings), resumable like `motet batch`.

The view only displays: the work is engine.tasks.batch's job on the gpu lane.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from engine.jobs import JobQueue, Priority
from engine.tasks.batch import transcribe_folder
from engine.transcript import FORMATS
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner, ElidedLabel
from gui.jobs.bridge import JobsBridge


def cluster_problem(text: str) -> str | None:
    """Why the cluster field cannot be used, or None ("" is this computer)."""
    if text in ("", "local", "auto") or (text.startswith("ray://") and len(text) > len("ray://")):
        return None
    return f"“{text}” is not a cluster: leave it empty for this computer, or give local, auto or ray://HOST:PORT"


class BatchPanel(QWidget):
    """One row: Transcribe folder…, where it runs, the format; the last batch's state beside."""

    statusMessage = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, banner: Banner,
                 job_arguments: Callable[[], dict | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings, self.banner = queue, bridge, settings, banner
        self.job_arguments = job_arguments  # () -> model (folder), model_name, options, device, compute_type
        self.job_id: int | None = None
        self.folder_button = QPushButton("Transcribe folder…")
        self.folder_button.setToolTip("Transcribe every audio file in a folder (and its subfolders) into another "
                                      "folder, as one job; run it again to do only what is missing")
        self.cluster_edit = QLineEdit()
        self.cluster_edit.setPlaceholderText("this computer")
        self.cluster_edit.setToolTip("Where the batch runs: empty for this computer; local (a Ray cluster here), "
                                     "auto (the Ray cluster running here) or ray://HOST:PORT (a remote one). "
                                     "A cluster needs `pip install 'motet[cluster]'`.")
        self.cluster_edit.setMaximumWidth(220)
        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(fmt.upper(), fmt)
        self.state = ElidedLabel()
        self.state.setStyleSheet("color: #666;")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.folder_button, QLabel("Run on:"), self.cluster_edit, QLabel("Format:"), self.format_combo):
            row.addWidget(w)
        row.addWidget(self.state, 1)
        self.folder_button.clicked.connect(self.choose_folder)
        self.cluster_edit.setText(get_str(settings, Keys.TRANSCRIBE_BATCH_CLUSTER, ""))
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(
            get_str(settings, Keys.TRANSCRIBE_BATCH_FORMAT, "srt"))))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of audio to transcribe")
        if not folder:
            return
        out = QFileDialog.getExistingDirectory(self, "Folder for the transcripts", str(Path(folder).parent))
        if out:
            self.start(folder, out)

    def start(self, folder: str, out_dir: str) -> int | None:
        """Submit the folder's job; None (and the banner says why) when it cannot start."""
        cluster = self.cluster_edit.text().strip()
        problem = cluster_problem(cluster)
        arguments = self.job_arguments()
        if problem or arguments is None:
            self.banner.show_message(problem or "Install or add a Whisper model first.", "error")
            return None
        if self.job_id is not None:
            self.banner.show_message("A folder batch is already running; wait for it or cancel it in Jobs.", "error")
            return None
        name = arguments.pop("model_name")
        if cluster not in ("", "local"):
            arguments["model"] = name  # another machine's nodes know the model by name, not by our folder
        fmt = self.format_combo.currentData()
        self.settings.setValue(Keys.TRANSCRIBE_BATCH_CLUSTER, cluster)
        self.settings.setValue(Keys.TRANSCRIBE_BATCH_FORMAT, fmt)
        where = cluster or "this computer"
        job = self.queue.submit(transcribe_folder, folder, out_dir, fmt, cluster=cluster or None, **arguments,
                                kind="batch", title=f"Transcribe folder {Path(folder).name} on {where}",
                                priority=Priority.BATCH, lane="gpu")
        self.job_id = job.id
        self.folder_button.setEnabled(False)
        self.state.set_text(f"{Path(folder).name}: starting on {where}")
        self.bridge.watch(job.id, on_finished=lambda summary: self._finished(summary),
                          on_failed=lambda message, _: self._ended(f"failed: {message}", message),
                          on_cancelled=lambda: self._ended("cancelled; run it again to finish it"),
                          on_progress=lambda _f, message: message and self.state.set_text(message))
        return job.id

    def _finished(self, summary) -> None:
        made, failed = len(summary.done), len(summary.failed)
        text = (f"{made} transcribed, {len(summary.skipped)} already done"
                + (f", {failed} failed" if failed else "") + f" → {summary.out_dir}")
        self._ended(text)
        self.statusMessage.emit(f"Folder batch: {text}")
        if failed:
            first = next(iter(summary.failed.items()))
            self.banner.show_message(f"{failed} file(s) could not be transcribed, e.g. {Path(first[0]).name}: "
                                     f"{first[1]}", "error")

    def _ended(self, text: str, error: str | None = None) -> None:
        self.job_id = None
        self.folder_button.setEnabled(True)
        self.state.set_text(text)
        if error:
            self.banner.show_message(f"The folder batch stopped: {error}", "error")
