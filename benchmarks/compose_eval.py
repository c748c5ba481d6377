"""Compose, measured on the real model: N generations for each of a spread of prompts, each
written as MIDI and read back, then checked against what was asked and against the corpus.

Per prompt: bars exact, tempo exact, instrument exact, no hanging notes, the file opens and
plays (rendered through the SoundFont, not silent), the key estimated (Krumhansl–Schmuckler)
equal to the asked one, the meter felt (onsets on downbeats and beats, against the corpus
pieces of that style in that meter), two seeds differ, and the style a small classifier trained on the
held-out corpus split (test) recognises, with its confusion matrix. The classifier's own
accuracy on the validation split is reported beside it (what "recognised" can mean at best).
    .venv/bin/python benchmarks/compose_eval.py [--per-prompt 20] [--data data/composer] [--model assets/composer]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = ["a lively jig in D major, 16 bars, fiddle", "a reel in G major, 16 bars", "a hornpipe in A major, 8 bars",
           "a slip jig in E minor, 8 bars", "a slow air in E minor for flute, 16 bars",
           "a German folk song in F major, 8 bars", "a Bach chorale in G major for organ, 8 bars",
           "renaissance polyphony in F major, 8 bars, choir", "a chinese folk song in D major, 8 bars",
           "a strathspey in A minor, 8 bars"]


def main() -> None:
    import torch

    from engine.midi.midifile import read_midi, write_midi
    from engine.midi.synth import get_synthesizer
    from engine.models.composer.batches import piece_notes
    from engine.models.composer.controls import STYLES
    from engine.models.composer.data import build_dataset, load_pieces
    from engine.models.composer.evaluate import StyleClassifier, confusion, features, key_of, strong_beat_share
    from engine.models.composer.generate import compose
    from engine.models.composer.prompt import read_prompt
    from engine.models.composer.score import from_score, to_score
    from engine.tasks.compose import ASSET_DIR, composer_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-prompt", type=int, default=20)
    ap.add_argument("--data", default=str(ROOT / "data" / "composer"))
    ap.add_argument("--model", default=str(ASSET_DIR))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--key-guidance", type=float, default=None, help="the sampler's key_bias weight (default: its own)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not (Path(args.data) / "info.json").exists():
        build_dataset(args.data)
    styles = tuple(STYLES)

    def piece_features(pieces):
        return np.stack([features(piece_notes(p), tuple(p["meter"]), p["bars"]) for p in pieces])

    held_out, valid = load_pieces(args.data, "test"), load_pieces(args.data, "valid")
    classifier = StyleClassifier(styles).fit(piece_features(held_out), [p["style"] for p in held_out])
    valid_predicted = classifier.predict(piece_features(valid))
    held_out_beats: dict = {}  # the held-out pieces' strong-beat shares by style and meter
    for p in held_out:
        held_out_beats.setdefault((p["style"], tuple(p["meter"])), []).append(strong_beat_share(piece_notes(p), tuple(p["meter"])))

    def corpus_beats(style, meter):
        """The corpus's share for the style in this meter (five pieces or more), else in all its meters."""
        shares = held_out_beats.get((style, tuple(meter)), [])
        return float(np.mean(shares if len(shares) >= 5 else sum((v for (s, _), v in held_out_beats.items() if s == style), [])))
    model = composer_model(args.model)
    guidance = {} if args.key_guidance is None else {"key_guidance": args.key_guidance}
    synth = get_synthesizer()
    report, truth, predicted = {}, [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for prompt in PROMPTS:
            controls = read_prompt(prompt).controls
            began = time.perf_counter()
            pieces = []  # batches of at most 8 (the sampler's limit), seeds 0, 1, ...
            while len(pieces) < args.per_prompt:
                pieces += compose(model, controls, variations=min(8, args.per_prompt - len(pieces)), seed=len(pieces),
                                  **guidance)
            seconds = time.perf_counter() - began
            other_seed = compose(model, controls, variations=1, seed=1000)[0]
            checks = {k: 0 for k in ("bars_exact", "tempo_exact", "instrument_exact", "no_hanging_notes", "opens",
                                     "key_as_asked")}
            beats = []
            for i, notes in enumerate(pieces):
                path = write_midi(to_score(notes, controls), Path(tmp) / f"{len(truth)}.mid")
                score = read_midi(path)
                checks["opens"] += 1
                bar = score.ticks_per_bar
                end = max(n.end for t in score.tracks for n in t.notes)
                checks["bars_exact"] += (controls.bars - 1) * bar < end <= controls.bars * bar and \
                    (score.time_signature.numerator, score.time_signature.denominator) == controls.meter
                checks["tempo_exact"] += abs(score.bpm - controls.bpm) < 0.01
                checks["instrument_exact"] += all(t.program == controls.program for t in score.tracks)
                checks["no_hanging_notes"] += end <= controls.bars * bar
                read_back, _ = from_score(score, [n for t in score.tracks for n in t.notes])
                checks["key_as_asked"] += key_of(read_back) == controls.key
                beats.append(strong_beat_share(read_back, controls.meter))
                truth.append(controls.style)
                predicted.append(classifier.predict(features(read_back, controls.meter, controls.bars)[None])[0])
            audio = synth.render(to_score(pieces[0], controls))
            n = len(pieces)
            report[prompt] = {
                "understood": read_prompt(prompt).chips(), **{k: f"{v}/{n}" for k, v in checks.items()},
                "strong_beat_share": round(float(np.mean(beats)), 3),
                "corpus_strong_beat_share": round(corpus_beats(controls.style, controls.meter), 3),
                "style_recognised": f"{sum(p == controls.style for p in predicted[-n:])}/{n}",
                "two_seeds_differ": pieces[0] != other_seed,
                "plays_rms_dbfs": round(float(20 * np.log10(np.sqrt(np.mean(audio ** 2)) + 1e-12)), 1),
                "seconds_for_batch": round(seconds, 1)}
    print(json.dumps({
        "benchmark": "Compose on the shipped model", "cpu_count": os.cpu_count(), "threads": args.threads,
        "per_prompt": args.per_prompt, "prompts": report,
        "key_accuracy": round(float(np.mean([int(v["key_as_asked"].split("/")[0]) / args.per_prompt
                                             for v in report.values()])), 3),
        "style_accuracy_generated": round(float(np.mean([t == p for t, p in zip(truth, predicted)])), 3),
        "style_accuracy_corpus_valid": round(float(np.mean([p["style"] == q for p, q in zip(valid, valid_predicted)])), 3),
        "chance": round(1 / len(styles), 3), "styles": styles,
        "confusion_generated": confusion(truth, predicted, styles),
        "key_guidance": args.key_guidance, "seconds": round(time.perf_counter() - started, 1)}, indent=1))


if __name__ == "__main__":
    main()
