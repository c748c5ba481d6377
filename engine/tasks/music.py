"""The music jobs: continue a motif with the Music Transformer, render a score to audio, export it
as WAV. The piano roll submits them to the job queue; ``motet continue`` calls the same functions
(``ctx`` None: no progress, no Cancel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.jobs import JobContext
from engine.midi.score import Note, Score


def music_transformer(folder: str | Path | None = None):
    """The Music Transformer in ``folder`` (default: the shipped one), from the model registry."""
    from engine.models.music_transformer.generate import ASSET_DIR, load_model
    from engine.models.registry import models

    folder = Path(folder or ASSET_DIR)
    return models.get("music_transformer", str(folder.resolve()), load=lambda: load_model(folder))


def continuation_model(model_folder: str | Path | None = None) -> tuple[str, Path]:
    """Which model continues motifs: the composer (tunes, songs and polyphony, conditioned on the
    motif's texture) when it is shipped or ``model_folder`` holds one; else the Music Transformer
    (performance events, chorales). Returns (vocabulary, folder)."""
    from engine.models.music_transformer.generate import ASSET_DIR
    from engine.models.music_transformer.options import PERFORMANCE_EVENTS
    from engine.tasks.compose import ASSET_DIR as COMPOSER_DIR

    if model_folder is None:
        folder = COMPOSER_DIR if (COMPOSER_DIR / "model.safetensors").is_file() else ASSET_DIR
    else:
        folder = Path(model_folder)
    from engine.models.common.errors import CheckpointError
    from engine.models.music_transformer.model import read_config

    try:
        vocabulary = read_config(folder).vocabulary  # a regular file, bounded
    except CheckpointError:
        vocabulary = None  # the loader gives the clear error
    return vocabulary or PERFORMANCE_EVENTS, folder


def continue_motif(ctx: JobContext | None, score: Score, prompt: list[Note], bars: float, variations: int,
                   temperature: float, top_p: float, seed: int | None = None,
                   model_folder: str | Path | None = None) -> list[list[Note]]:
    """Job body (gpu lane): ``variations`` continuations of ``prompt`` (notes of ``score``)."""
    from engine.models.composer.batches import VOCABULARY

    vocabulary, folder = continuation_model(model_folder)
    if vocabulary == VOCABULARY:
        from engine.models.composer.continuation import continue_motif as continue_notes
        from engine.tasks.compose import composer_model as load
        name = "the composer"
    else:
        from engine.models.music_transformer.generate import continue_notes
        load, name = music_transformer, "the Music Transformer"
    if ctx is not None:
        ctx.progress(None, f"loading {name}")
    model = load(folder)
    if ctx is None:
        return continue_notes(model, score, prompt, bars, variations, temperature, top_p, seed)
    ctx.progress(0.0, "generating", force=True)

    def should_stop() -> bool:
        ctx.checkpoint()
        return False

    return continue_notes(model, score, prompt, bars, variations, temperature, top_p, seed,
                          progress=lambda f: ctx.progress(f, "generating"), should_stop=should_stop)


def with_notes(score: Score, track: int, notes: list[Note]) -> Score:
    """A copy of ``score`` whose track ``track`` also holds ``notes`` (a variation accepted)."""
    result = score.copy()
    if not result.tracks:
        from engine.midi.score import Track

        result.tracks.append(Track())
    result.tracks[track].notes = sorted(result.tracks[track].notes + list(notes))
    return result


def render_score(ctx: JobContext | None, score: Score, start: int = 0, end: int | None = None,
                 tail: float = 1.0) -> np.ndarray:
    """Job body (cpu lane): the score from tick ``start`` (to ``end``) as stereo audio at the
    synthesizer's rate, ``tail`` seconds of release after the last note."""
    from engine.midi.synth import get_synthesizer

    stop = (lambda: ctx.cancelled) if ctx is not None else None
    return get_synthesizer().render(score, start, end, tail=tail, should_stop=stop)


def export_wav(ctx: JobContext | None, score: Score, path: str | Path) -> str:
    """Job body (cpu lane): the whole score rendered and written as a 16-bit WAV (atomically)."""
    from engine.midi.synth import get_synthesizer, write_wav

    synth = get_synthesizer()
    return str(write_wav(render_score(ctx, score), path, synth.sample_rate))
