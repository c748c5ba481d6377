"""MusicGen speed and memory: Motet against transformers on the same weights, one run each.

musicgen-small's architecture with random weights (decoder 1024 wide, 24 layers, 16 heads, 4
codebooks of 2048; T5-base; EnCodec 32 kHz), saved once with ``save_pretrained`` under
``--cache`` (2.4 GB). Each engine runs in its own process (its peak memory is its own): load,
then one prompt with guidance 3 and top-k 250 for ``--seconds`` of audio. Reported: steps/s of
the generation (50 steps a second of audio; guidance doubles the batch), the whole call's time,
EnCodec decode's speed against real time (Motet), peak resident memory, load time; the ratios
Motet / transformers of steps/s (``ratio_float32``, ``ratio_int8``). Random weights: the timing is
the same as real ones (every step reads every weight) but the music is noise. Runs on one
machine vary by 5-10 %: ``--repeats`` rounds of every engine in turn, each engine's median run
reported, and each ratio the median of the rounds' ratios.
    .venv/bin/python benchmarks/musicgen.py [--seconds 10] [--threads 2] [--repeats 3] [--engines motet,transformers]
    .venv/bin/python benchmarks/musicgen.py --device cuda   # a GPU: steps/s and peak GPU memory;
        motet:float32 replays each step as a CUDA graph, motet:float32-eager does not
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "80s pop track with bassy drums and synth"
# the prompt's pieces in the tokenizer's vocabulary, so that it is 11 tokens as T5's would make it
# (▁80 s ▁pop ▁track ▁with ▁bass y ▁drums ▁and ▁synth </s>), not spelt out letter by letter (31):
# the cross-attention's cost depends on it (MusicgenLM.folds_text)
PROMPT_PIECES = ("▁80", "s", "▁pop", "▁track", "▁with", "▁bass", "y", "▁drums", "▁and", "▁synth")


def build(folder: Path) -> None:
    """musicgen-small's shapes, random weights (codebooks too: transformers starts them at 0)."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    text = transformers.T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                                 feed_forward_proj="relu")
    codec = transformers.EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=64, hidden_size=128, upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048, target_bandwidths=[2.2], num_lstm_layers=2, compress=2, norm_type="weight_norm",
        use_causal_conv=False, pad_mode="reflect", trim_right_ratio=1.0, normalize=False, chunk_length_s=None,
        overlap=None, codebook_dim=128, use_conv_shortcut=False)
    decoder = transformers.MusicgenDecoderConfig(
        vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096,
        max_position_embeddings=2048, num_codebooks=4, pad_token_id=2048, bos_token_id=2048)
    config = transformers.MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(),
                                         decoder=decoder.to_dict())
    model = transformers.MusicgenForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, buffer in model.audio_encoder.named_buffers():
            if name.endswith("codebook.embed"):
                buffer.normal_()
    model.generation_config.guidance_scale = 3.0
    model.save_pretrained(folder)
    write_prompt_tokenizer(folder)


def write_prompt_tokenizer(folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from t5_helpers import write_tokenizer

    write_tokenizer(folder / "tokenizer.json", words=PROMPT_PIECES)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def run_motet(folder: Path, seconds: float, compute: str, device: str = "cpu") -> dict:
    import torch

    from engine.models.musicgen.generate import generate
    from engine.models.musicgen.pipeline import MusicGen

    start = time.perf_counter()
    model = MusicGen(folder, device=device)
    _sync(device)
    loaded = time.perf_counter() - start
    extra = {}
    if compute in ("int8", "int8-per-row", "bfloat16"):
        import copy

        from engine.models.musicgen.quantize import int8_agreement, quantize_lm_int8

        reference = copy.deepcopy(model.lm)
        if compute.startswith("int8"):
            quantize_lm_int8(model.lm, per_row=compute == "int8-per-row")  # "int8": what the Generate job runs
        else:
            model.lm.to(torch.bfloat16)
        ids, mask = model.tokenizer.encode([PROMPT])
        with torch.inference_mode():
            states = model.text_encoder(ids, mask)
        extra["max_kl_nats_vs_float32"] = round(int8_agreement(reference, model.lm, states, mask), 4)
        del reference
    steps = round(seconds * model.frame_rate)
    with torch.inference_mode():
        start = time.perf_counter()
        ids, mask = model.tokenizer.encode([PROMPT])
        states = model.text_encoder(ids, mask)
        _sync(device)
        began = time.perf_counter()
        codes = generate(model.lm, states, mask, steps, 3.0, 1.0, 250, 0.0, seed=0,
                         static=False if compute.endswith("-eager") else None)
        _sync(device)
        generated = time.perf_counter() - began
        began = time.perf_counter()
        audio = model.decode_codes(codes)
        decoded = time.perf_counter() - began
        total = time.perf_counter() - start
    return {"steps": steps, "steps_per_s": round(steps / generated, 2), "total_s": round(total, 2),
            "encodec_decode_s": round(decoded, 2), "encodec_x_realtime": round(audio.shape[-1] / 32000 / decoded, 1),
            "load_s": round(loaded, 1), "prompt_tokens": ids.shape[1],
            "text_folded": model.lm.folds_text(1, ids.shape[1]), **extra}


def run_transformers(folder: Path, seconds: float, compute: str, device: str = "cpu") -> dict:
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    start = time.perf_counter()
    model = transformers.MusicgenForConditionalGeneration.from_pretrained(folder).eval().to(device)
    _sync(device)
    loaded = time.perf_counter() - start
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), pad_token="<pad>",
                                                     eos_token="</s>")
    steps = round(seconds * 50)
    inputs = tokenizer([PROMPT], return_tensors="pt", padding=True).to(device)
    timing = {}
    decode = model.audio_encoder.decode

    def timed_decode(*args, **kwargs):  # the codec's share, apart from the language model's
        _sync(device)
        began = time.perf_counter()
        out = decode(*args, **kwargs)
        _sync(device)
        timing["decode"] = time.perf_counter() - began
        return out

    model.audio_encoder.decode = timed_decode
    with torch.inference_mode():
        torch.manual_seed(0)
        start = time.perf_counter()
        model.generate(**inputs, do_sample=True, guidance_scale=3.0, top_k=250, max_new_tokens=steps + 3)
        _sync(device)
        total = time.perf_counter() - start
    return {"steps": steps, "steps_per_s": round(steps / (total - timing["decode"]), 2), "total_s": round(total, 2),
            "encodec_decode_s": round(timing["decode"], 2), "load_s": round(loaded, 1)}


