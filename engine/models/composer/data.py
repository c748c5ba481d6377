"""The composer's training data: music21's bundled corpus, labelled, built by a command (nothing
of it is committed).

Collections and their styles: Ryan's Mammoth and O'Neill's 1850 (each tune's ``R:`` field or
title: reel, jig, slip jig, hornpipe, strathspey; O'Neill's tunes without one are airs), Aird's
airs, the Essen folk songs (German and other European songs: "folk song"; the han collections:
"chinese folk song"), Bach's chorales, Palestrina ("renaissance"). Per piece: its notes in bars
(ties merged, the pickup bar placed at the end of a full bar), meter (pieces that change meter,
or whose meter the vocabulary lacks, are left out), tempo (a metronome mark, else the style's
usual), key (Krumhansl–Schmuckler on the notes), voices (parts, else the most notes sounding at
once), density and register. The split is fixed by piece: sha1 of its name % 10 → 0 validation,
1 test, else train.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path, write_text
from engine.models.composer.controls import (
    DENSITY_BOUNDS,
    MAX_VOICES,
    METERS,
    REGISTER_BOUNDS,
    STYLES,
    Controls,
    Key,
    bucket,
)
from engine.models.composer.keys import estimate_key
from engine.models.composer.tokens import HIGH_PITCH, LOW_PITCH, TPQ, BarNote, bar_ticks

SPLITS = ("train", "valid", "test")
TUNE_WORDS = (("slip jig", "slip jig"), ("slipjig", "slip jig"), ("double jig", "jig"), ("jig", "jig"),
              ("slide", "jig"), ("reel", "reel"), ("hornpipe", "hornpipe"), ("clog", "hornpipe"),
              ("strathspey", "strathspey"), ("fling", "strathspey"), ("air", "air"))
MAX_PIECE_BARS = 400
# Parsing is the slow part (music21: ~0.1 s a tune, ~0.5 s a Palestrina movement, 2 cores): these
# keep the build near ten minutes and the styles nearer balance. German folk songs: these files
# (about 3,000 songs); Palestrina: every third movement (about 440, many are near-repeats).
ESSEN_FILES = ("altdeu10", "altdeu20", "ballad10", "ballad20", "boehme10", "erk5", "erk10", "fink0", "kinder0",
               "irl", "han1", "han2")
PALESTRINA_EVERY = 3


def split_of(name: str) -> str:
    bucket_ = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10
    return "valid" if bucket_ == 0 else "test" if bucket_ == 1 else "train"


def tune_style(rhythm: str, title: str, default: str | None) -> str | None:
    """A fiddle tune's style from its abc ``R:`` field, else its title; ``default`` otherwise."""
    for text in (rhythm.lower(), title.lower()):
        for word, style in TUNE_WORDS:
            if re.search(rf"\b{word}s?\b", text):
                return style
    return default


def abc_fields(text: str) -> dict[int, tuple[str, str]]:
    """Each tune's (R:, first T:) by its X: number."""
    out = {}
    for block in re.split(r"(?m)^X:", text)[1:]:
        number = re.match(r"\s*(\d+)", block)
        if number:
            rhythm = re.search(r"(?m)^R:\s*(.*)$", block)
            title = re.search(r"(?m)^T:\s*(.*)$", block)
            out[int(number.group(1))] = (rhythm.group(1) if rhythm else "", title.group(1) if title else "")
    return out


def corpus_files() -> list[tuple[str, str | None]]:
    """(corpus path, the style of every piece in it, or None: per tune) for every file used."""
    from music21 import corpus

    files = []
    for path in corpus.corpora.CoreCorpus().getPaths():
        path = str(path)
        folder, name = path.split("/corpus/")[-1].split("/")[0], Path(path).name
        if folder in ("ryansMammoth", "oneills1850", "airdsAirs"):
            files.append((path, None))
        elif folder == "essenFolksong" and Path(name).stem in ESSEN_FILES:
            files.append((path, "chinese folk song" if name.startswith("han") else "folk song"))
        elif folder == "bach" and path.endswith((".mxl", ".xml")):
            files.append((path, "chorale"))
        elif folder == "palestrina":
            files.append((path, "renaissance"))
    palestrina = [f for f in sorted(files) if f[1] == "renaissance"][::PALESTRINA_EVERY]
    return sorted([f for f in files if f[1] != "renaissance"] + palestrina)


def piece_of(score, name: str, style: str) -> dict | None:
    """One music21 score as a piece (see the module's docstring), or None when it is left out."""
    import music21

    signatures = list(score.recurse().getElementsByClass(music21.meter.TimeSignature))
    meters = {(t.numerator, t.denominator) for t in signatures}
    if len(meters) != 1 or next(iter(meters)) not in METERS:
        return None
    meter = meters.pop()
    length = bar_ticks(meter)
    score = score.stripTies()
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass(music21.stream.Measure))
    if not 2 <= len(measures) <= MAX_PIECE_BARS:
        return None
    starts = [round(float(m.offset) * TPQ) for m in measures]
    starts[0] -= round(float(measures[0].paddingLeft) * TPQ)
    notes = []
    for part in parts:
        for element in part.flatten().notes:
            if element.duration.isGrace or element.duration.quarterLength <= 0:
                continue
            start = round(float(element.offset) * TPQ)
            bar = bisect.bisect_right(starts, start) - 1
            position = start - starts[bar] if bar >= 0 else -1
            if not 0 <= position < length:
                return None  # a measure longer than its meter: the data is not what it says
            duration = max(1, round(float(element.duration.quarterLength) * TPQ))
            notes += [(bar, position, p.midi, duration) for p in element.pitches if LOW_PITCH <= p.midi <= HIGH_PITCH]
    if len(notes) < 8:
        return None
    notes = sorted(set(notes))
    marks = score.flatten().getElementsByClass(music21.tempo.MetronomeMark)
    bpm = marks[0].getQuarterBPM() if len(marks) and marks[0].getQuarterBPM() else STYLES[style][1]
    return {"name": name, "style": style, "meter": list(meter), "bpm": float(bpm), "bars": len(measures),
            "voices": len(parts) if len(parts) > 1 else None, "notes": notes}


