"""Composed pieces kept across restarts (issue #29 item 2): the compose job keeps each piece in
the CompositionLibrary (a .mid and its sidecar, atomically); listed again, newest first; the
folder is data from anyone: a bad sidecar, a foreign id, a link or a .mid that is not MIDI is
passed over, and nothing outside the folder is read."""

import json
import os

import pytest
from composer_helpers import random_composer

from engine.tasks.compositions import CompositionError, CompositionLibrary
from engine.tasks.compose import ComposeRequest, compose_piece


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return random_composer(tmp_path_factory.mktemp("composer"))


def test_pieces_are_kept_and_listed_again(model, tmp_path):
    library = CompositionLibrary(tmp_path / "compositions")
    made = compose_piece(None, ComposeRequest("a jig in D major, 2 bars, fiddle", variations=2, seed=5), model,
                         library=library)
    assert not made.not_kept and [p.variation for p in made.kept] == [1, 2]
    again = CompositionLibrary(tmp_path / "compositions").list()  # a new library: as after a restart
    assert {p.id for p in again} == {p.id for p in made.kept}
    for piece in again:
        assert piece.prompt == "a jig in D major, 2 bars, fiddle" and piece.seed == 5 and piece.variations == 2
        assert piece.controls == made.controls and piece.settings == {"temperature": 1.0, "top_p": 0.95}
        original = made.scores[piece.variation - 1]
        assert [n.pitch for n in piece.score.tracks[0].notes] == [n.pitch for n in original.tracks[0].notes]
    assert sorted(os.listdir(tmp_path / "compositions")) == sorted(
        f"{p.id}{s}" for p in again for s in (".mid", ".json"))  # nothing half-written left


def test_hostile_entries_are_passed_over(model, tmp_path):
    root = tmp_path / "compositions"
    library = CompositionLibrary(root)
    made = compose_piece(None, ComposeRequest("a reel, 2 bars", seed=1), model, library=library)
    (good,) = made.kept
    meta = json.loads((root / f"{good.id}.json").read_text())
    outside = tmp_path / "outside.mid"
    outside.write_bytes((root / f"{good.id}.mid").read_bytes())

    def entry(piece_id, **changes):
        data = {**meta, "id": piece_id, **changes}
        (root / f"{piece_id}.json").write_text(json.dumps(data))

    entry("aaaaaaaaaaa1")  # no .mid
    entry("aaaaaaaaaaa2")
    os.symlink(outside, root / "aaaaaaaaaaa2.mid")  # a link out of the folder
    entry("aaaaaaaaaaa3")
    (root / "aaaaaaaaaaa3.mid").write_bytes(b"not midi at all")
    entry("aaaaaaaaaaa4", id="../../outside")  # the sidecar names another piece
    os.link(root / f"{good.id}.mid", root / "aaaaaaaaaaa4.mid")
    entry("aaaaaaaaaaa5", seed="7")
    os.link(root / f"{good.id}.mid", root / "aaaaaaaaaaa5.mid")
    entry("aaaaaaaaaaa6", controls={**meta["controls"], "meter": [7, 8]})
    os.link(root / f"{good.id}.mid", root / "aaaaaaaaaaa6.mid")
    (root / "aaaaaaaaaaa7.json").write_text("{not json")
    (root / "../outside.json").write_text(json.dumps(meta))
    entry("bbbbbbbbbbb1", variation=2, variations=1)
    os.link(root / f"{good.id}.mid", root / "bbbbbbbbbbb1.mid")
    os.symlink(root / f"{good.id}.json", root / "bbbbbbbbbbb2.json")  # a linked sidecar
    os.link(root / f"{good.id}.mid", root / "bbbbbbbbbbb2.mid")
    entry("ccccccccccc1")  # a good copy: listed
    os.link(root / f"{good.id}.mid", root / "ccccccccccc1.mid")
    assert sorted(p.id for p in CompositionLibrary(root).list()) == sorted([good.id, "ccccccccccc1"])
    with pytest.raises(CompositionError):
        library.delete("../outside")
    library.delete("ccccccccccc1")
    assert [p.id for p in library.list()] == [good.id] and outside.exists()


def test_a_folder_that_cannot_be_written_keeps_the_pieces(model, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    made = compose_piece(None, ComposeRequest("a reel, 2 bars", seed=1), model,
                         library=CompositionLibrary(blocked / "compositions"))
    assert made.scores and not made.kept and "could not keep the piece" in made.not_kept
    assert blocked.read_text() == "a file where the folder should be"
