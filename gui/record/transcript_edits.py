"""The Record view's changes to a take's stored transcript: "Transcribe again" (a job with the
Transcribe page's remembered model and options, progress and Cancel), Undo (the transcript before
the last change, kept by the library), and a line edited in place, saved with the take.

The library does the keeping (``TakeLibrary.replace_transcript``, ``undo_transcript``,
``edit_transcript_line``): a failed job, a full disk or a bad edit leaves the stored transcript as
it was, and the banner says why.
"""

from __future__ import annotations

from pathlib import Path

from engine.audio.takes import TakeError
from engine.jobs import Priority
from engine.tasks import takes as take_jobs
from gui.common.settings import Keys, get_str
from gui.record.live_transcript import count_lines


class TranscriptEditsMixin:
    """Part of :class:`gui.record.view.RecordView`; ``self._again_jobs`` maps job id -> take id."""

    # -- Transcribe again ---------------------------------------------------------------------
    def retranscribe_options(self, model_name: str):
        """The Transcribe page's remembered options (language and task only for a multilingual
        model, as that page has them)."""
        from engine.models.whisper.options import MAX_BEAM_SIZE, TranscribeOptions

        s = self.settings
        multilingual = not model_name.endswith(".en")
        try:
            beam = min(max(int(s.value(Keys.TRANSCRIBE_BEAM_SIZE, 5)), 1), MAX_BEAM_SIZE)
        except (TypeError, ValueError):
            beam = 5
        task = get_str(s, Keys.TRANSCRIBE_TASK, "transcribe")
        return TranscribeOptions(
            language=(get_str(s, Keys.TRANSCRIBE_LANGUAGE) or None) if multilingual else None,
            task=task if multilingual and task in ("transcribe", "translate") else "transcribe",
            beam_size=beam,
            word_timestamps=str(s.value(Keys.TRANSCRIBE_WORD_TIMESTAMPS, "false")).lower() == "true")

    def retranscribe_selected(self) -> int | None:
        """Transcribe the selected take again (a job on the gpu lane); returns the job id."""
        take_id = self.selected_take_id()
        if take_id is None or self.recording or take_id in self._again_jobs.values():
            return None
        try:
            take = self.library.get(take_id)
        except KeyError:
            self.refresh_takes()
            return None
        model = self.live_model()
        if model is None:
            self.banner.show_message("Install or add a Whisper model first (on the Transcribe page).", "error")
            return None
        folder, name = model
        device, dtype = self._compute() if self._compute else (None, None)
        kwargs = {}
        if device is not None:
            kwargs = dict(device=str(device.torch_device), dtype=dtype, compute_type=self.live_compute_type(device))
        job = self.queue.submit(take_jobs.retranscribe_take, self.library, take_id, folder,
                                self.retranscribe_options(name), **kwargs, kind="transcribe",
                                title=f"Transcribe '{take.name}' again with {name}", priority=Priority.INTERACTIVE,
                                lane="gpu")
        self._again_jobs[job.id] = take_id
        self.banner.show_message(f"Transcribing '{take.name}' again with {name}…", "info",
                                 [("Cancel", lambda: self.queue.cancel(job.id))])
        self.bridge.watch(job.id, on_finished=lambda result: self._again_done(job.id, take, result),
                          on_failed=lambda message, _: self._again_ended(job.id, take, message),
                          on_cancelled=lambda: self._again_ended(job.id, take, None),
                          on_progress=lambda f, _: self._again_progress(take_id, name, f))
        self._again_progress(take_id, name, None)
        return job.id

    def _again_progress(self, take_id: str, model: str, fraction: float | None) -> None:
        if self.selected_take_id() == take_id and not self.recording:
            doing = f"loading {model}…" if fraction is None else f"{fraction * 100:.0f}%"
            self.transcript.set_status(f"Transcribing again with {model}: {doing}")
        self._update_transcript_actions()

    def _again_done(self, job_id: int, take, result) -> None:
        self._again_jobs.pop(job_id, None)
        self.banner.show_message(f"The transcript of '{take.name}' was made again: "
                                 f"{count_lines(len(result.segments))}.", "info", [("Undo", self.undo_transcript)])
        self.statusMessage.emit(f"Transcribed '{take.name}' again")
        if self.selected_take_id() == take.id and not self.recording:
            self._show_selected_transcript()
        self._update_transcript_actions()

    def _again_ended(self, job_id: int, take, message: str | None) -> None:
        self._again_jobs.pop(job_id, None)
        if message is None:
            self.banner.show_message(f"Transcribing '{take.name}' again was cancelled; its transcript is unchanged.")
        else:
            self.banner.show_message(f"Could not transcribe '{take.name}' again: {message}. "
                                     "Its transcript is unchanged.", "error")
        if self.selected_take_id() == take.id and not self.recording:
            self._show_selected_transcript()
        self._update_transcript_actions()

    # -- Undo ---------------------------------------------------------------------------------
    def undo_transcript(self) -> bool:
        """The selected take's transcript before its last change comes back (again: redo)."""
        take_id = self.selected_take_id()
        if take_id is None or self.recording or take_id in self._again_jobs.values():
            return False
        try:
            result = self.library.undo_transcript(take_id)
            name = self.library.get(take_id).name
        except (TakeError, KeyError, ValueError, OSError) as exc:
            self.banner.show_message(f"Could not undo: {exc}", "error")
            return False
        self.transcript.show_result(result, editable=True, keep_place=True)
        self.transcript.set_status(f"{count_lines(len(result.segments))} · the earlier transcript is back")
        self.banner.show_message(f"The earlier transcript of '{name}' is back.", "info",
                                 [("Redo", self.undo_transcript)])
        self._update_transcript_actions()
        return True

    # -- a line edited in place ---------------------------------------------------------------
    def _line_edited(self, index: int, text: str) -> None:
        take_id = self._panel_take
        if take_id is None or self.recording or take_id != self.selected_take_id():
            return
        if take_id in self._again_jobs.values():
            self.banner.show_message("This take is being transcribed again; edit it once that is done.", "warn")
            self._show_selected_transcript()
            return
        try:
            result = self.library.edit_transcript_line(take_id, index, text)
        except (ValueError, TakeError, KeyError, OSError) as exc:  # WriteError is an OSError: a full disk
            why = "the take is gone" if isinstance(exc, KeyError) else str(exc)
            self.banner.show_message(f"The edit was not saved: {why}. The line keeps its earlier text.", "error")
            self._show_selected_transcript(keep_place=True)
            return
        self.banner.hide()  # an earlier offer (Undo of "Transcribe again") would now undo this edit
        self.transcript.show_result(result, editable=True, keep_place=True)
        self.transcript.set_status(f"Line {index + 1} edited · saved with the take (Ctrl+Z undoes it)")
        self.statusMessage.emit(f"Saved the edit of line {index + 1}")
        self._update_transcript_actions()

    def _update_transcript_actions(self) -> None:
        """"Transcribe again" and "Undo" for the selected take, when nothing else is under way."""
        take_id = self.selected_take_id()
        busy = self.recording or take_id is None or take_id in self._again_jobs.values()
        finishing = take_id in {t.id for t in self._live_jobs.values()}
        undo = not busy and not finishing and self.library.has_previous_transcript(take_id)
        self.transcript.set_actions(again=not busy and not finishing and Path(self.library.takes_dir).is_dir(),
                                    undo=undo)
