"""Speech for the batch tests: 30 short espeak clips and one long file of 20 sentences with
pauses (its true sentence spans known), made once per session."""

import shutil

import pytest

from speech import SENTENCES, VOICES, build, espeak


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """A folder of 30 short clips (sentences in two voices) and the long file beside them."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("batch-input")
    for i in range(30):
        espeak(SENTENCES[i % len(SENTENCES)], VOICES[(i // len(SENTENCES) + i) % 2], folder / f"clip{i:02d}.wav")
    work = tmp_path_factory.mktemp("batch-long")
    path, spans = build([(s, VOICES[i % 2]) for i, s in enumerate(SENTENCES)], work, "long")
    shutil.copy(path, folder / "long.wav")
    return folder, spans
