"""Live spectrogram speed: our path against a naive one, both fed in real time, in one run.

Audio at 48 kHz (espeak-ng speech when it is installed, else chirps and noise) arrives as it would
from a sound card: blocks of 800 frames, one every 1/60 s, paced by the clock. Each tick hands
the blocks that have "arrived" to the spectrogram and processes Qt events (offscreen), which is
where the repaint happens.

- ours: ``SpectrogramView.push_audio`` (engine DisplaySpectrogram columns, NumPy LUT into a
  preallocated RGB32 ring, one windowed repaint).
- naive: per block, a freshly built torchaudio MelSpectrogram over the block and its context,
  dB, a freshly allocated history array (np.roll + new columns) handed to a pyqtgraph ImageItem
  with ``setImage(levels=..., lut=...)`` so pyqtgraph applies its own LUT per frame.

Measured per path: updates/s (repaints of the image actually done per wall second), the CPU
time of the whole process as % of one core over the run, and the per-update cost (push +
event processing) median and p90. Prints one JSON object.

    .venv/bin/python benchmarks/spectrogram.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

SR = 48000
BLOCK = 800  # frames per audio callback: 60 blocks per second at 48 kHz
TICK_HZ = 60
SIZE = (900, 420)

SPEECH_TEXT = (
    "Motet listens while you speak. The spectrogram scrolls at sixty frames a second, "
    "and every word you say appears as bright bands of harmonics rising and falling. "
    "Quiet pauses between sentences turn dark again."
)


def speech_like(seconds: float) -> tuple[np.ndarray, str]:
    """Mono float32 at 48 kHz: espeak-ng speech if available, else chirps and noise."""
    n = int(seconds * SR) + SR
    rng = np.random.default_rng(0)
    if shutil.which("espeak-ng"):
        try:
            import soundfile as sf
            import torch
            import torchaudio.functional as taf

            with tempfile.TemporaryDirectory() as tmp:
                wav = Path(tmp) / "speech.wav"
                subprocess.run(["espeak-ng", "-w", str(wav), SPEECH_TEXT], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
                x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            x = taf.resample(torch.from_numpy(x[:, 0].copy()), sr, SR).numpy()
            x = 0.5 * x / max(1e-6, float(np.max(np.abs(x))))
            x = np.tile(x, n // len(x) + 1)[:n]
            x += 0.003 * rng.standard_normal(n).astype(np.float32)
            return x.astype(np.float32), "espeak-ng speech"
        except Exception as exc:  # noqa: BLE001 - fall back to the synthetic signal
            print(f"espeak-ng speech unavailable ({exc}); using chirps and noise", file=sys.stderr)
    t = np.arange(n) / SR
    phase = (t % 1.5) / 1.5  # a glide every 1.5 s, with harmonics, like a voiced syllable
    f0 = 120 + 180 * phase
    inst = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(0.3 / k * np.sin(k * inst) for k in range(1, 8))
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    x += 0.01 * rng.standard_normal(n)
    return x.astype(np.float32), "synthetic chirps and noise"


class NaivePeer:
    """What a first attempt looks like: recompute everything, allocate everything, every block."""

    def __init__(self, plot_widget, visible_seconds: float = 10.0) -> None:
        import pyqtgraph as pg
        import torch

        self.torch = torch
        self.n_fft, self.hop, self.n_mels = 2048, SR // 100, 128
        self.n_cols = int(visible_seconds * SR / self.hop)
        self.history = np.full((self.n_cols, self.n_mels), -100.0, dtype=np.float32)
        self.context = np.zeros(self.n_fft - self.hop, dtype=np.float32)
        self.item = _CountingImageItem(axisOrder="col-major")
        plot_widget.addItem(self.item)
        plot_widget.setXRange(0, self.n_cols, padding=0)
        plot_widget.setYRange(0, self.n_mels, padding=0)
        self.lut = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256)
        self.update_count = 0

    def push_audio(self, block: np.ndarray) -> None:
        import torchaudio

        torch = self.torch
        x = np.concatenate([self.context, block])
        n_cols = (len(x) - self.n_fft) // self.hop + 1
        if n_cols <= 0:
            self.context = x
            return
        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SR, n_fft=self.n_fft, hop_length=self.hop, n_mels=self.n_mels, center=False)
        to_db = torchaudio.transforms.AmplitudeToDB(stype="power")
        with torch.no_grad():
            spec = to_db(mel(torch.from_numpy(x[: self.n_fft + (n_cols - 1) * self.hop].copy())))
        cols = spec.numpy().T - 60.0  # (n_cols, n_mels), roughly the same dB scale
        self.context = x[n_cols * self.hop:]
        self.history = np.concatenate([self.history[n_cols:], cols.astype(np.float32)])
        self.item.setImage(self.history.copy(), levels=(-100.0, 0.0), lut=self.lut, autoLevels=False)
        self.update_count += 1

    @property
    def paint_count(self) -> int:
        return self.item.paint_count


def _make_counting_item():
    import pyqtgraph as pg

    class CountingImageItem(pg.ImageItem):
        paint_count = 0

        def paint(self, painter, *args):
            super().paint(painter, *args)
            self.paint_count += 1

    return CountingImageItem


_CountingImageItem = None


def run_path(app, name: str, audio: np.ndarray, seconds: float) -> dict:
    import pyqtgraph as pg

    from gui.spectrogram.view import SpectrogramView

    if name == "ours":
        widget = SpectrogramView()
        widget.resize(*SIZE)
        widget.show()
        widget.start_live(SR)
        push = widget.push_audio
        # Start in the steady state: the view already full and scrolling (the naive peer's
        # history is full from the start too).
        prefill = int(widget.visible_seconds * SR)
        push(audio[-prefill:])

        def paints() -> int:
            return widget.image_item.paint_count
    else:
        widget = pg.PlotWidget()
        widget.resize(*SIZE)
        widget.show()
        peer = NaivePeer(widget)
        push = peer.push_audio

        def paints() -> int:
            return peer.paint_count

    for _ in range(5):  # settle layout and first paint before timing
        app.processEvents()
        time.sleep(0.01)

    costs: list[float] = []
    paints0 = paints()
    blocks_done = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    tick = 0
    max_blocks = int(seconds * SR) // BLOCK + 1
    while True:
        tick += 1
        deadline = start + tick / TICK_HZ
        now = time.perf_counter()
        if now < deadline:
            time.sleep(deadline - now)
        now = time.perf_counter()
        if now - start >= seconds:
            break
        arrived = min(max_blocks, int((now - start) * SR) // BLOCK)  # what the sound card has delivered
        if arrived > blocks_done:
            t0 = time.perf_counter()
            push(audio[blocks_done * BLOCK: arrived * BLOCK])
            app.processEvents()
            costs.append(time.perf_counter() - t0)
            blocks_done = arrived
        else:
            app.processEvents()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    updates = paints() - paints0
    widget.close()
    widget.deleteLater()
    app.processEvents()
    ms = np.array(costs) * 1000.0
    return {
        "updates_per_s": round(updates / wall, 2),
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 2),
        "update_ms_median": round(float(np.median(ms)), 3) if len(ms) else None,
        "update_ms_p90": round(float(np.percentile(ms, 90)), 3) if len(ms) else None,
        "cpu_ms_per_update": round(1000.0 * cpu / max(1, updates), 3),
        "audio_seconds_fed": round(blocks_done * BLOCK / SR, 2),
        "wall_s": round(wall, 2),
        "updates": updates,
    }


def main(argv: list[str] | None = None) -> int:
    global _CountingImageItem
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of real time per path")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per path, interleaved; the figures are the medians (DESIGN.md 7)")
    parser.add_argument("--no-peer", action="store_true", help="measure only our path")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    _CountingImageItem = _make_counting_item()
    audio, source = speech_like(args.seconds + 10.0)

    def median_of(runs: list[dict]) -> dict:
        return {k: (round(float(np.median([r[k] for r in runs])), 3) if runs[0][k] is not None else None)
                for k in runs[0]}

    ours_runs, peer_runs = [], []
    for _ in range(max(1, args.repeats)):
        ours_runs.append(run_path(app, "ours", audio, args.seconds))
        if not args.no_peer:
            peer_runs.append(run_path(app, "naive", audio, args.seconds))
    ours = median_of(ours_runs)
    result = {
        "benchmark": "live spectrogram, real-time 48 kHz, 800-frame blocks at 60 Hz, offscreen Qt",
        "audio": source,
        "seconds": args.seconds,
        "repeats": max(1, args.repeats),
        "widget_px": list(SIZE),
        "cpu_count": os.cpu_count(),
        "ours": ours,
    }
    if not args.no_peer:
        peer = median_of(peer_runs)
        result["naive_peer"] = peer
        result["ratio_naive_over_ours"] = {
            "cpu_percent": round(peer["cpu_percent_of_one_core"] / max(1e-9, ours["cpu_percent_of_one_core"]), 2),
            "cpu_ms_per_update": round(peer["cpu_ms_per_update"] / max(1e-9, ours["cpu_ms_per_update"]), 2),
            "update_ms_median": (round(peer["update_ms_median"] / max(1e-9, ours["update_ms_median"]), 2)
                                 if ours["update_ms_median"] and peer["update_ms_median"] else None),
        }
    result["goal"] = {"updates_per_s_min": 60, "cpu_percent_max": 25,
                      "met": ours["updates_per_s"] >= 0.98 * TICK_HZ and ours["cpu_percent_of_one_core"] < 25}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
