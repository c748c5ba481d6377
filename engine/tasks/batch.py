"""Batch jobs: `motet batch` without a cluster runs its batch as one job on the job queue, and the
Transcribe page's folder job is the same (in this process, or on the Ray cluster named in the
page's settings), with the batch's progress line as the job's message and Cancel between pieces.
The work is engine.batch's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.batch.runner import BatchProgress, BatchSummary, generate_batch, transcribe_batch
from engine.jobs import JobContext
from engine.models.whisper.options import TranscribeOptions


def run_batch(ctx: JobContext, what: str, show: Callable[[BatchProgress], None] | None = None,
              warn: Callable[[str], None] | None = None, **arguments) -> BatchSummary:
    """Job body (gpu lane): ``transcribe_batch`` or ``generate_batch`` (``what``) with
    ``arguments``; progress to the job (and to ``show``, the CLI's progress line); each warning
    line to ``warn`` as it comes (they are in the summary's ``notes`` too)."""
    def progress(state: BatchProgress) -> None:
        ctx.progress(state.fraction, state.line())
        if show:
            show(state)

    def should_stop() -> bool:
        ctx.checkpoint()  # raises Cancelled; lets live transcription run first
        return False

    ctx.progress(None, f"starting the batch on {arguments['cluster']}" if arguments.get("cluster")
                 else "starting the batch")
    body = transcribe_batch if what == "transcribe" else generate_batch
    return body(**arguments, progress=progress, should_stop=should_stop, warn=warn)


def transcribe_folder(ctx: JobContext, folder: str | Path, out_dir: str | Path, fmt: str, model: str,
                      options: TranscribeOptions, cluster: str | None = None, device: str = "cpu",
                      compute_type: str | None = None) -> BatchSummary:
    """The Transcribe page's job. ``model``: a folder here; on a remote cluster the name its nodes know."""
    return run_batch(ctx, "transcribe", inputs=[folder], out_dir=out_dir, fmt=fmt, model=model, options=options,
                     cluster=cluster, device=device, compute_type=compute_type)
