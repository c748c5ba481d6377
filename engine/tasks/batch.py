"""The Transcribe page's folder job: a whole folder transcribed as one job (in this process, or
on the Ray cluster named in the page's settings), with the batch's progress line as the job's
message and Cancel between pieces. The work is engine.batch's, the same as `motet batch`."""

from __future__ import annotations

from pathlib import Path

from engine.batch.runner import BatchSummary, transcribe_batch
from engine.jobs import JobContext
from engine.models.whisper.options import TranscribeOptions


def transcribe_folder(ctx: JobContext, folder: str | Path, out_dir: str | Path, fmt: str, model: str,
                      options: TranscribeOptions, cluster: str | None = None, device: str = "cpu",
                      compute_type: str | None = None) -> BatchSummary:
    """Job body (gpu lane). ``model``: a folder here; on a remote cluster the name its nodes know."""
    ctx.progress(None, f"starting the batch on {cluster}" if cluster else "starting the batch")

    def should_stop() -> bool:
        ctx.checkpoint()  # raises Cancelled; lets live transcription run first
        return False

    return transcribe_batch([folder], out_dir, fmt, model, options, cluster, device=device, compute_type=compute_type,
                            progress=lambda state: ctx.progress(state.fraction, state.line()), should_stop=should_stop)
