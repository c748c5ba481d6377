"""The take library: recorded takes on disk, and the recovery folder for takes in progress.

Layout under the data folder (``$MOTET_DATA_DIR`` or the platform's user data folder):
    takes/<id>.wav + <id>.json      finished takes (metadata: name, created, duration, ...)
    takes/<id>.transcript.json      a take's transcript (live, or made again; edited lines saved)
    takes/<id>.transcript.prev.json the transcript before its last change (one step of Undo)
    recovery/<id>.wav + <id>.json   takes being recorded; left behind only by a crash
    recovery/<id>.lock              held by the process recording that take
    .lock                           the library lock
A take is streamed into recovery/ while it is captured and moved to takes/ when it stops, so a
crash leaves it where the next start finds it and offers to recover it.

The GUI and the CLI may use one library at once (DESIGN.md §8). Two advisory locks keep them
apart: the recorder holds its take's lock file for as long as it records, so a take whose lock is
held is live, never "left by a crash"; and every change that moves or removes files (begin,
commit, recover, discard, rename, delete) holds the library lock, so two processes never move the
same files. The system drops a dead process's locks, so a crash never leaves a take locked.
On Linux and macOS these are ``flock`` locks; on Windows, ``msvcrt.locking`` on the lock file's
first byte (the same behaviour: another process, or another handle, cannot take it).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import re
import struct
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import soundfile as sf

from engine.atomic import WriteError, describe_write_error, write_error_reason, write_text
from engine.audio.files import AudioFileError
from engine.transcript import TranscriptionResult

MAX_NAME_CHARS = 200  # a take's name: a label, not a document


class TakeError(RuntimeError):
    """A take could not be filed, recovered or touched; ``str()`` is the one line to show."""


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


def check_name(name: str) -> str:
    """A take name as stored: stripped, not blank, at most ``MAX_NAME_CHARS``."""
    name = name.strip()
    if not name:
        raise ValueError("a take needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a take's name can have at most {MAX_NAME_CHARS} characters, not {len(name)}")
    return name


if os.name == "nt":  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


class FileLock:
    """An advisory, cross-process lock on ``path``, held until ``release()`` or the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, timeout: float = 0.0, create: bool = True) -> bool:
        """Take it, waiting up to ``timeout`` seconds; False if another holder keeps it.

        Without ``create`` a missing lock file counts as free (nobody records that take). Where
        the folder is read-only nobody can change the library, so there is nothing to lock.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if create else 0), 0o666)
        except FileNotFoundError:
            if create:
                raise
            return True
        except OSError as exc:
            if exc.errno in _READ_ONLY:
                return True
            raise
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(0.05)
        self._fd = fd
        return True

    def release(self, unlink: bool = False) -> None:
        """Let go; ``unlink`` removes the file first (the caller holds the library lock)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if unlink:
            with contextlib.suppress(OSError):  # Windows cannot remove an open file: it stays, unlocked
                self.path.unlink()
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def held_elsewhere(self) -> bool:
        """Whether someone else holds it now (a missing lock file: nobody)."""
        probe = FileLock(self.path)
        if probe.acquire(create=False):
            probe.release()
            return False
        return True


class _RootLock:
    """This process's share of one library's lock: threads queue on an RLock, and the file lock
    is taken once however deeply one thread nests (recover calls commit)."""

    def __init__(self, path: Path) -> None:
        self.threads = threading.RLock()
        self.file = FileLock(path)
        self.depth = 0


_root_locks: dict[str, _RootLock] = {}
_root_locks_guard = threading.Lock()


