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


def continuous(sentences: list[str], folder: Path, name: str = "continuous", gap: float = 0.12,
               voice: str = "en-us") -> tuple[Path, list[tuple[float, float, str]]]:
    """Speech without pauses (issue #27): the sentences back to back with gaps of ``gap`` s
    (never a pause of 0.2 s), as a stereo 16 kHz WAV that ends with the last word (a mono file
    would be upmixed at -6 dB into a stereo sink); returns it and the true sentence spans."""
    assert gap < 0.2
    path, spans = build([(s, voice) for s in sentences], folder, name, pause=gap)
    audio, sr = sf.read(path, dtype="float32")
    audio = audio[:int(spans[-1][1] * sr) + 1]
    stereo = folder / f"{name}-stereo.wav"
    sf.write(stereo, np.stack([audio, audio], axis=1), sr, subtype="PCM_16")
    return stereo, spans


def onset(path: str | Path, share: float = 0.05) -> float:
    """Seconds to the first sample louder than ``share`` of the file's peak (channels averaged)."""
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = np.abs(audio.mean(axis=1))
    peak = float(mono.max())
    if peak <= 0:
        raise ValueError(f"{path} is silent")
    return int(np.argmax(mono > share * peak)) / sr


def offset_in_take(take: str | Path, played: str | Path) -> float:
    """Where the played file's t = 0 lies in a take that recorded it from silence: the two
    onsets of sound, a level relative to each file's peak (the capture path may change the gain)."""
    return onset(take) - onset(played)


class SentenceMatch:
    """Where one sentence of a script was found in a transcript: ``matched`` of its ``words``
    aligned in order (one alignment of the whole script with the whole transcript), in the
    segments ``segments``; ``read``: those plus the transcript's unaligned words in its place
    (between its aligned words and its neighbours': misheard, "Blue machine" for "Glue the
    sheet"); ``readings``: stretches of the transcript that read like it."""

    def __init__(self, index: int, start: float, end: float, text: str) -> None:
        self.index, self.start, self.end, self.text = index, start, end, text
        self.words = len(normalise(text).split())
        self.matched = 0
        self.read = 0
        self.segments: list[int] = []
        self.readings = 0

    def overlaps(self, segments) -> bool:
        """Every segment holding its words overlaps the time it was spoken."""
        return all(segments[k].start < self.end and segments[k].end > self.start for k in set(self.segments))

    def found(self, segments, share: float) -> bool:
        return self.matched >= share * self.words and self.overlaps(segments)


def match_sentences(segments, spans, offset: float = 0.0) -> list[SentenceMatch]:
    """Align the script's words (``spans``: (start, end, text) in the played file) with the
    transcript's (``segments``: objects with start, end, text) in order; ``offset``: where the
    file's t = 0 lies in the transcript's time (the recording started before the speech)."""
    import difflib

    words, segment_of = [], []
    for k, s in enumerate(segments):
        for w in normalise(s.text).split():
            words.append(w)
            segment_of.append(k)
    script, sentence_of = [], []
    for j, (_, _, text) in enumerate(spans):
        for w in normalise(text).split():
            script.append(w)
            sentence_of.append(j)
    result = [SentenceMatch(j, start + offset, end + offset, text) for j, (start, end, text) in enumerate(spans)]
    aligned: list[int | None] = [None] * len(words)  # the sentence each transcript word was aligned with
    for block in difflib.SequenceMatcher(a=script, b=words, autojunk=False).get_matching_blocks():
        for q in range(block.size):
            m = result[sentence_of[block.a + q]]
            m.matched += 1
            m.segments.append(segment_of[block.b + q])
            aligned[block.b + q] = m.index
    for m in result:
        m.read = m.matched
    # each run of unaligned transcript words fills the places of the words missing from the
    # sentences around it, in order: the end of the one before, any between, the start of the next
    i = 0
    while i < len(words):
        if aligned[i] is not None:
            i += 1
            continue
        run_end = i
        while run_end < len(words) and aligned[run_end] is None:
            run_end += 1
        before = next((aligned[k] for k in range(i - 1, -1, -1) if aligned[k] is not None), 0)
        after = next((aligned[k] for k in range(run_end, len(words)) if aligned[k] is not None), len(result) - 1)
        left = run_end - i
        for m in result[before:after + 1]:
            given = min(left, m.words - m.read)
            m.read += given
            left -= given
        i = run_end
    for m in result:  # a second reading anywhere: a window of its length that reads like it
        sentence, n = normalise(m.text).split(), m.words
        hits = [i for i in range(len(words) - n + 1)
                if difflib.SequenceMatcher(a=sentence, b=words[i:i + n], autojunk=False).ratio() >= 0.75]
        m.readings = len([i for p, i in enumerate(hits) if p == 0 or i - hits[p - 1] > n // 2])
    return result


def listing(segments) -> str:
    return "\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text.strip()}" for s in segments)


def check_every_sentence_once(segments, spans, offset: float = 0.0, share: float = 1 / 3,
                              read_share: float = 0.75) -> list[SentenceMatch]:
    """Every sentence in the transcript once, in order, at its time: at least ``share`` of its
    words aligned in order with the script and ``read_share`` of them read in its place (aligned
    or misheard: a sentence lost or cut short has fewer words there), every segment holding its
    aligned words overlapping where it was spoken, no second reading of it; segments in time
    order, each holding words of the script and lying within (about) the audio of its own
    sentences. A failure names the sentence, its time, and lists the segments."""
    matches = match_sentences(segments, spans, offset)
    shown = f"\n(speech starts at {offset:.2f} s in the take)\n{listing(segments)}"
    problems = []
    for m in matches:
        where = ", ".join(f"{segments[k].start:.2f}-{segments[k].end:.2f}" for k in sorted(set(m.segments)))
        said = f"sentence {m.index} ({m.start:.2f}-{m.end:.2f} s) {m.text!r}"
        if m.matched < share * m.words or m.read < read_share * m.words:
            problems.append(f"{said} missing: {m.matched} of {m.words} words found, {m.read} read in its place "
                            f"(in {where or 'no segment'})")
        elif not m.overlaps(segments):
            problems.append(f"{said} misplaced: its words are in segments {where}")
        if m.readings > 1:
            problems.append(f"{said} read {m.readings} times")
    for a, b in zip(segments, segments[1:]):
        if not a.start < a.end <= b.start + 1e-6 < b.end:
            problems.append(f"segments out of order: {a.start:.2f}-{a.end:.2f} then {b.start:.2f}-{b.end:.2f}")
    for k, s in enumerate(segments):
        mine = [m for m in matches if k in m.segments]
        if not mine:
            problems.append(f"segment {s.start:.2f}-{s.end:.2f} {s.text.strip()!r} has none of the script's words")
        elif not (s.start >= mine[0].start - 0.5 and s.end <= mine[-1].end + 0.7):
            problems.append(f"segment {s.start:.2f}-{s.end:.2f} lies outside its sentences' audio "
                            f"({mine[0].start:.2f}-{mine[-1].end:.2f} s)")
    assert not problems, "\n".join(problems) + shown
    return matches
