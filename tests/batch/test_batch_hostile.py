"""`motet batch` against hostile folders and inputs (issue #26): a manifest that is a link or names
files outside its folder, manifest lines of the wrong shape, files in the way of outputs, two
batches in one folder, an input changed while it is worked on, more workers than the machine
holds, a read-only output folder, a model that fails at run time, prompts files that are not what
they seem. The workers are stand-ins (batch_fakes): what is tested is the runner's promises."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from batch.batch_fakes import FakeGenerator, FakeTranscriber, transcript_of, use_fakes, wav

import engine.batch.executors as executors
from engine.atomic import WriteError
from engine.batch.executors import Fit, RayCluster, WorkerSpec, fit_workers
from engine.batch.inputs import BatchInputError
from engine.batch.lock import LOCK_NAME
from engine.batch.manifest import MANIFEST_NAME, Manifest, safe_output
from engine.batch.runner import MAX_PROMPT_CHARS, generate_batch, read_prompts, transcribe_batch
from engine.batch.workers import RenderSettings
from engine.cli import run

GB = 1 << 30
SHORT = RenderSettings(seconds=0.2)


@pytest.fixture
def fakes(monkeypatch):
    use_fakes(monkeypatch)


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"  # any folder is a model to the stand-ins
    folder.mkdir()
    return str(folder)


@pytest.fixture
def speech(tmp_path):
    folder = tmp_path / "in"
    wav(folder / "speech1.wav", freq=440)
    wav(folder / "speech2.wav", freq=660)
    return folder


def _prompts(tmp_path, *lines):
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _records(out):
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]


def _cli(capsys, *argv):
    code = run([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _text(path):
    return path.read_text().strip()


# 1. the manifest is never followed through a link, and must be a regular file

@pytest.mark.parametrize("kind", ["link", "dangling link", "folder", "fifo"])
def test_a_manifest_that_is_not_a_regular_file_is_refused_before_any_work(fakes, model, speech, tmp_path, capsys,
                                                                          kind):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.jsonl"
    manifest = out / MANIFEST_NAME
    if kind == "link":
        victim.write_text("mine\n")
        manifest.symlink_to(victim)
    elif kind == "dangling link":
        manifest.symlink_to(victim)
    elif kind == "folder":
        manifest.mkdir()
    else:
        os.mkfifo(manifest)
    with pytest.raises(BatchInputError, match="batch manifest"):
        transcribe_batch([speech], out, model=model)
    for argv in (["transcribe", speech], ["generate", _prompts(tmp_path, "slow piano"), "--seconds", "0.2"]):
        code, stdout, err = _cli(capsys, "batch", *argv, "--output-dir", out, "--model", model)
        assert code == 2 and stdout == ""
        assert err.strip().count("\n") == 0 and err.startswith("motet: ") and f"manifest {manifest}" in err
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, MANIFEST_NAME]  # nothing written
    if kind == "link":
        assert victim.read_text() == "mine\n"
    if kind == "dangling link":
        assert not victim.exists()


def test_a_manifest_swapped_for_a_link_during_the_batch_is_not_written_through(fakes, model, speech, tmp_path,
                                                                               monkeypatch):
    out = tmp_path / "out"
    victim = tmp_path / "victim.jsonl"
    victim.write_text("mine\n")

    def swap(piece):
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        (out / MANIFEST_NAME).symlink_to(victim)

    monkeypatch.setattr(FakeTranscriber, "during", swap)
    with pytest.raises(WriteError, match="symbolic link"):
        transcribe_batch([speech], out, model=model)
    assert victim.read_text() == "mine\n"


# 2. a manifest names outputs inside its folder only; lines of the wrong shape are ignored

@pytest.mark.parametrize("named", ["absolute", "dotdot", "link", "through a linked folder", "a folder", "empty"])
def test_a_manifest_line_never_pulls_a_file_from_outside_its_folder(fakes, model, speech, tmp_path, named):
    out = tmp_path / "out"
    assert len(transcribe_batch([speech], out, model=model).done) == 2
    key = next(r["key"] for r in _records(out) if r["sources"] == [str(speech / "speech1.wav")])
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    (out / "speech1.txt").unlink()
    (out / "link.txt").symlink_to(secret)
    (out / "up").symlink_to(tmp_path)
    (out / "sub").mkdir()
    outputs = {"absolute": [str(secret)], "dotdot": ["../secret.txt"], "link": ["link.txt"],
               "through a linked folder": ["up/secret.txt"], "a folder": ["sub"], "empty": []}[named]
    with open(out / MANIFEST_NAME, "a") as f:
        f.write(json.dumps({"key": key, "status": "done", "outputs": outputs}) + "\n")
    again = transcribe_batch([speech], out, model=model)
    assert again.done == [str(speech / "speech1.wav")] and again.skipped == [str(speech / "speech2.wav")]
    assert _text(out / "speech1.txt") == transcript_of("speech1.wav")
    assert secret.read_text() == "the secret"


def test_safe_outputs_are_regular_files_inside_the_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    (tmp_path / "c.txt").symlink_to(tmp_path / "b.txt")
    assert safe_output(tmp_path, "sub/a.txt") == tmp_path / "sub" / "a.txt"
    assert safe_output(tmp_path, "b.txt") == tmp_path / "b.txt"
    for bad in ["link/a.txt", "c.txt", "sub", "../b.txt", "sub/../b.txt", str(tmp_path / "b.txt"), "", "./b.txt",
                "sub//a.txt", "missing.txt", 7, None]:
        assert safe_output(tmp_path, bad) is None, bad


BAD_LINES = [b"1", b"[1, 2]", b'[[["a.wav"]]]', b'"text"', b"null", b"true", b"{}", b"[" * 100_000,
             b'{"key": 5, "status": "done", "outputs": []}',
             b'{"key": "k1", "status": "done", "outputs": "a.wav"}',
             b'{"key": "k2", "status": "done", "outputs": [1, 2]}',
             b'{"key": "k3", "status": "done", "outputs": [["a.wav"]]}',
             b'{"key": "k4", "status": "done", "outputs": [{"a": 1}]}',
             b'{"key": "k5", "status": ["done"], "outputs": []}',
             b'{"key": ["k6"], "status": "done", "outputs": ["a.wav"]}',
             b'{"key": "k7", "status": "done", "outputs": null}',
             b'{"key": "k8", "status": "done", "outputs": ["a.wav"]} trailing',
             b'{"key": "k9", "status": "done", "outputs": ["\xff\xfe.wav"]}',
             b"\xff\xfe\x00 not text", b'{"key": "k10", "status": "do']


def test_manifest_lines_of_the_wrong_shape_are_ignored_and_the_batch_goes_on(fakes, model, speech, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_bytes(b"\n".join(BAD_LINES) + b"\n")
    (out / "a.wav").write_bytes(b"not ours")
    manifest = Manifest(out)
    assert manifest.records == {} and manifest.owned() == set()
    made = generate_batch(_prompts(tmp_path, "a lively jig", "slow piano"), out, model, SHORT, 1)
    assert made.done == ["a lively jig", "slow piano"] and not made.failed
    again = generate_batch(_prompts(tmp_path, "a lively jig", "slow piano"), out, model, SHORT, 1)
    assert again.skipped == ["a lively jig", "slow piano"] and not again.done
    heard = transcribe_batch([speech], out, model=model)
    assert len(heard.done) == 2 and not heard.failed
    assert (out / "a.wav").read_bytes() == b"not ours"


# 3. never overwrite a file the batch did not write; never write through a link

def test_a_transcript_never_replaces_a_file_the_batch_did_not_write(fakes, model, speech, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "speech1.txt").write_text("my own notes")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    (out / "speech2.txt").symlink_to(outside)
    warnings = []
    summary = transcribe_batch([speech], out, model=model, warn=warnings.append)
    assert sorted(summary.done) == [str(speech / "speech1.wav"), str(speech / "speech2.wav")]
    assert (out / "speech1.txt").read_text() == "my own notes" and outside.read_text() == "outside"
    assert (out / "speech2.txt").is_symlink()
    assert _text(out / "speech1-2.txt") == transcript_of("speech1.wav")
    assert _text(out / "speech2-2.txt") == transcript_of("speech2.wav")
    assert summary.renamed == {str(out / "speech1.txt"): str(out / "speech1-2.txt"),
                               str(out / "speech2.txt"): str(out / "speech2-2.txt")}
    assert summary.notes == warnings and len(warnings) == 2
    assert "speech1.txt is there and is not this batch's output: writing speech1-2.txt beside it" in warnings[0]
    again = transcribe_batch([speech], out, model=model)  # done: nothing more is written beside it
    assert len(again.skipped) == 2 and not again.done and not again.renamed
    wav(speech / "speech1.wav", freq=880)  # edited: its own output is replaced, the user's file left alone
    third = transcribe_batch([speech], out, model=model)
    assert third.done == [str(speech / "speech1.wav")] and (out / "speech1.txt").read_text() == "my own notes"
    assert sorted(p.name for p in out.glob("speech1*")) == ["speech1-2.txt", "speech1.txt"]


def test_a_renamed_input_gets_its_copy_beside_a_file_in_the_way(fakes, model, speech, tmp_path):
    out = tmp_path / "out"
    transcribe_batch([speech], out, model=model)
    (speech / "speech2.wav").rename(speech / "renamed.wav")
    (out / "renamed.txt").write_text("someone else's")
    summary = transcribe_batch([speech], out, model=model)
    assert not summary.done and sorted(summary.skipped) == [str(speech / "renamed.wav"), str(speech / "speech1.wav")]
    assert (out / "renamed.txt").read_text() == "someone else's"
    assert _text(out / "renamed-2.txt") == transcript_of("speech2.wav")
    assert len(transcribe_batch([speech], out, model=model).skipped) == 2  # and that copy counts as done


def test_nothing_is_written_through_a_linked_folder_in_the_output(fakes, model, tmp_path):
    inputs = tmp_path / "in"
    wav(inputs / "talks" / "a.wav")
    wav(inputs / "b.wav", freq=660)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "talks").symlink_to(elsewhere)
    summary = transcribe_batch([inputs], out, model=model)
    assert summary.done == [str(inputs / "b.wav")]
    assert "talks is a symbolic link" in summary.failed[str(inputs / "talks" / "a.wav")]
    assert list(elsewhere.iterdir()) == []


def test_a_rendered_piece_never_replaces_a_file_the_batch_did_not_write(fakes, model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "slow-piano.wav").write_bytes(b"my recording")
    (out / "a-lively-jig.wav").symlink_to(tmp_path / "nowhere.wav")
    warnings = []
    summary = generate_batch(_prompts(tmp_path, "slow piano", "a lively jig"), out, model, SHORT, 1,
                             warn=warnings.append)
    assert summary.done == ["slow piano", "a lively jig"]
    assert (out / "slow-piano.wav").read_bytes() == b"my recording"
    assert (out / "a-lively-jig.wav").is_symlink() and not (tmp_path / "nowhere.wav").exists()
    assert sorted(Path(p).name for p in summary.outputs) == ["a-lively-jig-2.wav", "slow-piano-2.wav"]
    assert summary.renamed == {str(out / "slow-piano.wav"): str(out / "slow-piano-2.wav"),
                               str(out / "a-lively-jig.wav"): str(out / "a-lively-jig-2.wav")}
    assert len(warnings) == 2 and all("is not this batch's output" in w for w in warnings)


def test_a_name_taken_while_the_music_is_made_is_left_alone(fakes, model, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = FakeGenerator.run

    def someone_writes_first(self, render, should_stop=None):
        (out / "slow-piano.wav").write_bytes(b"theirs")
        return real(self, render, should_stop)

    monkeypatch.setattr(FakeGenerator, "run", someone_writes_first)
    summary = generate_batch(_prompts(tmp_path, "slow piano"), out, model, SHORT, 1)
    assert summary.done == [] and "exists already" in summary.failed["slow piano"]
    assert (out / "slow-piano.wav").read_bytes() == b"theirs"


# 4. one batch at a time in a folder

HOLD = ("import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, str(os.getpid()).encode())\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n")


def test_a_second_batch_into_the_same_folder_is_refused_while_the_first_runs(fakes, model, speech, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out / LOCK_NAME)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = (f"another motet batch is writing into {out} (pid {holder.pid}); wait for it or choose another "
                f"--output-dir")
        with pytest.raises(BatchInputError, match=re.escape(line)):
            transcribe_batch([speech], out, model=model)
        code, stdout, err = _cli(capsys, "batch", "generate", _prompts(tmp_path, "slow piano"), "--output-dir", out,
                                 "--model", model, "--seconds", "0.2", "--seed", "1")
        assert (code, stdout, err.strip()) == (2, "", f"motet: {line}")
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    assert len(transcribe_batch([speech], out, model=model).done) == 2  # the lock died with its process


def test_the_lock_is_held_while_the_batch_works_and_released_after(fakes, model, speech, tmp_path, monkeypatch):
    out = tmp_path / "out"
    seen = []

    def try_the_lock(piece):
        fd = os.open(out / LOCK_NAME, os.O_RDWR)  # another open file description, as another process has
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append("free")
        except BlockingIOError:
            seen.append("held")
        finally:
            os.close(fd)
        with pytest.raises(BatchInputError, match="another motet batch is writing into"):
            generate_batch(_prompts(tmp_path, "slow piano"), out, model, SHORT, 1)

    monkeypatch.setattr(FakeTranscriber, "during", try_the_lock)
    assert len(transcribe_batch([speech], out, model=model).done) == 2
    assert seen == ["held", "held"] and not list(out.glob("*.wav"))
    fd = os.open(out / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
    finally:
        os.close(fd)


def test_a_lock_file_that_is_a_link_is_refused(fakes, model, speech, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BatchInputError, match="symbolic link"):
        transcribe_batch([speech], out, model=model)
    assert not (tmp_path / "elsewhere").exists()


# 6. an input changed while it is worked on is not recorded as done

@pytest.mark.parametrize("change", ["truncated", "rewritten, times set back"])
def test_a_file_changed_while_it_is_transcribed_is_not_recorded_as_done(fakes, model, speech, tmp_path, monkeypatch,
                                                                        change):
    out = tmp_path / "out"
    target = speech / "speech1.wav"

    def meddle(piece):
        if piece.path != str(target):
            return
        if change == "truncated":
            os.truncate(target, 44)
        else:
            before = os.stat(target)
            data = bytearray(target.read_bytes())
            data[-100:] = bytes(100)
            target.write_bytes(data)
            os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))

    monkeypatch.setattr(FakeTranscriber, "during", meddle)
    summary = transcribe_batch([speech], out, model=model)
    assert summary.done == [str(speech / "speech2.wav")]
    assert summary.failed == {str(target): f"{target} changed while it was transcribed; run the batch again"}
    assert not (out / "speech1.txt").exists()
    assert [r["status"] for r in _records(out) if r["sources"] == [str(target)]] == ["failed"]
    monkeypatch.setattr(FakeTranscriber, "during", None)
    wav(target, freq=880)
    again = transcribe_batch([speech], out, model=model)
    assert again.done == [str(target)] and again.skipped == [str(speech / "speech2.wav")]


# 9. workers x threads capped at the CPUs, workers at the memory (and GPUs)

def test_workers_are_capped_at_the_cpus_the_memory_and_the_gpus():
    assert fit_workers(100, 1, 2, 20 * GB, GB // 2) == Fit(2, 1, "100 workers asked, 2 used: this machine has 2 CPUs")
    assert fit_workers(None, 1, 2, 20 * GB, GB // 2) == Fit(2, 1)
    assert fit_workers(2, 1, 2, 20 * GB, GB // 2) == Fit(2, 1)
    assert fit_workers(100, 8, 2, None, None) == Fit(1, 2, "100 workers x 8 threads asked, 1 x 2 used: this machine "
                                                           "has 2 CPUs")
    assert fit_workers(1, 8, 2, None, None) == Fit(1, 2, "8 threads per worker asked, 2 used: this machine has 2 CPUs")
    fit = fit_workers(100, 1, 64, 3 * GB, GB, "the cluster has")
    assert fit.workers == 3 and fit.note.startswith("100 workers asked, 3 used: the cluster has 3.0 GB of memory")
    assert fit_workers(8, 1, 64, None, None, "the cluster has", 2) == Fit(2, 1, "8 workers asked, 2 used: the "
                                                                               "cluster has 2 GPUs")
    assert fit_workers(None, 1, 64, GB // 4, GB).workers == 1  # one worker at least: its model may still fit


class FakeRay:
    """What RayCluster asks of Ray, with the resources a cluster would report."""

    class exceptions:  # noqa: N801 - Ray's name
        RayActorError = RuntimeError

    def __init__(self, resources=None):
        self.resources, self.init_kwargs = resources, None

    def is_initialized(self):
        return False

    def init(self, **kwargs):
        self.init_kwargs = kwargs

    def cluster_resources(self):
        return self.resources or {"CPU": float(self.init_kwargs["num_cpus"]), "memory": 64.0 * GB}

    def remote(self, **options):
        self.actor_options = options

        class Handle:
            @staticmethod
            def remote(*args):
                return object()

        return lambda cls: Handle

    def shutdown(self):
        pass


def test_a_ray_cluster_gets_no_more_workers_than_it_has_cpus_memory_and_gpus(monkeypatch):
    monkeypatch.setattr(os, "environ", dict(os.environ))  # a ray:// address may set RAY_AUTH_MODE
    monkeypatch.setattr(executors, "machine_cpus", lambda: 2)
    monkeypatch.setattr(executors, "available_memory", lambda: 64 * GB)
    spec = WorkerSpec(object, {"device": "cpu"})
    ray = FakeRay()
    monkeypatch.setattr(executors, "_ray", lambda: ray)
    local = RayCluster("local", spec, workers=100, threads=1, per_worker=GB)
    assert ray.init_kwargs["num_cpus"] == 2 and local.workers == 2 and len(local.actors) == 2
    assert local.note == "100 workers asked, 2 used: this machine has 2 CPUs"
    ray = FakeRay({"CPU": 16.0, "memory": 3.0 * GB})
    remote = RayCluster("ray://head:10001", spec, workers=64, threads=2, per_worker=GB)
    assert (remote.workers, remote.threads, len(remote.actors)) == (3, 2, 3)
    assert remote.note.startswith("64 workers asked, 3 used: the cluster has 3.0 GB of memory free")
    ray = FakeRay({"CPU": 16.0, "GPU": 1.0})
    gpu = RayCluster("auto", WorkerSpec(object, {"device": "cuda"}), workers=4, threads=1)
    assert gpu.workers == 1 and gpu.note == "4 workers asked, 1 used: the cluster has 1 GPU"
    assert ray.actor_options["num_gpus"] == 1


def test_the_ray_token_mode_is_set_only_before_ray_is_imported(monkeypatch, tmp_path):
    """Set after Ray's import, RAY_AUTH_MODE reached only the processes Ray started later: a
    "local" cluster's GCS then asked this process for a token it never sent ("Failed to start GCS",
    seen in CI once a `ray start` had left ~/.ray/auth_token behind)."""
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("x" * 64)
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")})
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "ray", object())  # imported already
    executors._use_token_if_there()
    assert "RAY_AUTH_MODE" not in os.environ
    monkeypatch.delitem(sys.modules, "ray")  # not imported yet: the client will read the mode
    executors._use_token_if_there()
    assert os.environ["RAY_AUTH_MODE"] == "token"


def test_in_process_the_threads_are_capped_and_extra_workers_said(fakes, model, speech, tmp_path, capsys,
                                                                 monkeypatch):
    import torch

    monkeypatch.setattr(executors, "machine_cpus", lambda: 2)
    threads = torch.get_num_threads()
    try:
        code, stdout, err = _cli(capsys, "batch", "transcribe", speech, "--output-dir", tmp_path / "out", "--model",
                                 model, "--workers", "100", "--threads-per-worker", "64")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert code == 0 and len(json.loads(stdout)["done"]) == 2
    line = ("motet: 100 workers asked, 1 used: without --cluster the batch runs in this process; "
            "64 threads asked, 2 used: this machine has 2 CPUs")
    assert [w for w in err.splitlines() if w.startswith("motet")] == [line]
    assert json.loads(stdout)["notes"] == [line.removeprefix("motet: ")]


# 13. a read-only output folder is one line; a model failing at run time fails its item

@pytest.mark.parametrize("what", ["transcribe", "generate"])
@pytest.mark.parametrize("where", ["new folder", "existing folder"])
def test_a_read_only_output_folder_is_one_line_and_exit_2(fakes, model, speech, tmp_path, capsys, monkeypatch, what,
                                                          where):
    out = tmp_path / "read-only"
    if where == "existing folder":
        out.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def read_only(path):
        return Path(path) == out or out in Path(path).parents

    def open_(path, flags, *args, **kwargs):
        if read_only(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if read_only(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)
    argv = ["transcribe", speech] if what == "transcribe" else ["generate", _prompts(tmp_path, "slow piano"),
                                                                "--seconds", "0.2"]
    code, stdout, err = _cli(capsys, "batch", *argv, "--output-dir", out, "--model", model)
    assert (code, stdout, err.strip()) == (2, "", f"motet: cannot write in --output-dir {out}: it is on a "
                                                  f"read-only file system")


def test_a_model_that_fails_at_run_time_fails_its_prompt_not_the_batch(model, tmp_path, monkeypatch):
    import engine.tasks.generate as tasks_generate

    class Tokens:
        def encode(self, texts, max_length=None):
            return np.ones((1, 3)), np.ones((1, 3))

    class Damaged:  # what MusicGen with NaN weights raises when it samples
        sample_rate, name, tokenizer = 32000, "damaged", Tokens()

        def generate(self, prompts, seconds, *args, **kwargs):
            if prompts[0] == "broken":
                raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
            return np.zeros((len(prompts), 1, round(seconds * 32000)), np.float32)

    monkeypatch.setattr(tasks_generate, "musicgen", lambda *args, **kwargs: Damaged())
    summary = generate_batch(_prompts(tmp_path, "fine", "broken", "also fine"), tmp_path / "out", model, SHORT, 1)
    assert summary.done == ["fine", "also fine"] and list(summary.failed) == ["broken"]
    assert summary.failed["broken"] == ("MusicGen failed on it: probability tensor contains either `inf`, `nan` or "
                                        "element < 0 (the model's weights may be damaged)")


def test_whisper_failing_at_run_time_fails_its_file_not_the_batch(model, speech, tmp_path, monkeypatch):
    import engine.tasks.transcribe as tasks_transcribe

    class Damaged:
        def transcribe(self, samples, options, should_stop=None):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore details")

    monkeypatch.setattr(tasks_transcribe, "get_pipeline", lambda *args, **kwargs: Damaged())
    summary = transcribe_batch([speech], tmp_path / "out", model=model)
    assert summary.done == [] and sorted(summary.failed) == [str(speech / "speech1.wav"), str(speech / "speech2.wav")]
    assert all(why == "Whisper ran out of memory on it: CUDA out of memory. Tried to allocate 2.00 GiB"
               for why in summary.failed.values())


# prompts files: "\n" ends a prompt, nothing else; size, encoding and length bounded; seeds recorded

def test_only_a_newline_ends_a_prompt(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_bytes("\ufeffjazz\u2028with brass\r\nslow\x0cpiano\nfolk\x85song\r\n  # a note\n\n\rlast".encode())
    assert read_prompts(path) == ["jazz\u2028with brass", "slow\x0cpiano", "folk\x85song", "last"]


def test_a_prompts_file_that_is_not_text_or_too_big_is_one_line(fakes, model, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbad \xff\xfe here\n")
    with pytest.raises(BatchInputError, match=r"bad.txt is not UTF-8 text \(line 2, byte 9\); save it as UTF-8"):
        read_prompts(bad)
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(17 << 20)
    with pytest.raises(BatchInputError, match="big.txt is 17.0 MB; a prompts file is at most 16 MB"):
        read_prompts(big)
    long = tmp_path / "long.txt"
    long.write_text("# a note\n" + "ab" * 5000 + "\n")
    with pytest.raises(BatchInputError, match=f"line 2 of .*long.txt has 10000 characters; a prompt is at most "
                                              f"{MAX_PROMPT_CHARS}"):
        read_prompts(long)
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    with pytest.raises(BatchInputError, match="fifo.txt: it is not a regular file"):
        read_prompts(fifo)  # and no wait for a writer
    with pytest.raises(BatchInputError, match="it is a folder"):
        read_prompts(tmp_path)
    for path in (bad, big, long, fifo):
        code, stdout, err = _cli(capsys, "batch", "generate", path, "--output-dir", tmp_path / "out", "--model", model)
        assert code == 2 and stdout == "" and err.strip().count("\n") == 0 and err.startswith("motet: ")
    assert not (tmp_path / "out").exists()


def test_the_manifest_records_each_prompt_and_its_seed(fakes, model, tmp_path):
    out = tmp_path / "out"
    summary = generate_batch(_prompts(tmp_path, "a lively jig", "slow piano"), out, model, SHORT)  # seeds drawn
    assert summary.done == ["a lively jig", "slow piano"]
    records = _records(out)
    assert [(r["status"], r["prompt"]) for r in records] == [("done", "a lively jig"), ("done", "slow piano")]
    for record in records:
        assert isinstance(record["seed"], int)
        with sf.SoundFile(str(out / record["outputs"][0])) as f:
            assert f"seed {record['seed']}," in f.comment and f.title == record["prompt"]
