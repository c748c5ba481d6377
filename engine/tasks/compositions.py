"""Composed pieces kept across restarts: ``<data>/compositions/<id>.mid`` with a JSON sidecar
holding the prompt, the controls, the seed, the variation and the sampler's settings, so the
Compose results list them again and any piece can be made again.

Each piece is written whole or not at all (atomic writes, the sidecar last: a .mid without its
sidecar is never listed, nor left behind by a failure). The folder is data from anyone: a
sidecar that cannot be read, names a piece by anything but its own id, has a value the composer
cannot take, or whose .mid is missing, a link or not MIDI is passed over, never followed outside
the folder; only the newest ``MAX_LISTED`` are read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from engine.atomic import WriteError, atomic_path, write_text
from engine.midi.score import Score
from engine.models.composer.controls import Controls, Key

FOLDER = "compositions"  # under the data folder
MAX_LISTED = 200  # pieces read back, newest first
MAX_SIDECAR = 64 * 1024  # bytes: a sidecar larger than this is not one of ours
MAX_MIDI = 4 * 1024 * 1024
_ID = re.compile(r"[0-9a-f]{12}")


class CompositionError(Exception):
    """A piece that cannot be stored or removed; ``str()`` is the line to show."""


@dataclass
class StoredPiece:
    id: str
    prompt: str
    controls: Controls
    seed: int
    variation: int  # 1-based
    variations: int
    created: float
    settings: dict = field(default_factory=dict)  # temperature, top_p
    score: Score | None = None  # filled in by the library
    path: Path | None = None


def controls_dict(c: Controls) -> dict:
    return {"style": c.style, "tonic": c.key.tonic, "mode": c.key.mode, "meter": list(c.meter), "bpm": c.bpm,
            "bars": c.bars, "program": c.program, "voices": c.voices}


def controls_from(data: dict) -> Controls:
    """Controls from a sidecar's dict; ValueError or TypeError for anything else."""
    if not isinstance(data, dict):
        raise TypeError("not a dict")
    meter = data["meter"]
    if not (isinstance(meter, list) and len(meter) == 2 and all(type(x) is int for x in meter)):
        raise ValueError("meter")
    for name in ("tonic", "bars", "program"):
        if type(data[name]) is not int:
            raise ValueError(name)
    voices = data.get("voices")
    if voices is not None and type(voices) is not int:
        raise ValueError("voices")
    bpm = data["bpm"]
    if type(bpm) not in (int, float):
        raise ValueError("bpm")
    if not isinstance(data["style"], str) or not isinstance(data["mode"], str):
        raise ValueError("style")
    return Controls(data["style"], Key(data["tonic"], data["mode"]), (meter[0], meter[1]), float(bpm),
                    data["bars"], data["program"], voices)


class CompositionLibrary:
    def __init__(self, root: Path | str | None = None) -> None:
        if root is None:
            from engine.audio.takes import data_dir

            root = data_dir() / FOLDER
        self.root = Path(root)

    def add(self, score: Score, prompt: str, controls: Controls, seed: int, variation: int = 1,
            variations: int = 1, settings: dict | None = None) -> StoredPiece:
        """Store one piece (its .mid, then its sidecar); CompositionError when it cannot be."""
        from engine.midi.midifile import score_to_midi

        piece = StoredPiece(uuid.uuid4().hex[:12], prompt, controls, int(seed), int(variation), int(variations),
                            time.time(), dict(settings or {}))
        path = self.root / f"{piece.id}.mid"
        written = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            mid = score_to_midi(score)
            with atomic_path(path, replace=False) as tmp, open(tmp, "wb") as f:
                mid.save(file=f)
            written = True
            write_text(self.root / f"{piece.id}.json", json.dumps(self._meta(piece), indent=1), replace=False)
        except BaseException as exc:  # a full disk, or Ctrl+C: no .mid left without its sidecar
            if written:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if not isinstance(exc, OSError):
                raise
            reason = str(exc) if isinstance(exc, WriteError) else exc.strerror or str(exc)
            raise CompositionError(f"could not keep the piece in {self.root}: {reason}") from exc
        piece.score, piece.path = score, path
        return piece

    @staticmethod
    def _meta(p: StoredPiece) -> dict:
        return {"id": p.id, "prompt": p.prompt, "controls": controls_dict(p.controls), "seed": p.seed,
                "variation": p.variation, "variations": p.variations, "created": p.created, "settings": p.settings}

    def list(self, skip: set[str] | frozenset[str] = frozenset()) -> list[StoredPiece]:
        """The stored pieces, newest first (at most MAX_LISTED), each with its Score; anything
        that is not a piece of ours, whole, is passed over, and so are the ids in ``skip`` (shown
        already: not read again)."""
        entries = []
        try:
            with os.scandir(self.root) as it:
                for entry in it:
                    stem, dot, suffix = entry.name.rpartition(".")
                    if dot and suffix == "json" and _ID.fullmatch(stem) and stem not in skip:
                        with contextlib.suppress(OSError):
                            info = entry.stat(follow_symlinks=False)
                            if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SIDECAR:
                                entries.append((info.st_mtime, stem))
        except OSError:
            return []
        pieces = []
        for _, stem in sorted(entries, reverse=True):
            piece = self._read(stem)
            if piece is not None:
                pieces.append(piece)
        pieces.sort(key=lambda p: -p.created)
        return pieces[:MAX_LISTED]

    def _read(self, piece_id: str) -> StoredPiece | None:
        from engine.midi.midifile import read_midi

        try:
            data = json.loads(_read_regular(self.root / f"{piece_id}.json", MAX_SIDECAR).decode("utf-8"))
            if not isinstance(data, dict) or data.get("id") != piece_id:
                return None
            prompt, seed, variation, variations = (data["prompt"], data["seed"], data["variation"],
                                                   data["variations"])
            created, settings = data.get("created", 0.0), data.get("settings", {})
            if not (isinstance(prompt, str) and all(type(v) is int for v in (seed, variation, variations))
                    and 1 <= variation <= variations and seed >= 0 and type(created) in (int, float)
                    and isinstance(settings, dict)):
                return None
            controls = controls_from(data["controls"])
            path = self.root / f"{piece_id}.mid"
            _read_regular(path, MAX_MIDI, check_only=True)
            score = read_midi(path)
        except Exception:  # noqa: BLE001 - whatever is wrong with it, it is not listed
            return None
        return StoredPiece(piece_id, prompt, controls, seed, variation, variations, float(created),
                           {str(k): v for k, v in settings.items() if isinstance(v, (int, float, str))},
                           score, path)

    def delete(self, piece_id: str) -> None:
        """Remove a piece: the sidecar first, so a failure never leaves a listed piece without its .mid."""
        if not _ID.fullmatch(piece_id):
            raise CompositionError(f"there is no kept piece {piece_id!r}")
        for suffix in (".json", ".mid"):
            try:
                (self.root / f"{piece_id}{suffix}").unlink(missing_ok=True)
            except OSError as exc:
                raise CompositionError(f"could not delete the piece: {exc.strerror or exc}") from exc


def _read_regular(path: Path, limit: int, check_only: bool = False) -> bytes:
    """The bytes of ``path``, a regular file (never a link) of at most ``limit`` bytes; OSError or
    ValueError otherwise."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ValueError(f"{path.name} is not a piece")
        if check_only:
            return b""
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)
