"""Known speech made with espeak-ng, with the true time span of every sentence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.files import load_audio

SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
]
VOICES = ["en-us", "en-gb"]

# One sentence per language with the espeak-ng voice that speaks it (for multilingual models).
# espeak-ng's French is heard as Thai or Polish by Whisper base for most sentences (as by
# faster-whisper on the same weights); these are ones it recognises as French.
LANGUAGE_SENTENCES = {
    "en": ("en-us", "Good morning, my name is John and I live in London."),
    "de": ("de", "Guten Morgen, ich heiße Anna und wohne in Berlin."),
    "fr": ("fr", "La France est un pays d'Europe occidentale."),
    "es": ("es", "Buenos días, me llamo Carlos y vivo en Madrid."),
}


def espeak(text: str, voice: str, path: Path) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True)
    audio, _ = load_audio(path, sample_rate=16000, mono=True)
    return audio[:, 0]


def build(sentences: list[tuple[str, str]], folder: Path, name: str, pause: float = 0.8,
          lead: float = 0.3) -> tuple[Path, list[tuple[float, float, str]]]:
    """One 16 kHz WAV of (text, voice) sentences with pauses; returns it and the true spans."""
    parts = [np.zeros(int(lead * 16000), np.float32)]
    spans = []
    t = lead
    for i, (text, voice) in enumerate(sentences):
        audio = espeak(text, voice, folder / f"{name}-{i}.wav")
        nz = np.flatnonzero(np.abs(audio) > 1e-3)
        audio = audio[nz[0]: nz[-1] + 1]  # exact speech span
        spans.append((t, t + len(audio) / 16000, text))
        parts += [audio, np.zeros(int(pause * 16000), np.float32)]
        t += len(audio) / 16000 + pause
    path = folder / f"{name}.wav"
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return path, spans


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(match) -> str:
    n = int(match.group())
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return match.group()


def normalise(text: str) -> str:
    """For word error rates: lower case, no punctuation, hyphens split, numbers below 100 in
    words (Whisper writes "50" where the script says "fifty"); letters of any script are kept
    ("días", "heiße")."""
    import re

    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w' ]+|_", " ", text)
    text = re.sub(r"\b\d{1,2}\b", _number_words, text)
    return " ".join(text.split())
