"""The Transcribe view's Whisper models: the installed ones and added folders, the compute type,
and downloads from the Hugging Face Hub as jobs (progress and Cancel in the Jobs panel)."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog

from engine.jobs import Priority
from engine.models.catalog import installed_models
from gui.common.settings import Keys, get_str
from gui.common.widgets import download_failure


class ModelsMixin:
    """Part of :class:`gui.transcribe.view.TranscribeView`: the model combo box, its folder and
    download buttons, and the compute type."""

    def _model_folders(self) -> list[str]:
        value = self.settings.value(Keys.TRANSCRIBE_MODEL_FOLDERS, [])
        return [value] if isinstance(value, str) else list(value or [])

    def refresh_models(self) -> None:
        wanted = get_str(self.settings, Keys.TRANSCRIBE_MODEL)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in installed_models(self._model_folders()):
            self.model_combo.addItem(entry.label, entry)
        index = next((i for i in range(self.model_combo.count())
                      if str(self.model_combo.itemData(i).path) == wanted), 0)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self._model_changed()

    def current_model(self):
        return self.model_combo.currentData()

    def _model_changed(self, *_: object) -> None:
        entry = self.current_model()
        if entry is None:
            self.model_label.set_text("No Whisper model: add a model folder or download one.")
            self._update_buttons()
            return
        device, dtype = self.compute()
        self.settings.setValue(Keys.TRANSCRIBE_MODEL, str(entry.path))
        multilingual = not entry.name.endswith(".en")
        self.language_combo.setEnabled(multilingual)
        self.task_combo.setEnabled(multilingual)
        self._update_buttons()
        on_cpu = device.kind == "cpu"
        self.compute_combo.setEnabled(on_cpu)
        self.compute_combo.setToolTip(
            "Compute type on the CPU: int8 is faster and gives nearly the same text" if on_cpu else
            f"int8 runs on the CPU only; on {device} the precision is Settings › Model precision")
        compute = self.compute_type() or str(dtype).removeprefix("torch.")
        self.model_label.set_text(entry.name, f" runs on {device} · {compute}")
        self.model_label.setToolTip(f"{entry.name} · {entry.size_bytes / 2**20:.0f} MB · {entry.format} · {entry.path}")

    def compute_type(self) -> str | None:
        """The compute type for jobs: the choice on the CPU; None (Settings' precision) on a GPU."""
        device, _ = self.compute()
        return self.compute_combo.currentData() if device.kind == "cpu" else None

    def _compute_changed(self, *_: object) -> None:
        self.settings.setValue(Keys.TRANSCRIBE_COMPUTE_TYPE, self.compute_combo.currentData())
        self._model_changed()

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Whisper model folder")
        if folder:
            self.add_model_folder(folder)

    def add_model_folder(self, folder: str) -> bool:
        from engine.models.common.errors import CheckpointError
        from engine.models.whisper.loading import detect_format

        try:
            detect_format(folder)
        except CheckpointError as exc:
            self.banner.show_message(str(exc), "error")
            return False
        folders = self._model_folders()
        if folder not in folders:
            self.settings.setValue(Keys.TRANSCRIBE_MODEL_FOLDERS, folders + [folder])
        self.settings.setValue(Keys.TRANSCRIBE_MODEL, folder)
        self.refresh_models()
        return True

    def choose_download(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getItem(
            self, "Download a Whisper model", "Model (openai/whisper-NAME or a repository id):",
            ["tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "large-v3", "large-v3-turbo"],
            0, True)
        if ok and name.strip():
            self.download(name.strip())

    def download(self, name: str) -> int:
        """Download on the job queue (cpu lane): progress and Cancel in the Jobs panel."""
        from engine.tasks.downloads import download_whisper

        job = self.queue.submit(download_whisper, name, kind="download", title=f"Download {name}", priority=Priority.INTERACTIVE,
                                lane="cpu")
        self.downloads[job.id] = name
        self.bridge.watch(job.id, on_finished=lambda folder: self._downloaded(job.id, folder),
                          on_failed=lambda message, _: self._download_failed(job.id, message),
                          on_cancelled=lambda: self.downloads.pop(job.id, None))
        return job.id

    def _downloaded(self, job_id: int, folder: str) -> None:
        name = self.downloads.pop(job_id, folder)
        self.settings.setValue(Keys.TRANSCRIBE_MODEL, folder)
        self.refresh_models()
        self.statusMessage.emit(f"Downloaded {name}")

    def _download_failed(self, job_id: int, message: str) -> None:
        name = self.downloads.pop(job_id, "the model")
        sentence, details = download_failure(name, message)
        self.banner.show_message(sentence, "error", details=details)
