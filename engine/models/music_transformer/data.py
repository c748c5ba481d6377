"""Training data from the music21 package's bundled corpus, built by a command, not committed.

Each piece becomes its notes in seconds (ties merged; pieces without a tempo mark are read at
``DEFAULT_BPM``). The split is fixed by piece: a hash of the piece's corpus path puts 10 % in
validation and 10 % in test, whatever the machine. Augmentation happens when batches are drawn:
transposition (-5..+6 semitones, notes that leave the piano's range dropped) and tempo stretch
(±5 %), as in the paper.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path, write_text
from engine.models.music_transformer.events import BOS, EOS, PAD, TimedNote, notes_to_events

DEFAULT_BPM = 100.0
CORPORA = ("bach",)  # composers in music21's corpus; ~400 chorales
SPLITS = ("train", "valid", "test")


def split_of(name: str) -> str:
    bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10
    return "valid" if bucket == 0 else "test" if bucket == 1 else "train"


def piece_notes(path: str | Path) -> list[TimedNote]:
    """A corpus piece as notes in seconds (music21 parses MusicXML, kern, abc …)."""
    import music21

    stream = music21.converter.parse(str(path))
    stream = stream.stripTies(inPlace=False)
    marks = stream.flatten().getElementsByClass(music21.tempo.MetronomeMark)
    bpm = marks[0].getQuarterBPM() if len(marks) and marks[0].getQuarterBPM() else DEFAULT_BPM
    seconds_per_quarter = 60.0 / bpm
    out = []
    for element in stream.flatten().notes:
        start = float(element.offset) * seconds_per_quarter
        end = start + max(float(element.duration.quarterLength), 0.125) * seconds_per_quarter
        velocity = element.volume.velocity or 80
        pitches = element.pitches if hasattr(element, "pitches") else [element.pitch]
        for p in pitches:
            if 0 <= p.midi <= 127:
                out.append(TimedNote(start, end, int(p.midi), int(velocity)))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def corpus_paths(corpora: tuple[str, ...] = CORPORA) -> list[Path]:
    from music21 import corpus

    paths = []
    for composer in corpora:
        paths += [p for p in corpus.getComposer(composer) if p.suffix in (".mxl", ".xml", ".krn", ".musicxml")]
    return sorted(paths)


def build_dataset(out_dir: str | Path, corpora: tuple[str, ...] = CORPORA, limit: int | None = None,
                  progress: Callable[[float, str], None] | None = None) -> dict:
    """Parse the corpus into ``out_dir/{train,valid,test}.npz`` (notes per piece) + ``info.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = corpus_paths(corpora)[:limit]
    pieces: dict[str, list[tuple[str, np.ndarray]]] = {s: [] for s in SPLITS}
    failed = []
    for i, path in enumerate(paths):
        name = "/".join(path.parts[-2:])
        try:
            notes = piece_notes(path)
        except Exception as exc:  # noqa: BLE001 - a piece music21 cannot read is skipped, and listed
            failed.append(f"{name}: {exc}")
            continue
        if len(notes) >= 8:
            array = np.array([(n.start, n.end, n.pitch, n.velocity) for n in notes], np.float32)
            pieces[split_of(name)].append((name, array))
        if progress:
            progress((i + 1) / len(paths), name)
    info = {"corpora": list(corpora), "default_bpm": DEFAULT_BPM, "failed": failed,
            "split": "sha1(corpus path) % 10: 0 valid, 1 test, else train"}
    for split, items in pieces.items():
        with atomic_path(out / f"{split}.npz") as tmp, open(tmp, "wb") as f:  # a file object: no .npz added
            np.savez_compressed(f, **{f"p{i}": a for i, (_, a) in enumerate(items)})
        info[split] = {"pieces": len(items), "names": [n for n, _ in items],
                       "notes": int(sum(len(a) for _, a in items)),
                       "tokens": int(sum(len(tokens_of(a)) for _, a in items))}
    write_text(out / "info.json", json.dumps(info, indent=1))  # last: its presence means the dataset is whole
    return info


def load_split(data_dir: str | Path, split: str) -> list[np.ndarray]:
    with np.load(Path(data_dir) / f"{split}.npz") as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]


def tokens_of(array: np.ndarray, transpose: int = 0, stretch: float = 1.0) -> list[int]:
    """BOS + events of a piece (augmented) + EOS."""
    notes = [TimedNote(float(s) * stretch, float(e) * stretch, int(p) + transpose, int(v))
             for s, e, p, v in array if 21 <= int(p) + transpose <= 108 or transpose == 0]
    return [BOS] + notes_to_events(notes) + [EOS]


class Batches:
    """Random training windows of ``length + 1`` tokens (inputs and shifted targets)."""

    def __init__(self, pieces: list[np.ndarray], length: int, augment: bool = True, seed: int = 0) -> None:
        self.pieces, self.length, self.augment = pieces, length, augment
        self.rng = random.Random(seed)

    def sample(self, batch: int) -> np.ndarray:
        out = np.full((batch, self.length + 1), PAD, np.int64)
        for b in range(batch):
            piece = self.rng.choice(self.pieces)
            transpose = self.rng.randint(-5, 6) if self.augment else 0
            stretch = self.rng.choice([0.95, 0.975, 1.0, 1.025, 1.05]) if self.augment else 1.0
            tokens = tokens_of(piece, transpose, stretch)
            start = self.rng.randint(0, max(0, len(tokens) - self.length - 1))
            window = tokens[start:start + self.length + 1]
            out[b, :len(window)] = window
        return out


def evaluation_windows(pieces: list[np.ndarray], length: int) -> list[np.ndarray]:
    """Every piece cut into consecutive windows (no augmentation): the NLL covers every token."""
    windows = []
    for piece in pieces:
        tokens = tokens_of(piece)
        for start in range(0, max(1, len(tokens) - 1), length):
            w = tokens[start:start + length + 1]
            if len(w) > 1:
                windows.append(np.array(w + [PAD] * (length + 1 - len(w)), np.int64))
    return windows