def describe(notes: list[BarNote] | np.ndarray, meter: tuple[int, int], bars: int) -> dict:
    """What the notes themselves say: key, voices (most sounding at once), density (onsets per
    quarter) and register (median pitch) — for training labels and for Continue's prompt."""
    array = np.asarray([(n.bar, n.position, n.pitch, n.duration) for n in notes] if isinstance(notes, list)
                       else notes, dtype=np.int64).reshape(-1, 4)
    length = bar_ticks(meter)
    starts = array[:, 0] * length + array[:, 1]
    events = sorted([(s, 1) for s in starts] + [(s + d, -1) for s, d in zip(starts, array[:, 3])])
    sounding = most = 0
    for _, change in events:
        sounding += change
        most = max(most, sounding)
    onsets = len(set(starts.tolist()))
    quarters = max(bars * length / TPQ, 1)
    return {"key": estimate_key(array[:, 2], array[:, 3]) if len(array) else Key(0, "major"),
            "voices": max(1, min(MAX_VOICES, most)),
            "density": bucket(onsets / quarters, DENSITY_BOUNDS),
            "register": bucket(float(np.median(array[:, 2])) if len(array) else 60, REGISTER_BOUNDS)}


def _parse_file(item: tuple[str, str | None]) -> tuple[list[dict], list[str]]:
    import music21

    path, style = item
    short = "/".join(Path(path).parts[-2:])
    try:
        parsed = music21.converter.parse(path)
    except Exception as exc:  # noqa: BLE001 - a file music21 cannot read is listed, not fatal
        return [], [f"{short}: {exc}"]
    fields = abc_fields(Path(path).read_text(encoding="latin-1")) if path.endswith(".abc") else {}
    scores = list(parsed.scores) if isinstance(parsed, music21.stream.Opus) else [parsed]
    pieces, failed = [], []
    for score in scores:
        number = score.metadata.number if score.metadata is not None else None
        rhythm, title = fields.get(int(number), ("", "")) if str(number or "").isdigit() else ("", "")
        if not title and score.metadata is not None:
            title = score.metadata.title or ""
        tune = style or tune_style(rhythm, title, "air")
        name = f"{short}#{number}" if len(scores) > 1 else short
        try:
            piece = piece_of(score, name, tune)
        except Exception as exc:  # noqa: BLE001
            failed.append(f"{name}: {exc}")
            continue
        if piece is not None:
            pieces.append(piece)
    return pieces, failed


def build_dataset(out_dir: str | Path, limit: int | None = None, processes: int = 2,
                  progress: Callable[[float, str], None] | None = None) -> dict:
    """Parse the corpus into ``out_dir/pieces.json`` (every piece, labelled, with its split) and
    ``info.json`` (counts; written last: its presence means the dataset is whole)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = corpus_files()[:limit]
    pieces, failed = [], []
    with get_context("spawn").Pool(processes) as pool:
        for i, (found, errors) in enumerate(pool.imap_unordered(_parse_file, files, chunksize=4)):
            pieces += found
            failed += errors
            if progress:
                progress((i + 1) / len(files), f"{len(pieces)} pieces")
    for piece in pieces:
        piece["split"] = split_of(piece["name"])
        notes = [BarNote(*n) for n in piece["notes"]]
        facts = describe(notes, tuple(piece["meter"]), piece["bars"])
        piece["key"] = [facts["key"].tonic, facts["key"].mode]
        piece["voices"] = piece["voices"] or facts["voices"]
        piece["density"], piece["register"] = facts["density"], facts["register"]
    pieces.sort(key=lambda p: p["name"])
    with atomic_path(out / "pieces.json") as tmp:
        Path(tmp).write_text(json.dumps(pieces))
    info = {"failed": failed, "split": "sha1(piece name) % 10: 0 valid, 1 test, else train"}
    for split in SPLITS:
        chosen = [p for p in pieces if p["split"] == split]
        info[split] = {"pieces": len(chosen), "notes": sum(len(p["notes"]) for p in chosen),
                       "styles": {s: sum(p["style"] == s for p in chosen) for s in STYLES}}
    write_text(out / "info.json", json.dumps(info, indent=1))
    return info


def controls_of(piece: dict, transpose: int = 0) -> Controls:
    """A training piece's controls (its key moved with the transposition)."""
    return Controls(piece["style"], Key(*piece["key"]).transposed(transpose), tuple(piece["meter"]),
                    min(max(piece["bpm"], 20.0), 400.0), min(piece["bars"], 64), STYLES[piece["style"]][2],
                    min(piece["voices"], MAX_VOICES), piece["density"], piece["register"])


def load_pieces(data_dir: str | Path, split: str) -> list[dict]:
    pieces = json.loads((Path(data_dir) / "pieces.json").read_text())
    return [p for p in pieces if p["split"] == split]
