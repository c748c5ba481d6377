"""Batch transcription throughput: in this process against a local Ray cluster, same files, same
model (the bundled tiny.en), same outputs.

    .venv/bin/python benchmarks/batch.py [--case both|short|long] [--minutes 10] [--clips 30] [--runs 3]

Configurations, each on a fresh output folder (nothing skipped):
- ``in-process``: `motet batch transcribe` without --cluster, torch with 2 threads (the machine's
  cores), one item after another;
- ``ray 2x1``: a local Ray cluster, 2 workers x 1 thread (long files cut into 180 s pieces that the
  two workers share);
- ``ray 1x2``: 1 worker x 2 threads: the same compute as in-process, so the difference is what
  Ray itself costs (submission, results travelling back, the worker's own model load).

Cases: ``short``, 30 espeak clips of 2-4 s; ``long``, one file of ``--minutes`` minutes (a minute of
sentences in two voices with pauses, repeated). The Ray cluster is started once per run before
the clock starts (``ray_start_s`` reports it); each timed batch includes making its workers (each
loads the model). Prints JSON: the median wall seconds per configuration, throughput (audio
seconds per wall second), ``ratio_ray2x1`` (Ray 2x1 throughput / in-process), and Ray's overhead
per file ((ray 1x2 - in-process) / files, each without its workers' start: ``workers_ready_s``,
the time until every worker had loaded its model), with the CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def make_inputs(folder: Path, clips: int, minutes: float) -> tuple[Path, Path]:
    import numpy as np
    import soundfile as sf
    from speech import SENTENCES, VOICES, build, espeak

    short = folder / "short"
    short.mkdir()
    for i in range(clips):
        espeak(SENTENCES[i % len(SENTENCES)], VOICES[i % 2], short / f"clip{i:02d}.wav")
    minute, _ = build([(s, VOICES[i % 2]) for i, s in enumerate(SENTENCES)], folder, "minute")
    audio, rate = sf.read(minute, dtype="float32")
    repeats = max(1, round(minutes * 60 / (len(audio) / rate)))
    long = folder / "long"
    long.mkdir()
    sf.write(long / "talk.wav", np.tile(audio, repeats), rate, subtype="PCM_16")
    return short, long


def timed(inputs: Path, out: Path, cluster: str | None, workers: int | None,
          threads: int) -> tuple[float, float, float, int]:
    from engine.batch.runner import transcribe_batch

    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    summary = transcribe_batch([inputs], out, "txt", cluster=cluster, workers=workers, threads=threads)
    wall = time.perf_counter() - started
    assert not summary.failed and summary.done, summary.to_dict()
    return wall, summary.startup_seconds, summary.audio_seconds, len(summary.done)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=("both", "short", "long"), default="both")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import ray
    import torch

    from engine.models.catalog import resolve_model
    from engine.tasks.transcribe import get_pipeline

    torch.set_num_threads(2)
    get_pipeline(resolve_model(None))  # in-process: the model loaded once, as in the app
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        short, long = make_inputs(tmp, args.clips, args.minutes)
        cases = {"short": short, "long": long}
        for name in (("short", "long") if args.case == "both" else (args.case,)):
            walls: dict[str, list[float]] = {"in_process": [], "ray_2x1": [], "ray_1x2": []}
            ready = {key: [] for key in walls}  # of the wall: until the workers had their model
            starts = []
            audio = files = 0
            for _ in range(args.runs):  # interleaved: other load falls on every configuration alike
                wall, startup, audio, files = timed(cases[name], tmp / "out", None, None, 2)
                walls["in_process"].append(wall)
                ready["in_process"].append(startup)
                for key, workers, threads in (("ray_2x1", 2, 1), ("ray_1x2", 1, 2)):
                    started = time.perf_counter()
                    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
                    starts.append(time.perf_counter() - started)
                    try:
                        wall, startup, _, _ = timed(cases[name], tmp / "out", "local", workers, threads)
                        walls[key].append(wall)
                        ready[key].append(startup)
                    finally:
                        ray.shutdown()
                torch.set_num_threads(2)
            median = {key: statistics.median(values) for key, values in walls.items()}
            work = {key: statistics.median(w - r for w, r in zip(walls[key], ready[key])) for key in walls}
            speed = {key: audio / value for key, value in median.items()}
            print(json.dumps({
                "case": name, "files": files, "audio_seconds": round(audio, 1), "runs": args.runs,
                "cpu_count": os.cpu_count(),
                "wall_s": {key: round(value, 2) for key, value in median.items()},
                "x_real_time": {key: round(value, 1) for key, value in speed.items()},
                "ratio_ray2x1": round(speed["ray_2x1"] / speed["in_process"], 3),
                "ratio_ray1x2": round(speed["ray_1x2"] / speed["in_process"], 3),
                "workers_ready_s": {key: round(statistics.median(values), 2) for key, values in ready.items()},
                "ray_overhead_per_file_s": round((work["ray_1x2"] - work["in_process"]) / files, 3),
                "ray_start_s": round(statistics.median(starts), 2),
            }), flush=True)


if __name__ == "__main__":
    main()
