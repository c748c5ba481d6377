"""MIDI to sound with a SoundFont: tinysoundfont renders the score into a float32 array.

The General MIDI SoundFont shipped in assets/soundfonts (FluidR3 Mono GM, MIT) is the default;
any .sf2/.sf3 can be given. Rendering is offline (as fast as the CPU allows); playback and WAV
export take the array. Loading a SoundFont takes about a second, so synthesizers are cached.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.midi.score import DRUM_CHANNEL, Score

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_SOUNDFONT = ASSETS / "soundfonts" / "FluidR3Mono_GM.sf3"
SAMPLE_RATE = 44100

_cache: dict[tuple[str, int], Synthesizer] = {}
_cache_lock = threading.Lock()


def is_loaded(soundfont: str | Path | None = None, sample_rate: int = SAMPLE_RATE) -> bool:
    """Whether ``get_synthesizer`` has this synthesizer ready (no SoundFont to load first)."""
    return (str(soundfont or DEFAULT_SOUNDFONT), sample_rate) in _cache


def warm_up_in_background(soundfont: str | Path | None = None,
                          sample_rate: int = SAMPLE_RATE) -> threading.Thread | None:
    """Load the synthesizer on a daemon thread, so that the first Play does not wait for the
    SoundFont (about 2-3 s for the shipped one; later renders take a fraction of a second). None
    when it is loaded already. A SoundFont that cannot be loaded is left for ``get_synthesizer``
    to report when sound is asked for. (tinysoundfont keeps Python's GIL while it decodes the
    samples, so other Python threads wait meanwhile; the caller picks a quiet moment.)"""
    if is_loaded(soundfont, sample_rate):
        return None

    def load() -> None:
        try:
            get_synthesizer(soundfont, sample_rate)
        except Exception:  # noqa: BLE001 - said when the user plays: not here, on a background thread
            pass

    thread = threading.Thread(target=load, name="motet-synth-warm-up", daemon=True)
    thread.start()
    return thread


class SoundFontError(Exception):
    pass


def get_synthesizer(soundfont: str | Path | None = None, sample_rate: int = SAMPLE_RATE) -> Synthesizer:
    key = (str(soundfont or DEFAULT_SOUNDFONT), sample_rate)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Synthesizer(key[0], sample_rate)
        return _cache[key]


class Synthesizer:
    def __init__(self, soundfont: str | Path = DEFAULT_SOUNDFONT, sample_rate: int = SAMPLE_RATE) -> None:
        import tinysoundfont

        path = Path(soundfont)
        if not path.is_file():
            raise SoundFontError(f"SoundFont not found: {path}")
        self.path, self.sample_rate = path, sample_rate
        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._sfid = self._synth.sfload(str(path))
        except Exception as exc:  # noqa: BLE001 - tinysoundfont raises its own exception types
            raise SoundFontError(f"'{path.name}' is not a usable SoundFont: {exc}") from exc
        self._lock = threading.Lock()  # one render at a time per synthesizer

    def _select(self, channel: int, program: int) -> None:
        if channel == DRUM_CHANNEL:
            self._synth.program_select(channel, self._sfid, 128, 0, True)
        else:
            self._synth.program_select(channel, self._sfid, 0, program)

    def render(self, score: Score, start_tick: int = 0, end_tick: int | None = None, tail: float = 1.0,
               should_stop=None) -> np.ndarray:
        """Stereo float32 (frames, 2) of ``score`` from ``start_tick`` to ``end_tick`` (default: its
        end), plus ``tail`` seconds for the last notes to ring out."""
        end_tick = score.end_tick if end_tick is None else end_tick
        t0 = score.seconds_at(start_tick)
        events = []  # (frame, order, kind, channel, pitch, velocity): offs before ons at one frame
        for track in score.tracks:
            for n in track.notes:
                if n.end <= start_tick or n.start >= end_tick:
                    continue
                on = max(0, round((score.seconds_at(max(n.start, start_tick)) - t0) * self.sample_rate))
                off = max(on + 1, round((score.seconds_at(min(n.end, end_tick)) - t0) * self.sample_rate))
                events.append((on, 1, "on", track.channel, n.pitch, n.velocity))
                events.append((off, 0, "off", track.channel, n.pitch, 0))
        events.sort(key=lambda e: (e[0], e[1]))
        total = max(1, round((score.seconds_at(end_tick) - t0 + tail) * self.sample_rate))
        out = np.zeros((total, 2), np.float32)
        with self._lock:
            self._synth.notes_off()
            self._synth.sounds_off()
            for track in score.tracks:
                self._select(track.channel, track.program)
            pos = 0
            for frame, _, kind, channel, pitch, velocity in events + [(total, 9, "end", 0, 0, 0)]:
                frame = min(frame, total)
                if frame > pos:
                    out[pos:frame] = np.frombuffer(self._synth.generate_simple(frame - pos), np.float32).reshape(-1, 2)
                    pos = frame
                    if should_stop is not None and should_stop():
                        break
                if kind == "on":
                    self._synth.noteon(channel, pitch, velocity)
                elif kind == "off":
                    self._synth.noteoff(channel, pitch)
            self._synth.sounds_off()
        return out

    def render_note(self, pitch: int, program: int = 0, channel: int = 0, seconds: float = 0.6,
                    velocity: int = 100) -> np.ndarray:
        """One key of the piano keyboard, for previews."""
        from engine.midi.score import Note, Track

        tpb = 480
        score = Score(ticks_per_beat=tpb, tracks=[Track(channel=channel, program=program,
                                                        notes=[Note(0, pitch, round(seconds * 2 * tpb), velocity)])])
        return self.render(score, tail=0.4)


def write_wav(audio: np.ndarray, path: str | Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """16-bit WAV, written beside and renamed (a failed write leaves nothing half-done)."""
    import soundfile as sf

    path = Path(path)
    with atomic_path(path, audio.size * 2) as tmp:
        sf.write(str(tmp), np.clip(audio, -1, 1), sample_rate, subtype="PCM_16", format="WAV")
    return path
