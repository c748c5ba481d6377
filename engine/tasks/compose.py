"""The Compose job: a prompt read into controls, pieces sampled by the composer model, each a
Score ready for the piano roll or a .mid file. The Generate page's MIDI mode submits it (gpu
lane); ``motet compose`` calls the same function (``ctx`` None: no progress, no Cancel)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from engine.jobs import JobContext
from engine.midi.score import Score
from engine.models.composer.controls import Controls
from engine.models.composer.prompt import Reading, read_prompt

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "composer"


@dataclass(frozen=True)
class ComposeRequest:
    prompt: str
    bars: int | None = None  # None: what the prompt says (else 16)
    variations: int = 1
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int | None = None  # None: a fresh one, reported with the result
    controls: Controls | None = None  # the chips as the user edited them: they win over the prompt


@dataclass
class Composition:
    reading: Reading
    controls: Controls
    seed: int
    scores: list[Score]
    kept: list = field(default_factory=list)  # the StoredPiece of each score, when a library keeps them
    not_kept: str = ""  # why the library could not keep them (the pieces are still here)


def new_seed() -> int:
    """A fresh seed, for a request without one."""
    return random.SystemRandom().randrange(2**31)


def composer_model(folder: str | Path | None = None):
    """The composer in ``folder`` (default: the shipped one), from the model registry."""
    from engine.models.composer.batches import VOCABULARY
    from engine.models.music_transformer.generate import load_model
    from engine.models.registry import models

    folder = Path(folder or ASSET_DIR)
    return models.get("composer", str(folder.resolve()),
                      load=lambda: load_model(folder, vocabulary=VOCABULARY))


def compose_piece(ctx: JobContext | None, request: ComposeRequest, model_folder: str | Path | None = None,
                  library=None) -> Composition:
    """Job body: ``request.variations`` pieces (one batch). A bad prompt (text that is not text,
    a value the model cannot take) or option is a ValueError before the model loads. With a
    ``library`` (engine.tasks.compositions.CompositionLibrary) every piece is kept there too; a
    failure to keep them is ``not_kept``, never a lost piece."""
    from engine.models.composer.generate import check_options, compose
    from engine.models.composer.score import to_score
    from engine.tasks.generate import check_prompt

    check_prompt(request.prompt)
    seed = request.seed if request.seed is not None else new_seed()
    # one seed for both: the style drawn for an unnamed one is the one this seed draws again
    reading = read_prompt(request.prompt, seed=seed, bars=request.bars)
    controls = request.controls or reading.controls
    check_options(request.variations, request.temperature, request.top_p, seed)
    if ctx is not None:
        ctx.progress(None, "loading the composer")
    model = composer_model(model_folder)
    progress = should_stop = None
    if ctx is not None:
        ctx.progress(0.0, f"composing {controls.bars} bars", force=True)

        def progress(fraction: float) -> None:
            ctx.progress(fraction, f"composing · bar {round(fraction * controls.bars)} of {controls.bars}")

        def should_stop() -> bool:
            ctx.checkpoint()
            return False

    pieces = compose(model, controls, request.variations, request.temperature, request.top_p, seed,
                     progress=progress, should_stop=should_stop)
    made = Composition(reading, controls, seed, [to_score(notes, controls) for notes in pieces])
    if library is not None:
        keep(made, request, library)
    return made


def keep(made: Composition, request: ComposeRequest, library) -> None:
    """Every piece of ``made`` into ``library`` (``made.kept``); a failure is ``made.not_kept``."""
    from engine.tasks.compositions import CompositionError

    settings = {"temperature": request.temperature, "top_p": request.top_p}
    try:
        for i, score in enumerate(made.scores, 1):
            made.kept.append(library.add(score, request.prompt, made.controls, made.seed, i, len(made.scores),
                                         settings))
    except CompositionError as exc:
        made.not_kept = str(exc)
