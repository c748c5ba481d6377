"""The Record view's live transcription: a Whisper job that follows the recording, its transcript
stored with the take, and the stored transcript of the selected take shown and exported."""

from __future__ import annotations

from pathlib import Path

from engine.audio.session import RecordingSession
from engine.audio.takes import safe_filename, transcript_path
from engine.jobs import Priority
from gui.common.settings import Keys, get_str
from gui.common.widgets import ask_transcript_path, write_transcript_or_say_why


class LiveTranscriptionMixin:
    """Part of :class:`gui.record.view.RecordView`: the live job of the take being recorded (and
    of those still finishing) and the transcript panel's content."""

    def _on_job_event(self, event) -> None:
        """The bridge reports every job: only the live ones are of interest here."""
        if event.job_id in self._live_jobs or event.job_id == self._live_job_id:
            self._on_live_event(event)

    def live_model(self) -> str | None:
        """The Whisper model chosen in the Transcribe view, else the first one installed."""
        from engine.models.catalog import installed_models

        wanted = get_str(self.settings, Keys.TRANSCRIBE_MODEL)
        if wanted and Path(wanted).is_dir():
            return wanted
        models = installed_models()
        return str(models[0].path) if models else None

    def live_compute_type(self, device) -> str | None:
        """The Transcribe view's compute type on the CPU (int8 makes live passes cheaper, and one
        loaded model then serves both); None on a GPU (Settings' precision)."""
        from engine.models.whisper.quantize import COMPUTE_TYPES

        if device is None or device.kind != "cpu":
            return None
        chosen = get_str(self.settings, Keys.TRANSCRIBE_COMPUTE_TYPE, "float32")
        return chosen if chosen in COMPUTE_TYPES else None

    def _start_live_transcription(self, session: RecordingSession, reader) -> None:
        from engine.live.transcriber import LiveOptions
        from engine.tasks.live import live_transcribe

        model = self.live_model()
        if model is None:
            self.transcript.status_label.setText("no Whisper model installed: recording without a transcript")
            return
        device, dtype = self._compute() if self._compute else (None, None)
        kwargs = {}
        if device is not None:
            kwargs = dict(device=str(device.torch_device), dtype=dtype, compute_type=self.live_compute_type(device))
        job = self.queue.submit(
            live_transcribe, self.queue, reader, session.sample_rate, model, LiveOptions(),
            on_update=self._liveUpdate.emit, save_to=transcript_path(session.take.path), **kwargs,
            kind="live", title=f"Live transcript · {session.take.name}", priority=Priority.LIVE, lane="live")
        self._live_job_id = job.id
        self._live_reader = reader
        compute = kwargs.get("compute_type") or ("" if dtype is None else str(dtype).removeprefix("torch."))
        self.transcript.status_label.setText(f"live · {Path(model).name}" + (f" · {compute}" if compute else ""))

    def _on_live_event(self, event) -> None:
        if event.kind == "progress" and event.message:
            if event.job_id == self._live_job_id:
                self.transcript.status_label.setText(event.message)
            return
        if not event.state.done:
            return
        take = self._live_jobs.pop(event.job_id, None)
        if event.job_id == self._live_job_id:  # ended while still recording (failed, cancelled)
            self._live_job_id = None
        if event.kind == "finished" and take is not None:
            try:
                self.library.save_transcript(take.id, event.result)
            except OSError as exc:
                self.banner.show_message(f"Could not store the transcript of '{take.name}': {exc}", "error")
            self.transcript.status_label.setText(
                f"{len(event.result.segments)} segments · stored with the take")
            if self.selected_take_id() == take.id:
                self.transcript.show_result(event.result)
        elif event.kind == "failed":
            message = event.error_message or "unknown error"
            self.transcript.status_label.setText("live transcription stopped")
            self.banner.show_message(f"Live transcription stopped: {message}. The recording goes on; "
                                     "the transcript so far is kept with the take.", "error")
        elif event.kind == "cancelled":
            self.transcript.status_label.setText("live transcription cancelled")

    def _show_selected_transcript(self) -> None:
        if self.recording:
            return  # the live transcript stays on screen
        take_id = self.selected_take_id()
        self.transcript.clear()
        if take_id is None:
            return
        if take_id in (t.id for t in self._live_jobs.values()):
            self.transcript.status_label.setText("finishing the transcript…")
            return
        try:
            result = self.library.load_transcript(take_id)
        except ValueError as exc:
            self.transcript.status_label.setText(str(exc))
            return
        if result is None:
            self.transcript.status_label.setText("no transcript for this take")
        else:
            self.transcript.show_result(result)
            self.transcript.status_label.setText(f"{len(result.segments)} segments")

    def _export_transcript(self) -> None:
        take_id = self.selected_take_id()
        if take_id is None:
            return
        path = ask_transcript_path(self, self.settings, safe_filename(self.library.get(take_id).name), str(Path.home()))
        if path:
            self.export_transcript(take_id, path)

    def export_transcript(self, take_id: str, path: str, fmt: str | None = None) -> bool:
        try:
            result = self.library.load_transcript(take_id)
        except ValueError as exc:
            result, why = None, str(exc)
        else:
            why = "this take has no transcript"
        if result is None:
            self.banner.show_message(f"Could not export the transcript: {why}", "error")
            return False
        if not write_transcript_or_say_why(self.banner, result, path, fmt):
            return False
        self.statusMessage.emit(f"Exported {Path(path).name}")
        return True
