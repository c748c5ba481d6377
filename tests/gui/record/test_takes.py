"""Managing takes in the Record view: list, rename, delete, export (no audio device needed)."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from engine.audio.takes import TakeLibrary


def _add_take(lib, name, seconds=1.0, sr=16000):
    take = lib.begin(sr, 1, name=name)
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
    sf.write(take.path, audio, sr, format="WAV", subtype="FLOAT")
    return lib.commit(take, seconds)


@pytest.fixture
def view(record_view_of, tmp_path):
    lib = TakeLibrary(tmp_path / "lib")
    _add_take(lib, "Morning idea", 1.0)
    _add_take(lib, "Chorus", 2.5)
    return record_view_of(lib)


def _row(view, name):
    for i in range(view.takes.topLevelItemCount()):
        if view.takes.topLevelItem(i).text(0) == name:
            return view.takes.topLevelItem(i)
    return None


def test_takes_are_listed_with_name_date_and_duration(view):
    assert view.takes.topLevelItemCount() == 2
    chorus = _row(view, "Chorus")
    assert chorus.text(2) == "00:02.5"
    assert chorus.text(1)[:4].isdigit()


def test_rename_in_place_persists(view):
    item = _row(view, "Chorus")
    item.setText(0, "Chorus v2")  # what editing the cell (F2) does
    assert {t.name for t in view.library.list()} == {"Morning idea", "Chorus v2"}
    item = _row(view, "Chorus v2")
    item.setText(0, "   ")  # an empty name is refused and the old one comes back
    assert _row(view, "Chorus v2") is not None
    assert view.banner.isVisible()


def test_delete_removes_take_and_file(view):
    item = _row(view, "Morning idea")
    view.takes.setCurrentItem(item)
    item.setSelected(True)
    path = view.library.get(item.data(0, Qt.ItemDataRole.UserRole)).path
    view.delete_selected(confirm=False)
    assert _row(view, "Morning idea") is None
    assert [t.name for t in view.library.list()] == ["Chorus"]
    import os

    assert not os.path.exists(path)


def test_export_as_flac_and_wav_runs_as_a_job(view, qtbot, tmp_path):
    take = next(t for t in view.library.list() if t.name == "Chorus")
    for suffix, fmt in ((".flac", "FLAC"), (".wav", "WAV")):
        out = tmp_path / f"chorus{suffix}"
        job_id = view.export_take(take.id, str(out))
        qtbot.waitUntil(lambda: view.queue.get(job_id).state.done, timeout=10000)
        info = sf.info(str(out))
        assert info.format == fmt and info.samplerate == 16000
        assert info.duration == pytest.approx(2.5)


def test_export_failure_shows_error_and_keeps_take(view, qtbot, tmp_path):
    take = next(t for t in view.library.list() if t.name == "Chorus")
    job_id = view.export_take(take.id, str(tmp_path / "missing-folder" / "x.wav"))
    qtbot.waitUntil(lambda: view.banner.isVisible(), timeout=10000)
    assert "failed" in view.banner.label.text()
    assert view.queue.get(job_id).error
    assert len(view.library.list()) == 2


def test_delete_and_f2_act_only_while_the_takes_list_has_the_focus(view, qtbot, monkeypatch):
    from PySide6.QtCore import Qt

    asked = []
    monkeypatch.setattr(type(view), "delete_selected", lambda self, confirm=True: asked.append("delete"))
    monkeypatch.setattr(type(view), "_rename_selected", lambda self: asked.append("rename"))
    view.takes.setCurrentItem(_row(view, "Chorus"))
    other = view.device_combo
    other.setFocus()
    qtbot.keyClick(other, Qt.Key.Key_Delete)
    assert asked == []
    view.takes.setFocus()
    qtbot.keyClick(view.takes, Qt.Key.Key_Delete)
    qtbot.keyClick(view.takes, Qt.Key.Key_F2)
    assert asked == ["delete", "rename"]
