"""The Record view's live transcription: a Whisper job that follows the recording, its transcript
stored with the take, and the stored transcript of the selected take shown and exported."""

from __future__ import annotations

from pathlib import Path

from engine.audio.session import RecordingSession
from engine.audio.takes import safe_filename, transcript_path
from engine.jobs import Priority
from gui.common.settings import Keys, get_str
from gui.common.widgets import ask_transcript_path, write_transcript_or_say_why
from gui.record.live_transcript import count_lines


def live_status(elapsed: float, phase: str, lines: int, speaking: bool, model: str) -> str:
    """What the transcript's status line says while recording, from the live job's last message
    ("loading the model", "listening · 00:11 · 3 segments", ...): said for a person."""
    seconds = int(elapsed)
    head = f"Recording {seconds // 60:02d}:{seconds % 60:02d}"
    if not phase:
        return head
    if phase.startswith("listening"):
        doing = count_lines(lines) if lines else ("hearing speech…" if speaking else "listening for speech")
        damaged = [part for part in phase.split(" · ") if "damaged" in part]
        return " · ".join([head, f"live transcript: {doing}", *damaged])
    doing = f"loading {model}…" if phase == "loading the model" else f"{phase}…"
    return f"{head} · live transcript: {doing}"


class LiveTranscriptionMixin:
    """Part of :class:`gui.record.view.RecordView`: the live job of the take being recorded (and
    of those still finishing) and the transcript panel's content."""

    def _on_job_event(self, event) -> None:
        """The bridge reports every job: only the live ones are of interest here."""
        if event.job_id in self._live_jobs or event.job_id == self._live_job_id:
            self._on_live_event(event)

    def live_model(self) -> tuple[str, str] | None:
        """(folder, name) of the Whisper model chosen in the Transcribe view, else of the first one
        installed; the name is the catalog's ("tiny.en"), not the folder's."""
        from engine.models.catalog import installed_models

        wanted = get_str(self.settings, Keys.TRANSCRIBE_MODEL)
        folders = self.settings.value(Keys.TRANSCRIBE_MODEL_FOLDERS, [])
        models = installed_models([folders] if isinstance(folders, str) else list(folders or []))
        chosen = next((m for m in models if str(m.path) == wanted), None)
        if chosen is None and wanted and Path(wanted).is_dir():
            return wanted, Path(wanted).name
        chosen = chosen or (models[0] if models else None)
        return (str(chosen.path), chosen.name) if chosen else None

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
            self.transcript.set_status("No Whisper model installed: recording without a transcript")
            return
        folder, name = model
        device, dtype = self._compute() if self._compute else (None, None)
        kwargs = {}
        if device is not None:
            kwargs = dict(device=str(device.torch_device), dtype=dtype, compute_type=self.live_compute_type(device))
        job = self.queue.submit(
            live_transcribe, self.queue, reader, session.sample_rate, folder, LiveOptions(),
            on_update=self._liveUpdate.emit, save_to=transcript_path(session.take.path), **kwargs,
            kind="live", title=f"Live transcript of '{session.take.name}' with {name}", priority=Priority.LIVE,
            lane="live")
        self._live_job_id = job.id
        self._live_reader = reader
        compute = kwargs.get("compute_type") or ("" if dtype is None else str(dtype).removeprefix("torch."))
        self._live_model_name = f"{name} ({compute})" if compute else name
        self._live_phase = "loading the model"
        self._show_live_status()

    def _show_live_status(self) -> None:
        """The status line while recording: elapsed time and what the live transcript is doing."""
        if self.session is None or self._live_job_id is None:
            return
        self.transcript.set_status(live_status(self.session.duration, self._live_phase, self.transcript.line_count(),
                                               self.transcript.speaking(), self._live_model_name))

    def _on_live_event(self, event) -> None:
        if event.kind == "progress" and event.message:
            if event.job_id == self._live_job_id:
                self._live_phase = event.message
                self._show_live_status()
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
            if self.selected_take_id() == take.id:
                self.transcript.show_result(event.result, editable=True)
                self.transcript.set_status(f"{count_lines(len(event.result.segments))} · stored with the take")
            self._update_transcript_actions()
        elif event.kind == "failed":
            message = event.error_message or "unknown error"
            self.transcript.set_status("Live transcription stopped (see the message above)")
            self.banner.show_message(f"Live transcription stopped: {message}. The recording goes on; "
                                     "the transcript so far is kept with the take.", "error")
        elif event.kind == "cancelled":
            self.transcript.set_status("Live transcription cancelled")

    def _show_selected_transcript(self, keep_place: bool = False) -> None:
        """The selected take's stored transcript (its lines editable), and a status line that
        says what it is; ``keep_place``: the same take again (after a refused edit)."""
        if self.recording:
            return  # the live transcript stays on screen
        take_id = self.selected_take_id()
        self._update_transcript_actions()
        finishing = take_id in {t.id for t in self._live_jobs.values()}
        if not (finishing and self._panel_take == take_id):  # its live lines stay until the final ones come
            self.transcript.clear()
        self._panel_take = take_id
        self.transcript.set_status("Finishing the transcript…" if finishing else "")
        if take_id is None or finishing:
            return
        try:
            result = self.library.load_transcript(take_id)
            recovered = self.is_recovered(self.library.get(take_id))
        except (ValueError, KeyError) as exc:  # unreadable, or deleted meanwhile by the CLI
            self.transcript.set_status(str(exc) if isinstance(exc, ValueError) else "This take is gone")
            return
        if result is None:
            self.transcript.set_status("Recovered after a crash — not transcribed yet:" if recovered
                                       else "Not transcribed yet:", transcribe_link=True)
            return
        self.transcript.show_result(result, editable=True, keep_place=keep_place)
        lines = count_lines(len(result.segments))
        self.transcript.set_status(f"Recovered after a crash — the transcript up to it: {lines}" if recovered
                                   else f"{lines} · click one to hear it")

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
