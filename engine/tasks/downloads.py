"""The model download job: progress and Cancel through the job queue (the Transcribe view's
Download…; `motet models download` runs the same catalog function directly)."""

from __future__ import annotations

from engine.jobs import JobContext


def download_whisper(ctx: JobContext, name: str) -> str:
    """Job body (cpu lane): ``openai/whisper-NAME`` (or a repository id) installed; its folder."""
    from engine.models.catalog import download_model

    return str(download_model(name, progress=lambda f: ctx.progress(f, "downloading"),
                              should_stop=lambda: ctx.cancelled))


def download_model_job(ctx: JobContext, name: str, family: str) -> str:
    """Job body (cpu lane): a model of any catalog family installed (Generate's model picker)."""
    from engine.models.catalog import download_model

    return str(download_model(name, progress=lambda f: ctx.progress(f, "downloading"),
                              should_stop=lambda: ctx.cancelled, family_name=family))
