"""Stand-ins for the batch workers, so the runner's promises (the manifest, output names, the
folder lock, inputs that change) are tested without loading Whisper or MusicGen. Any existing
folder is a "model" to the runner (``resolve_model`` takes a folder as it is)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from engine.batch.workers import Outcome
from engine.transcript import Segment, TranscriptionResult


def wav(path: Path, seconds: float = 0.5, freq: float = 440.0, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


def transcript_of(path: Path | str) -> str:
    return f"transcript of {Path(path).name}"


class FakeTranscriber:
    """Each piece's transcript is ``transcript of NAME``; ``during(piece)`` runs while it is made."""

    during = None

    def __init__(self, model, options, device="auto", compute_type=None) -> None:
        pass

    def run(self, piece, should_stop=None) -> Outcome:
        if FakeTranscriber.during:
            FakeTranscriber.during(piece)
        segment = Segment(0, 0, 0.0, 0.5, transcript_of(piece.path), [], -0.1, 1.0, 0.0, 0.0)
        return Outcome(piece, TranscriptionResult("en", 1.0, 0.5, [segment]))


class FakeGenerator:
    """Noise from the render's seed."""

    def __init__(self, model, settings, device="auto") -> None:
        self.settings = settings

    def run(self, render, should_stop=None) -> Outcome:
        s = self.settings
        rng = np.random.default_rng(render.seed)
        audio = (0.1 * rng.standard_normal((s.variations, 1, max(1, round(s.seconds * 32000))))).astype(np.float32)
        return Outcome(render, (audio, 32000, "fake-musicgen", {}))


def use_fakes(monkeypatch) -> None:
    import engine.batch.runner as runner

    monkeypatch.setattr(runner, "TranscribeWorker", FakeTranscriber)
    monkeypatch.setattr(runner, "GenerateWorker", FakeGenerator)
    monkeypatch.setattr(FakeTranscriber, "during", None)
