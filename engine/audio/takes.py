"""The take library: recorded takes on disk, and the recovery folder for takes in progress.

Layout under the data folder (``$MOTET_DATA_DIR`` or the platform's user data folder):
    takes/<id>.wav + <id>.json      finished takes (metadata: name, created, duration, ...)
    recovery/<id>.wav + <id>.json   takes being recorded; left behind only by a crash
A take is streamed into recovery/ while it is captured and moved to takes/ when it stops, so a
crash leaves it where the next start finds it and offers to recover it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import struct
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile as sf

from engine.atomic import write_text
from engine.audio.files import AudioFileError


def data_dir() -> Path:
    """Where Motet keeps takes and recovery files."""
    env = os.environ.get("MOTET_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("Motet", appauthor=False))


@dataclass
class Take:
    id: str
    name: str
    created: str  # ISO 8601, local time with offset
    duration: float  # seconds
    sample_rate: int
    channels: int
    device: str = ""
    path: str = ""  # the audio file; not stored in the JSON

    @property
    def created_dt(self) -> _dt.datetime:
        return _dt.datetime.fromisoformat(self.created)


def new_take_id() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _write_json_atomic(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=1))


def repair_wav_header(path: Path) -> int:
    """Fix the RIFF and data sizes of a WAV whose writer was killed; returns whole frames held.

    The writer's header says 0 (or a stale size) until the file is closed; after a crash the
    samples are all on disk, so the sizes are recomputed from the file length.
    """
    size = path.stat().st_size
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioFileError(f"{path.name}: not a WAV file, cannot recover it")
        pos, block_align = 12, None
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"fmt ":
                fmt = f.read(16)
                block_align = struct.unpack("<H", fmt[12:14])[0]
            if chunk_id == b"data":
                if not block_align:
                    raise AudioFileError(f"{path.name}: WAV data before its format, cannot recover")
                data_bytes = (size - pos - 8) // block_align * block_align
                f.seek(pos + 4)
                f.write(struct.pack("<I", data_bytes))
                f.seek(4)
                f.write(struct.pack("<I", pos + 8 + data_bytes - 8))
                f.truncate(pos + 8 + data_bytes)
                return data_bytes // block_align
            pos += 8 + chunk_size + (chunk_size & 1)
    raise AudioFileError(f"{path.name}: no audio data found, nothing to recover")


class TakeLibrary:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.takes_dir = self.root / "takes"
        self.recovery_dir = self.root / "recovery"
        self.takes_dir.mkdir(parents=True, exist_ok=True)
        self.recovery_dir.mkdir(parents=True, exist_ok=True)

    # -- recording ---------------------------------------------------------------------------
    def begin(self, sample_rate: int, channels: int, device: str = "", name: str | None = None) -> Take:
        """Reserve a take in the recovery folder (its metadata is written before any audio)."""
        tid = new_take_id()
        now = _dt.datetime.now().astimezone()
        take = Take(
            id=tid, name=name or now.strftime("Take %Y-%m-%d %H:%M:%S"), created=now.isoformat(timespec="seconds"),
            duration=0.0, sample_rate=int(sample_rate), channels=int(channels), device=device,
            path=str(self.recovery_dir / f"{tid}.wav"),
        )
        self._save_meta(self.recovery_dir, take)
        return take

    def commit(self, take: Take, duration: float) -> Take:
        """Move a cleanly finished recording from recovery/ into the library."""
        take.duration = duration
        src = Path(take.path)
        dst = self.takes_dir / src.name
        os.replace(src, dst)
        transcript = transcript_path(src)
        if transcript.exists():  # the live transcript saved while recording goes with it
            os.replace(transcript, transcript_path(dst))
        take.path = str(dst)
        self._save_meta(self.takes_dir, take)
        (self.recovery_dir / f"{take.id}.json").unlink(missing_ok=True)
        return take

    # -- recovery ----------------------------------------------------------------------------
    def pending_recoveries(self) -> list[Take]:
        """Takes a crash left in the recovery folder."""
        found = []
        for wav in sorted(self.recovery_dir.glob("*.wav")):
            meta = self._load_meta(self.recovery_dir / f"{wav.stem}.json")
            if meta is None:
                meta = Take(id=wav.stem, name=f"Recovered {wav.stem}", created=_dt.datetime.fromtimestamp(
                    wav.stat().st_mtime).astimezone().isoformat(timespec="seconds"), duration=0.0,
                    sample_rate=0, channels=0)
            meta.path = str(wav)
            found.append(meta)
        return found

    def recover(self, take: Take) -> Take:
        """Repair the crashed file's header and move it into the library."""
        path = Path(take.path)
        frames = repair_wav_header(path)
        info = sf.info(str(path))
        take.sample_rate, take.channels = info.samplerate, info.channels
        if not take.name.startswith("Recovered"):
            take.name = f"{take.name} (recovered)"
        return self.commit(take, frames / info.samplerate)

    def discard_recovery(self, take: Take) -> None:
        Path(take.path).unlink(missing_ok=True)
        (self.recovery_dir / f"{take.id}.json").unlink(missing_ok=True)

    # -- the library -------------------------------------------------------------------------
    def list(self) -> list[Take]:
        """Finished takes, newest first."""
        takes = []
        for meta_path in self.takes_dir.glob("*.json"):
            if meta_path.name.endswith(".transcript.json"):
                continue
            take = self._load_meta(meta_path)
            wav = self.takes_dir / f"{meta_path.stem}.wav"
            if take is not None and wav.exists():
                take.path = str(wav)
                takes.append(take)
        return sorted(takes, key=lambda t: t.created, reverse=True)

    def get(self, take_id: str) -> Take:
        take = self._load_meta(self.takes_dir / f"{take_id}.json")
        if take is None:
            raise KeyError(take_id)
        take.path = str(self.takes_dir / f"{take_id}.wav")
        return take

    def rename(self, take_id: str, name: str) -> Take:
        name = name.strip()
        if not name:
            raise ValueError("a take needs a name")
        take = self.get(take_id)
        take.name = name
        self._save_meta(self.takes_dir, take)
        return take

    def delete(self, take_id: str) -> None:
        (self.takes_dir / f"{take_id}.wav").unlink(missing_ok=True)
        (self.takes_dir / f"{take_id}.json").unlink(missing_ok=True)
        transcript_path(self.takes_dir / f"{take_id}.wav").unlink(missing_ok=True)

    # -- transcripts stored with takes ----------------------------------------------------------
    def save_transcript(self, take_id: str, result) -> Path:
        """Store a take's transcript beside it (JSON, atomic); a leftover from recovery/ goes."""
        from engine.transcript import write_transcript

        path = write_transcript(result, transcript_path(self.takes_dir / f"{take_id}.wav"), "json")
        transcript_path(self.recovery_dir / f"{take_id}.wav").unlink(missing_ok=True)
        return path

    def load_transcript(self, take_id: str):
        """The take's stored transcript (a TranscriptionResult), or None if it has none.
        Raises ValueError when the file is there but unreadable."""
        from engine.models.whisper.transcribe import TranscriptionResult

        path = transcript_path(self.takes_dir / f"{take_id}.wav")
        if not path.exists():
            return None
        try:
            return TranscriptionResult.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"the transcript of this take could not be read: {exc}") from exc

    def export(self, take_id: str, dest: Path | str, fmt: str | None = None, subtype: str | None = None) -> Path:
        """Copy a take out as WAV or FLAC (by ``fmt`` or the suffix), streamed block by block.

        Written to a temporary file beside ``dest`` and renamed, so a failure (full disk) leaves
        no half-written export and never touches the take.
        """
        take = self.get(take_id)
        dest = Path(dest)
        fmt = (fmt or dest.suffix.lstrip(".") or "wav").upper()
        if fmt not in ("WAV", "FLAC"):
            raise AudioFileError(f"cannot export as {fmt}: choose WAV or FLAC")
        subtype = subtype or ("PCM_24" if fmt == "FLAC" else "PCM_16")
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            with sf.SoundFile(take.path) as src, sf.SoundFile(
                str(tmp), "w", src.samplerate, src.channels, subtype=subtype, format=fmt
            ) as out:
                for block in src.blocks(blocksize=65536, dtype="float32", always_2d=True):
                    out.write(block)
            os.replace(tmp, dest)
        except Exception as exc:  # noqa: BLE001
            tmp.unlink(missing_ok=True)
            raise AudioFileError(f"could not export '{take.name}' to {dest}: {exc}") from exc
        return dest

    # -- metadata ----------------------------------------------------------------------------
    @staticmethod
    def _save_meta(folder: Path, take: Take) -> None:
        data = asdict(take)
        data.pop("path")
        _write_json_atomic(folder / f"{take.id}.json", data)

    @staticmethod
    def _load_meta(path: Path) -> Take | None:
        try:
            data = json.loads(path.read_text())
            fields = {k: data[k] for k in Take.__dataclass_fields__ if k in data and k != "path"}
            return Take(**fields)
        except (OSError, ValueError, TypeError):
            return None


def transcript_path(audio: Path | str) -> Path:
    """Where a take's transcript lives: beside its audio, ``<id>.transcript.json``."""
    audio = Path(audio)
    return audio.with_name(f"{audio.stem}.transcript.json")


def safe_filename(name: str) -> str:
    """A take name turned into something every file system accepts."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned or "take"


__all__ = ["Take", "TakeLibrary", "data_dir", "repair_wav_header", "safe_filename"]
