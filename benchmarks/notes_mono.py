"""Monophonic notes from sung and hummed melodies: onset F1 of ``mono_notes`` (SwiftF0 + our
segmentation), and of the polyphonic path (engine/notes/poly.py) on the same files when it exists.

Material: synthetic voices of our own, made to trip a note tracker the way singing does. Each
melody has 10-20 notes on a major or minor scale in one voice's range (bass, baritone, tenor,
alto, soprano; sung vowels or a hummed "mm"), in phrases of 3-7 notes separated by an inhaled
breath (band-passed noise, 16-28 dB below the voice). Every note has vibrato (5-6 Hz, ±30-50 cents, fading in after
120-200 ms, with tremolo), slow pitch drift, a detune of up to ±12 cents; 40% start with a scoop
(100-200 ms from one or two semitones below); 60% of the steps inside a phrase are legato (the
pitch glides to the next note in 30-70 ms with no gap), the others articulated (a 40-120 ms dip
in level, always so for a repeated pitch). The source is a harmonic series through vowel
formants with aspiration noise, at 16, 22.05, 44.1 or 48 kHz. A note's true onset is where its
glide or scoop begins; its pitch, the semitone it settles on.

Optional (``--espeak``): espeak-ng "singing" (words at set pitches with its pitch markup), its
notes taken from what it was asked to sing.

Onset F1: an estimated note matches a true one when their onsets are within 50 ms and their
pitches are the same MIDI number (one-to-one, maximum matching, as mir_eval's onset matching).

    .venv/bin/python benchmarks/notes_mono.py [--melodies 16] [--seed 1000] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
VOWELS = {"a": (730, 1090, 2440), "o": (570, 840, 2410), "e": (530, 1840, 2480), "u": (300, 870, 2240),
          "i": (390, 1990, 2550)}


@dataclass(frozen=True)
class Voice:
    name: str
    low: int  # MIDI range
    high: int
    tilt: float  # harmonic amplitude ~ k ** -tilt
    hum: bool = False


VOICES = (Voice("bass", 40, 62, 1.0), Voice("baritone", 45, 66, 1.0), Voice("tenor", 48, 69, 1.1),
          Voice("alto", 55, 74, 1.2), Voice("soprano", 60, 81, 1.3), Voice("hum", 50, 72, 2.2, hum=True))
RATES = (44100, 48000, 22050, 16000)


@dataclass(frozen=True)
class Melody:
    name: str
    audio: np.ndarray
    sr: int
    notes: list  # (onset, offset, midi)
    details: list  # per note: how it is entered ("start", "legato", "gap", "breath") and its scoop, if any


def _lowpass_noise(rng, n: int, sr: int, cutoff: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[f > cutoff] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def _bandpass_noise(rng, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def _formant_gain(freq: np.ndarray, formants, hum: bool) -> np.ndarray:
    if hum:  # a closed mouth: one low resonance, the rest damped
        return 1.0 + 2.0 * np.exp(-0.5 * (np.log(freq / 250.0) / 0.25) ** 2)
    gain = np.full_like(freq, 0.15)
    for i, fc in enumerate(formants):
        gain += (1.0, 0.7, 0.35)[i] * np.exp(-0.5 * (np.log(freq / fc) / 0.12) ** 2)
    return gain


def sung_melody(seed: int, voice: Voice | None = None, sr: int | None = None) -> Melody:
    """One synthetic sung or hummed melody and its true notes (see the module's doc)."""
    rng = np.random.default_rng(seed)
    voice = voice or VOICES[seed % len(VOICES)]
    sr = sr or RATES[seed % len(RATES)]
    scale = SCALES["major" if rng.random() < 0.6 else "minor"]
    tonic = int(rng.integers(voice.low, voice.low + 7))
    degrees = [d + 7 * o for o in range(-1, 4) for d in scale]
    pitches_allowed = sorted({tonic + d for d in degrees if voice.low <= tonic + d <= voice.high})
    n_notes = int(rng.integers(10, 21))
    idx = int(rng.integers(2, max(3, len(pitches_allowed) // 2)))
    pitches = []
    for _ in range(n_notes):
        pitches.append(pitches_allowed[idx])
        step = rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3, 4], p=[.1, .2, .12, .06, .2, .12, .1, .04, .03, .03])
        idx = int(np.clip(idx + step, 0, len(pitches_allowed) - 1))
    # phrases, durations, joins
    tempo = rng.uniform(0.8, 1.2)
    durations = [float(rng.choice([0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.3], p=[.1, .15, .2, .2, .12, .1, .08, .05]))
                 * tempo for _ in pitches]
    phrase_ends, count = set(), 0
    for i in range(n_notes):
        count += 1
        if count >= rng.integers(3, 8):
            phrase_ends.add(i)
            count = 0
    t = rng.uniform(0.3, 0.7)
    notes, joins = [], []  # (onset, offset, pitch); join of note i to i+1: "legato" | gap seconds | breath seconds
    for i, (p, d) in enumerate(zip(pitches, durations)):
        if i == n_notes - 1:
            joins.append(None)
            notes.append((t, t + d, p))
            break
        if i in phrase_ends:
            gap = rng.uniform(0.3, 0.7)
            joins.append(("breath", gap))
        elif pitches[i + 1] != p and rng.random() < 0.6:
            gap = 0.0
            joins.append(("legato", 0.0))
        else:
            gap = rng.uniform(0.04, 0.12)
            joins.append(("gap", gap))
        notes.append((t, t + d, p))
        t += d + gap
    total = t + durations[-1] + rng.uniform(0.3, 0.6)
    n = int(total * sr)
    time_axis = np.arange(n) / sr
    f0_midi = np.full(n, float(pitches[0]))
    amp = np.zeros(n)
    vib_rate = rng.uniform(5.0, 6.0)
    vib_phase = 2 * np.pi * np.cumsum(vib_rate * (1 + 0.02 * _lowpass_noise(rng, n, sr, 1.0))) / sr
    vib_depth = np.zeros(n)
    details: list = []
    for i, (on, off, p) in enumerate(notes):
        a, b = int(on * sr), int(off * sr)
        seg = time_axis[a:b] - on
        target = p + rng.uniform(-0.12, 0.12)
        prev = notes[i - 1][2] if i else None
        legato_in = i > 0 and joins[i - 1][0] == "legato"
        curve = np.full(b - a, target)
        scoop = rng.random() < 0.4
        details.append({"in": joins[i - 1][0] if i else "start", "scoop": None})
        if scoop:
            depth = float(rng.choice([1.0, 2.0]))
            length = rng.uniform(0.10, 0.20)
            start_pitch = target - depth
            details[-1]["scoop"] = (depth, round(length, 3))
            if legato_in and abs(prev - start_pitch) >= 0.5:  # slide from the previous note to the scoop's start
                pre = rng.uniform(0.03, 0.05)
                u = np.clip(seg / pre, 0, 1)
                curve = prev + (start_pitch - prev) * u
                seg2 = seg - pre
            else:  # from silence, or from the previous note when the scoop starts on its pitch
                seg2 = seg
                curve = np.full(b - a, start_pitch)
            u = np.clip(seg2 / length, 0, 1)
            ease = 1 - (1 - u) ** 2
            after = seg2 >= 0
            curve[after] = start_pitch + (target - start_pitch) * ease[after]
        elif legato_in:
            length = rng.uniform(0.03, 0.07)
            u = np.clip(seg / length, 0, 1)
            curve = prev + (target - prev) * (0.5 - 0.5 * np.cos(np.pi * u))
        f0_midi[a:b] = curve
        # vibrato fading in
        delay, fade = rng.uniform(0.12, 0.2), 0.15
        depth_c = rng.uniform(0.30, 0.50)
        vib_depth[a:b] = depth_c * np.clip((seg - delay) / fade, 0, 1)
        # level: attack unless entered legato, release unless left legato
        level = 10 ** (rng.uniform(-6, 0) / 20)
        env = np.ones(b - a)
        attack = rng.uniform(0.02, 0.05)
        if not legato_in:
            env *= np.clip(seg / attack, 0, 1)
        join = joins[i]
        if join is None or join[0] != "legato":
            release = min(0.05, (off - on) / 3)
            env *= np.clip((off - on - seg) / release, 0, 1)
        amp[a:b] = level * env
        if legato_in:  # smooth the level step between legato notes over 30 ms
            w = int(0.03 * sr)
            lo = max(0, a - w)
            amp[lo:a + w] = np.linspace(amp[lo], amp[min(a + w, n - 1)], a + w - lo)
        if join is not None and join[0] != "legato":  # hold the pitch through the gap
            nxt = int((off + join[1]) * sr)
            f0_midi[b:nxt] = curve[-1]
    f0_midi += vib_depth * np.sin(vib_phase) + 0.05 * _lowpass_noise(rng, n, sr, 3.0)  # vibrato, 5 cents of drift
    amp *= 1 + 0.12 * vib_depth * np.sin(vib_phase + 0.5)  # tremolo with the vibrato
    f0 = 440.0 * 2 ** ((f0_midi - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    formants = VOWELS[str(rng.choice(list(VOWELS)))]
    source = np.zeros(n)
    top = min(5000.0, sr / 2 - 500)
    for k in range(1, int(top / f0.min()) + 1):
        fk = k * f0
        gain = np.where(fk < top, _formant_gain(fk, formants, voice.hum) * k ** -voice.tilt, 0.0)
        source += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    source /= np.max(np.abs(source)) + 1e-12
    x = amp * source
    x += amp * 0.02 * _bandpass_noise(rng, n, sr, 1000, min(7000, sr / 2 - 100))  # aspiration
    for (on, off, _), join in zip(notes, joins):  # inhaled breath between phrases, 16-28 dB below the voice
        if join and join[0] == "breath":
            a, b = int((off + 0.05) * sr), int((off + join[1] - 0.05) * sr)
            if b > a:
                voice_rms = float(np.sqrt(np.mean(x[int(on * sr):int(off * sr)] ** 2)))
                env = np.sin(np.linspace(0, np.pi, b - a)) ** 2 / np.sqrt(0.375)  # unit RMS
                level = voice_rms * 10 ** (rng.uniform(-28, -16) / 20)
                x[a:b] += level * env * _bandpass_noise(rng, b - a, sr, 400, min(4000, sr / 2 - 100))
    x += 10 ** (-62 / 20) * rng.standard_normal(n)  # room
    x *= 10 ** (rng.uniform(-12, -3) / 20) / (np.max(np.abs(x)) + 1e-12)
    return Melody(f"{seed:02d}-{voice.name}-{sr}", x.astype(np.float32), sr, notes, details)


def melodies(count: int = 16, seed: int = 0) -> list[Melody]:
    return [sung_melody(seed + i) for i in range(count)]


# --- scoring -------------------------------------------------------------------------------


def _max_matching(pairs: dict[int, list[int]]) -> int:
    match: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in pairs.get(i, []):
            if j in seen:
                continue
            seen.add(j)
            if j not in match or augment(match[j], seen):
                match[j] = i
                return True
        return False

    return sum(augment(i, set()) for i in pairs)


def onset_scores(estimated, reference, tolerance: float = 0.05) -> dict:
    """Precision, recall and F1 of onsets (within ``tolerance`` s, same MIDI pitch). ``estimated``:
    NoteEvents or (onset, offset, pitch); ``reference``: (onset, offset, pitch)."""
    est = [(e.start, e.pitch) if hasattr(e, "pitch") else (e[0], e[2]) for e in estimated]
    ref = [(r[0], r[2]) for r in reference]
    pairs = {i: [j for j, (rt, rp) in enumerate(ref) if rp == ep and abs(rt - et) <= tolerance]
             for i, (et, ep) in enumerate(est)}
    matched = _max_matching(pairs)
    precision = matched / len(est) if est else float(not ref)
    recall = matched / len(ref) if ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "matched": matched, "estimated": len(est),
            "reference": len(ref)}


def _totals(per: list[dict]) -> dict:
    m = sum(p["matched"] for p in per)
    e = sum(p["estimated"] for p in per)
    r = sum(p["reference"] for p in per)
    precision, recall = (m / e if e else 0.0), (m / r if r else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"onset_f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4),
            "mean_f1_per_melody": round(float(np.mean([p["f1"] for p in per])), 4),
            "min_f1_per_melody": round(float(np.min([p["f1"] for p in per])), 4), "notes": r}


def _poly_notes():
    try:
        from engine.notes import poly
    except ImportError:
        return None
    return getattr(poly, "audio_poly_notes", None)  # (audio, sr) -> NoteEvents, Basic Pitch's network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="monophonic onset F1 on synthetic sung melodies")
    parser.add_argument("--melodies", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1000, help="first melody seed (segmentation was tuned on 0-29)")
    parser.add_argument("--verbose", action="store_true", help="per-melody figures too")
    args = parser.parse_args(argv)
    import torch

    from engine.notes.mono import mono_notes

    mono_notes(np.zeros(16000, np.float32), 16000)  # load the model outside the timing
    material = melodies(args.melodies, args.seed)
    seconds = sum(len(m.audio) / m.sr for m in material)
    result: dict = {"benchmark": "notes_mono", "melodies": len(material), "audio_seconds": round(seconds, 1),
                    "notes": sum(len(m.notes) for m in material), "tolerance_s": 0.05, "nproc": os.cpu_count(),
                    "torch_threads": torch.get_num_threads()}
    paths = {"motet_mono": lambda m: mono_notes(m.audio, m.sr)}
    poly = _poly_notes()
    if poly is not None:
        paths["motet_poly"] = lambda m: poly(m.audio, m.sr)
    else:
        result["motet_poly"] = "engine/notes/poly.py not available in this checkout"
    for name, run in paths.items():
        per, started = [], time.perf_counter()
        for m in material:
            scores = onset_scores(run(m), m.notes)
            scores["melody"] = m.name
            per.append(scores)
        elapsed = time.perf_counter() - started
        result[name] = {**_totals(per), "seconds": round(elapsed, 2), "real_time_factor": round(elapsed / seconds, 4)}
        if args.verbose:
            result[name]["per_melody"] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items()}
                                          for p in per]
    if "motet_poly" in paths:
        result["ratio_f1_mono_over_poly"] = round(result["motet_mono"]["onset_f1"] /
                                                  max(result["motet_poly"]["onset_f1"], 1e-9), 3)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