def worker(args: argparse.Namespace) -> None:
    __import__("engine")  # its OpenMP settings (GOMP_SPINCOUNT) before torch loads, for both engines
    import torch

    torch.set_num_threads(args.threads)
    name, compute = args.worker.split(":")
    run = run_motet if name == "motet" else run_transformers
    result = run(Path(args.cache), args.seconds, compute, args.device)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.device == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        result["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="/tmp/motet-bench/musicgen-small-random")
    ap.add_argument("--engines", default=None, help="default: motet:float32,motet:int8,transformers:float32; "
                    "with --device cuda: motet:float32,motet:float32-eager,transformers:float32")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=lambda text: max(1, int(text)), default=3,
                    help="rounds of every engine in turn, at least 1 (medians reported)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engines is None:
        args.engines = ("motet:float32,motet:float32-eager,transformers:float32" if args.device == "cuda"
                        else "motet:float32,motet:int8,transformers:float32")
    if args.worker:
        sys.path.insert(0, str(ROOT))
        return worker(args)
    cache = Path(args.cache)
    if not (cache / "tokenizer.json").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                        f"from benchmarks.musicgen import build; from pathlib import Path; build(Path({str(cache)!r}))"],
                       check=True, cwd=ROOT)
    write_prompt_tokenizer(cache)  # (a cache from before PROMPT_PIECES spelt the prompt out)
    engines = args.engines.split(",")
    runs: dict[str, list[dict]] = {engine: [] for engine in engines}
    for _ in range(args.repeats):  # the engines in turn, so that each round compares like with like
        for engine in engines:
            out = subprocess.run([sys.executable, __file__, "--worker", engine, "--seconds", str(args.seconds),
                                  "--threads", str(args.threads), "--cache", str(cache), "--device", args.device],
                                 capture_output=True, text=True, cwd=ROOT)
            runs[engine].append({"error": out.stderr.strip().splitlines()[-1:]} if out.returncode
                                else json.loads(out.stdout.strip().splitlines()[-1]))
    import os
    import statistics

    results = {}
    for engine, rounds in runs.items():
        done = sorted((r for r in rounds if "steps_per_s" in r), key=lambda r: r["steps_per_s"])
        results[engine] = ({**done[(len(done) - 1) // 2], "steps_per_s_runs": [r["steps_per_s"] for r in rounds
                                                                                if "steps_per_s" in r]}
                           if done else rounds[-1])  # the median run (the lower of two), or the error
    report = {"benchmark": f"MusicGen (musicgen-small shapes, random weights), {args.device.upper()}",
              "cpu_count": os.cpu_count(), "threads": args.threads, "seconds": args.seconds, "guidance": 3.0,
              "top_k": 250, "repeats": args.repeats, "results": results}
    peers = runs.get("transformers:float32", [])
    for compute in ("float32", "float32-eager", "int8", "bfloat16"):
        ratios = [ours["steps_per_s"] / peer["steps_per_s"] for ours, peer in zip(runs.get(f"motet:{compute}", []), peers)
                  if "steps_per_s" in ours and "steps_per_s" in peer]
        if ratios:  # each round's ratio (its runs side by side in time), the median of them
            report[f"ratio_{compute}"] = round(statistics.median(ratios), 2)
            report[f"ratio_{compute}_runs"] = [round(r, 2) for r in ratios]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
