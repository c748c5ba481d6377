"""The limits of the transcription options are defined once (engine/models/whisper/options.py):
the CLI's parser and the GUI's widgets accept exactly the same values, and the options object
refuses anything else whoever builds it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from engine.cli import build_parser
from engine.models.whisper.options import COMPUTE_TYPES, MAX_BATCH, MAX_BEAM_SIZE, TranscribeOptions


def _parse(*args):
    return build_parser().parse_args(["transcribe", "talk.wav", *args])


def test_the_cli_accepts_exactly_the_documented_range(capsys):
    assert _parse("--beam-size", "1").beam_size == 1
    assert _parse("--beam-size", str(MAX_BEAM_SIZE)).beam_size == MAX_BEAM_SIZE
    assert _parse("--batch-size", str(MAX_BATCH)).batch_size == MAX_BATCH
    assert _parse("--language", "German").language == "de"
    for args in (["--beam-size", "0"], ["--beam-size", str(MAX_BEAM_SIZE + 1)], ["--beam-size", "nan"],
                 ["--batch-size", str(MAX_BATCH + 1)], ["--batch-size", "-1"], ["--language", "klingon"]):
        with pytest.raises(SystemExit) as exit_:
            _parse(*args)
        assert exit_.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1  # one line, no usage block


@pytest.mark.parametrize("field, value", [("beam_size", 0), ("beam_size", MAX_BEAM_SIZE + 1), ("beam_size", 2.5),
                                          ("best_of", -1), ("task", "summarise")])
def test_options_outside_the_limits_are_refused_by_the_options_themselves(field, value):
    with pytest.raises(ValueError, match=field if field != "task" else "task must be"):
        TranscribeOptions(**{field: value})


def test_the_gui_offers_the_same_range(qtbot, tmp_path):
    from engine.device import choose_device, choose_dtype
    from engine.jobs import JobQueue
    from gui.jobs.bridge import JobsBridge
    from gui.transcribe.file_view import AudioFileView
    from gui.transcribe.view import TranscribeView

    cpu = choose_device("cpu")
    queue = JobQueue()
    try:
        settings = QSettings(str(tmp_path / "motet.ini"), QSettings.Format.IniFormat)
        bridge = JobsBridge(queue)
        files = AudioFileView(queue, bridge, settings)
        view = TranscribeView(queue, bridge, settings, files, compute=lambda: (cpu, choose_dtype(cpu)))
        qtbot.addWidget(files)
        qtbot.addWidget(view)
        assert (view.beam_spin.minimum(), view.beam_spin.maximum()) == (1, MAX_BEAM_SIZE)
        assert [view.compute_combo.itemData(i) for i in range(view.compute_combo.count())] == list(COMPUTE_TYPES)
        settings.setValue("transcribe/beam_size", 99)  # a hand-edited settings file
        view._load_settings()
        assert view.options().beam_size == MAX_BEAM_SIZE
    finally:
        queue.shutdown(timeout=5.0)
