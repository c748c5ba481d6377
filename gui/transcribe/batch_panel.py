"""The Transcribe page's folder batch: a whole folder to transcripts as one job, in this process
or on a Ray cluster (the address remembered in the settings), resumable like `motet batch`.

The view only displays: the work is engine.tasks.batch's job on the gpu lane. When a batch ends,
the files it wrote and those that failed (with why) are listed under the row, with Open folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

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


PathRole = Qt.ItemDataRole.UserRole


class BatchPanel(QWidget):
    """One row: Transcribe folder…, where it runs, the format; the last batch's state beside; under
    it, once a batch has ended, its results: the files written and the failures, Open folder."""

    statusMessage = Signal(str)

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, banner: Banner,
                 job_arguments: Callable[[], dict | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings, self.banner = queue, bridge, settings, banner
        self.job_arguments = job_arguments  # () -> model (folder), model_name, options, device, compute_type
        self.job_id: int | None = None
        self.out_dir: str | None = None  # the last batch's output folder
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
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.folder_button, QLabel("Run on:"), self.cluster_edit, QLabel("Format:"), self.format_combo):
            row.addWidget(w)
        row.addWidget(self.state, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self._build_results())
        self.folder_button.clicked.connect(self.choose_folder)
        self.cluster_edit.setText(get_str(settings, Keys.TRANSCRIBE_BATCH_CLUSTER, ""))
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(
            get_str(settings, Keys.TRANSCRIBE_BATCH_FORMAT, "srt"))))

    def _build_results(self) -> QWidget:
        """The last batch's outputs and failures, Open folder and Hide; hidden until a batch ends."""
        self.results_label = ElidedLabel()
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Show the folder of transcripts in the file manager")
        self.hide_results_button = QPushButton("Hide")
        self.results_list = QTreeWidget()
        self.results_list.setHeaderLabels(["File", "Result"])
        self.results_list.setRootIsDecorated(False)
        self.results_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.results_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results_list.header().setStretchLastSection(False)
        self.results_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.results_list.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.results_list.header().resizeSection(1, 260)
        self.results_list.setMaximumHeight(96)  # four rows: the file list below keeps its room
        self.results_list.setToolTip("Double-click a transcript to open it")
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.results_label, 1)
        head.addWidget(self.open_folder_button)
        head.addWidget(self.hide_results_button)
        self.results_box = QWidget()
        box = QVBoxLayout(self.results_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(head)
        box.addWidget(self.results_list)
        self.results_box.hide()
        self.open_folder_button.clicked.connect(self.open_folder)
        self.hide_results_button.clicked.connect(self.results_box.hide)
        self.results_list.itemDoubleClicked.connect(self._open_item)
        return self.results_box

    def open_folder(self) -> bool:
        """The last batch's output folder in the file manager."""
        if not self.out_dir:
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(self.out_dir)):
            self.banner.show_message(f"Could not open {self.out_dir}: no file manager answered.", "error")
            return False
        return True

    def _open_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        path = item.data(0, PathRole)
        if path and not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.banner.show_message(f"Could not open {path}: no application answered.", "error")

    def show_results(self, summary) -> None:
        """List what ``summary`` (engine.batch.runner.BatchSummary) says: each output written, each
        failure with its reason; the header counts them, with what an earlier run had done."""
        self.out_dir = summary.out_dir
        self.results_list.clear()
        out = Path(summary.out_dir)
        for output in summary.outputs:
            try:
                name = str(Path(output).relative_to(out))
            except ValueError:
                name = str(output)
            item = QTreeWidgetItem([name, "written"])
            item.setData(0, PathRole, str(output))
            item.setToolTip(0, str(output))
            self.results_list.addTopLevelItem(item)
        for source, why in summary.failed.items():
            item = QTreeWidgetItem([Path(source).name, f"failed: {why}"])
            item.setToolTip(0, str(source))
            item.setToolTip(1, str(why))
            item.setForeground(1, Qt.GlobalColor.darkRed)
            self.results_list.addTopLevelItem(item)
        parts = [f"{len(summary.outputs)} file(s) written"]
        if summary.failed:
            parts.append(f"{len(summary.failed)} failed")
        if summary.skipped:
            parts.append(f"{len(summary.skipped)} done by an earlier run")
        self.results_label.set_text(str(out), f": {', '.join(parts)}")
        self.results_box.show()

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
        self.results_box.hide()  # the last batch's results go; this one's come when it ends
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
        self.show_results(summary)
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