def _reason(exc: BaseException, folder: Path) -> str:
    """The cause of a failed write, in words (as ``engine.atomic`` names it)."""
    return write_error_reason(folder / "x", exc)


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
    lock_timeout = 30.0  # seconds to wait for another process's short change before saying "busy"

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir()
        self.takes_dir = self.root / "takes"
        self.recovery_dir = self.root / "recovery"
        self._recording: dict[str, FileLock] = {}  # take locks this library holds
        for folder in (self.takes_dir, self.recovery_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TakeError(f"cannot use the take library in {self.root}: {_reason(exc, folder)}") from exc

    @contextlib.contextmanager
    def locked(self):
        """Hold the library lock: no other process (or thread) changes the library meanwhile."""
        key = os.path.realpath(self.root)
        with _root_locks_guard:
            lock = _root_locks.setdefault(key, _RootLock(self.root / ".lock"))
        with lock.threads:
            if lock.depth == 0:
                try:
                    acquired = lock.file.acquire(self.lock_timeout)
                except OSError as exc:
                    raise TakeError(f"cannot lock the take library in {self.root}: {_reason(exc, self.root)}") from exc
                if not acquired:
                    raise TakeError(f"the take library in {self.root} is busy: another Motet program has held it "
                                    f"for {self.lock_timeout:g} s; try again")
            lock.depth += 1
            try:
                yield
            finally:
                lock.depth -= 1
                if lock.depth == 0:
                    lock.file.release()

    def _take_lock(self, take_id: str) -> FileLock:
        return FileLock(self.recovery_dir / f"{take_id}.lock")

    def _release_take(self, take_id: str) -> None:
        lock = self._recording.pop(take_id, None)
        if lock is not None:
            lock.release(unlink=True)

    # -- recording ---------------------------------------------------------------------------
    def begin(self, sample_rate: int, channels: int, device: str = "", name: str | None = None) -> Take:
        """Reserve a take in the recovery folder and hold its lock until commit or discard (its
        metadata is written before any audio). Raises WriteError naming the file and cause."""
        tid = new_take_id()
        now = _dt.datetime.now().astimezone()
        take = Take(
            id=tid, name=name or now.strftime("Take %Y-%m-%d %H:%M:%S"), created=now.isoformat(timespec="seconds"),
            duration=0.0, sample_rate=int(sample_rate), channels=int(channels), device=device,
            path=str(self.recovery_dir / f"{tid}.wav"),
        )
        with self.locked():
            lock = self._take_lock(tid)
            try:
                lock.acquire()
            except OSError as exc:
                raise WriteError(exc.errno, describe_write_error(Path(take.path), exc)) from exc
            self._recording[tid] = lock
            try:
                self._save_meta(self.recovery_dir, take)
            except BaseException:
                self._release_take(tid)
                raise
        return take

    def commit(self, take: Take, duration: float) -> Take:
        """Move a finished recording from recovery/ into the library, never half of it.

        The library's metadata is written first: until the audio itself moves (a rename, which
        needs no room on the disk) the take is whole in recovery/. If that write fails (a full
        disk) the take stays there, unlocked, for recovery, and TakeError says so.
        """
        with self.locked():
            src = Path(take.path)
            if not src.exists():
                self._release_take(take.id)
                raise TakeError(f"the recording of '{take.name}' is gone from {src.parent}: "
                                "it was moved or deleted while it was being recorded")
            dst = self.takes_dir / src.name
            try:
                self._save_meta(self.takes_dir, replace(take, duration=duration))
                os.replace(src, dst)
            except OSError as exc:
                self._release_take(take.id)
                raise TakeError(f"'{take.name}' could not be filed in the library ({exc}); its audio "
                                f"({duration:.1f} s) is kept in {self.recovery_dir}: recover it once the "
                                "problem is solved (`motet takes --recover`, or Recover in the app)") from exc
            take.duration = duration
            take.path = str(dst)
            transcript = transcript_path(src)
            if transcript.exists():  # the live transcript saved while recording goes with it
                with contextlib.suppress(OSError):
                    os.replace(transcript, transcript_path(dst))
            (self.recovery_dir / f"{take.id}.json").unlink(missing_ok=True)
            self._release_take(take.id)
        return take

    # -- recovery ----------------------------------------------------------------------------
    def pending_recoveries(self) -> list[Take]:
        """Takes a crash left in the recovery folder (not those some process is recording)."""
        with self.locked():
            return [t for t in self._in_recovery() if not self._take_lock(t.id).held_elsewhere()]

    def in_progress(self) -> list[Take]:
        """Takes being recorded right now, by this process or another."""
        with self.locked():
            return [t for t in self._in_recovery(audio_only=False) if self._take_lock(t.id).held_elsewhere()]

    def _in_recovery(self, audio_only: bool = True) -> list[Take]:
        """Takes in recovery/: those with audio, or (``audio_only`` False) also those just begun."""
        stems = {p.stem for p in self.recovery_dir.glob("*.wav")}
        if not audio_only:
            stems |= {p.stem for p in self.recovery_dir.glob("*.json") if not _is_transcript_file(p)}
        found = []
        for stem in sorted(stems):
            wav = self.recovery_dir / f"{stem}.wav"
            meta = self._load_meta(self.recovery_dir / f"{stem}.json")
            if meta is None:
                try:
                    mtime = wav.stat().st_mtime
                except OSError:
                    continue
                meta = Take(id=wav.stem, name=f"Recovered {wav.stem}", created=_dt.datetime.fromtimestamp(
                    mtime).astimezone().isoformat(timespec="seconds"), duration=0.0, sample_rate=0, channels=0)
            meta.path = str(wav)
            found.append(meta)
        return found

    def _claim(self, take: Take) -> None:
        """Take the lock of a take in recovery/, or say it is being recorded."""
        if take.id in self._recording:
            return
        lock = self._take_lock(take.id)
        if not lock.acquire():
            raise TakeError(f"'{take.name}' is being recorded right now; it is not a take left by a crash")
        self._recording[take.id] = lock

    def recover(self, take: Take) -> Take:
        """Repair the crashed file's header and move it into the library."""
        with self.locked():
            if take.id in self._recording:
                raise TakeError(f"'{take.name}' is being recorded right now; it is not a take left by a crash")
            self._claim(take)
            try:
                path = Path(take.path)
                if not path.exists():
                    raise TakeError(f"'{take.name}' is no longer in {path.parent}: it was recovered or discarded")
                frames = repair_wav_header(path)
                info = sf.info(str(path))
            except BaseException:
                self._release_take(take.id)
                raise
            take.sample_rate, take.channels = info.samplerate, info.channels
            if not take.name.startswith("Recovered"):
                take.name = f"{take.name} (recovered)"
            return self.commit(take, frames / info.samplerate)

    def discard_recovery(self, take: Take) -> None:
        """Delete a take left in recovery/ (or one this library began and will not record)."""
        with self.locked():
            self._claim(take)
            Path(take.path).unlink(missing_ok=True)
            (self.recovery_dir / f"{take.id}.json").unlink(missing_ok=True)
            transcript_path(take.path).unlink(missing_ok=True)
            self._release_take(take.id)

    # -- the library -------------------------------------------------------------------------
    def list(self) -> list[Take]:
        """Finished takes, newest first."""
        takes = []
        for meta_path in self.takes_dir.glob("*.json"):
            if _is_transcript_file(meta_path):
                continue
            take = self._load_meta(meta_path)
            wav = self.takes_dir / f"{meta_path.stem}.wav"
            if take is not None and wav.exists():
                take.path = str(wav)
                takes.append(take)
        return sorted(takes, key=lambda t: t.created, reverse=True)

    def get(self, take_id: str) -> Take:
        """The finished take ``take_id``; KeyError when there is none (an id is a plain name: one
        with a path in it, typed on the command line, never reaches outside takes/)."""
        _check_id(take_id)
        take = self._load_meta(self.takes_dir / f"{take_id}.json")
        if take is None:
            raise KeyError(take_id)
        take.path = str(self.takes_dir / f"{take_id}.wav")
        return take

    def rename(self, take_id: str, name: str) -> Take:
        name = check_name(name)
        with self.locked():
            take = self.get(take_id)
            take.name = name
            self._save_meta(self.takes_dir, take)
        return take

    def delete(self, take_id: str) -> None:
        _check_id(take_id)
        with self.locked():  # the audio goes first: a take is never listed without it
            (self.takes_dir / f"{take_id}.wav").unlink(missing_ok=True)
            (self.takes_dir / f"{take_id}.json").unlink(missing_ok=True)
            transcript_path(self.takes_dir / f"{take_id}.wav").unlink(missing_ok=True)
            previous_transcript_path(self.takes_dir / f"{take_id}.wav").unlink(missing_ok=True)

    # -- transcripts stored with takes ----------------------------------------------------------
    def save_transcript(self, take_id: str, result) -> Path:
        """Store a take's transcript beside it (JSON, atomic); a leftover from recovery/ goes.
        This is the first transcript (the live one): nothing earlier is kept for Undo."""
        from engine.transcript import write_transcript

        with self.locked():
            path = write_transcript(result, transcript_path(self.takes_dir / f"{take_id}.wav"), "json")
            transcript_path(self.recovery_dir / f"{take_id}.wav").unlink(missing_ok=True)
            previous_transcript_path(path.with_name(f"{take_id}.wav")).unlink(missing_ok=True)
        return path

    def replace_transcript(self, take_id: str, result) -> Path:
        """Store ``result`` as the take's transcript, keeping the one it replaces (if any) as
        ``<id>.transcript.prev.json`` for :meth:`undo_transcript`, until the next change.

        Both files are written atomically: a failure (a full disk) raises ``WriteError`` and the
        take keeps its current transcript. Raises KeyError for a take that is not in the library.
        """
        from engine.transcript import render

        with self.locked():
            take = self.get(take_id)
            current = transcript_path(take.path)
            previous = previous_transcript_path(take.path)
            text = render(result, "json")  # before anything is touched: a bad result changes nothing
            try:
                earlier = current.read_text(encoding="utf-8")
                TranscriptionResult.from_dict(json.loads(earlier))
            except (OSError, ValueError, TypeError, AttributeError):  # none yet, or unreadable:
                earlier = None  # replaced, and nothing kept for Undo
            if earlier is not None:
                write_text(previous, earlier)
            else:
                previous.unlink(missing_ok=True)
            write_text(current, text)
        return current

    def has_previous_transcript(self, take_id: str) -> bool:
        """Whether :meth:`undo_transcript` has an earlier transcript to bring back."""
        return previous_transcript_path(self.takes_dir / f"{take_id}.wav").is_file()

    def undo_transcript(self, take_id: str):
        """Bring back the transcript before the last change; the one it replaces becomes the
        earlier one, so a second Undo redoes. Renames only: it needs no room on the disk.
        Returns the transcript now stored. Raises TakeError when there is nothing to undo."""
        with self.locked():
            take = self.get(take_id)
            current, previous = transcript_path(take.path), previous_transcript_path(take.path)
            if not previous.is_file():
                raise TakeError(f"'{take.name}' has no earlier transcript to bring back")
            try:
                TranscriptionResult.from_dict(json.loads(previous.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise TakeError(f"the earlier transcript of '{take.name}' cannot be read ({exc}); "
                                "the current one is kept") from exc
            swap = current.with_name(f".{current.name}.{uuid.uuid4().hex[:8]}.swap")
            try:
                if current.exists():
                    os.replace(current, swap)
                os.replace(previous, current)
                if swap.exists():
                    os.replace(swap, previous)
            except OSError as exc:
                if swap.exists() and not current.exists():
                    with contextlib.suppress(OSError):
                        os.replace(swap, current)
                raise TakeError(f"could not bring back the earlier transcript of '{take.name}': "
                                f"{_reason(exc, current.parent)}") from exc
        return self.load_transcript(take_id)

    def edit_transcript_line(self, take_id: str, index: int, text: str):
        """Line ``index`` of the take's transcript now reads ``text`` (``engine.transcript.
        edit_segment``: its word timings kept when the words are the same, else dropped), saved
        with the take through :meth:`replace_transcript` (so Undo brings the line back). A full
        disk raises ``WriteError`` and the stored text stays as it was. Returns the new result."""
        from engine.transcript import edit_segment

        with self.locked():
            result = self.load_transcript(take_id)
            if result is None:
                raise ValueError("this take has no transcript to edit")
            edited = edit_segment(result, index, text)
            self.replace_transcript(take_id, edited)
        return edited

    def check_audio(self, take_id: str) -> Take:
        """The take, once its audio file is known to open as audio; else TakeError, one line
        (the take itself is left as it is). KeyError for a take that is not in the library."""
        take = self.get(take_id)
        try:
            info = sf.info(str(take.path))
        except FileNotFoundError as exc:
            raise TakeError(f"the audio of '{take.name}' is missing ({take.path})") from exc
        except PermissionError as exc:
            raise TakeError(f"the audio of '{take.name}' cannot be read: no permission to read {take.path}") from exc
        except (OSError, RuntimeError, ValueError) as exc:  # sf.LibsndfileError is a RuntimeError
            first = (str(exc).strip().splitlines() or ["not an audio file"])[0]
            raise TakeError(f"the audio of '{take.name}' cannot be read: {first}") from exc
        if info.frames <= 0 or info.samplerate <= 0:
            raise TakeError(f"the audio of '{take.name}' is empty: there is nothing to transcribe")
        return take

    def load_transcript(self, take_id: str):
        """The take's stored transcript (a TranscriptionResult), or None if it has none.
        Raises ValueError when the file is there but unreadable."""
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


def _check_id(take_id: str) -> None:
    """KeyError unless ``take_id`` is a plain file stem: one typed with a path in it never
    reaches outside takes/."""
    if not isinstance(take_id, str) or not take_id or take_id.startswith(".") or any(
            c in take_id for c in "/\\\x00"):
        raise KeyError(take_id)


def previous_transcript_path(audio: Path | str) -> Path:
    """Where the transcript before the last change is kept: ``<id>.transcript.prev.json``."""
    audio = Path(audio)
    return audio.with_name(f"{audio.stem}.transcript.prev.json")


def _is_transcript_file(path: Path) -> bool:
    return path.name.endswith((".transcript.json", ".transcript.prev.json"))


def take_name_for(audio: Path | str) -> str | None:
    """The name of the take whose audio is ``audio`` (a file in a take library's takes/ folder
    with its metadata beside it), or None for any other file."""
    audio = Path(audio)
    if audio.parent.name != "takes" or audio.suffix.lower() != ".wav":
        return None
    take = TakeLibrary._load_meta(audio.with_suffix(".json"))
    return take.name if take is not None and take.id == audio.stem else None


def safe_filename(name: str) -> str:
    """A take name turned into something every file system accepts."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned or "take"


__all__ = ["MAX_NAME_CHARS", "FileLock", "Take", "TakeError", "TakeLibrary", "check_name", "data_dir",
           "previous_transcript_path", "repair_wav_header", "safe_filename", "take_name_for", "transcript_path"]
