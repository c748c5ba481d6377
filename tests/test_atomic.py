"""The one way Motet saves a file: no symlink followed, nothing replaced that must not be."""

import os

import pytest

from engine.atomic import FileExistsWriteError, WriteError, append_synced, atomic_path, free_path, write_text


def test_replace_false_never_touches_an_existing_file(tmp_path):
    target = tmp_path / "take.wav"
    target.write_text("a recording")
    with pytest.raises(FileExistsWriteError, match="exists already"):
        write_text(target, "a clip", replace=False)
    assert target.read_text() == "a recording"
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]  # no temporary left


def test_replace_false_refuses_a_dangling_symlink(tmp_path):
    outside = tmp_path / "outside.txt"
    link = tmp_path / "out.txt"
    link.symlink_to(outside)
    with pytest.raises(FileExistsWriteError):
        write_text(link, "x", replace=False)
    assert not outside.exists()


def test_replace_swaps_a_symlink_itself_never_its_target(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    link = tmp_path / "out.txt"
    link.symlink_to(outside)
    write_text(link, "new")
    assert outside.read_text() == "secret"
    assert not link.is_symlink() and link.read_text() == "new"


def test_a_name_taken_while_writing_is_not_replaced(tmp_path):
    target = tmp_path / "piece.mid"
    with pytest.raises(FileExistsWriteError):
        with atomic_path(target, replace=False) as tmp:
            tmp.write_text("ours")
            target.write_text("someone else's")  # another process, in between
    assert target.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["piece.mid"]


def test_free_path_skips_files_links_and_taken_names(tmp_path):
    (tmp_path / "a.wav").write_text("")
    (tmp_path / "a-2.wav").symlink_to(tmp_path / "nowhere")
    assert free_path(tmp_path / "a.wav") == tmp_path / "a-3.wav"
    assert free_path(tmp_path / "a.wav", {"a-3.wav"}) == tmp_path / "a-4.wav"
    assert free_path(tmp_path / "b.wav") == tmp_path / "b.wav"


def test_append_refuses_a_symlink_and_a_fifo(tmp_path):
    target = tmp_path / "profile"
    target.write_text("start\n")
    link = tmp_path / "motet-batch.jsonl"
    link.symlink_to(target)
    with pytest.raises(WriteError, match="symbolic link"):
        append_synced(link, b"$(rm -rf ~)\n")
    assert target.read_text() == "start\n"
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(WriteError):
        append_synced(fifo, b"x\n")  # never blocks waiting for a reader
    append_synced(tmp_path / "new.jsonl", b"one\n")
    append_synced(tmp_path / "new.jsonl", b"two\n")
    assert (tmp_path / "new.jsonl").read_text() == "one\ntwo\n"


def test_text_with_a_lone_surrogate_is_written_escaped(tmp_path):
    """An argument with undecodable bytes (surrogate-escaped) is saved, not a crash."""
    write_text(tmp_path / "log.txt", "prompt: caf\udcff")
    assert (tmp_path / "log.txt").read_text() == "prompt: caf\\udcff"


def test_audio_under_a_name_with_undecodable_bytes(tmp_path):
    import numpy as np

    from engine.audio.files import load_audio, write_audio

    name = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xff.wav")
    write_audio(name, np.zeros(160, np.float32), 16000)
    assert os.listdir(os.fsencode(tmp_path)) == [b"caf\xff.wav"]
    assert load_audio(name)[0].shape[0] == 160
