import threading

import numpy as np
import pytest

from engine.audio.ringbuffer import RingBuffer


def test_readers_see_the_same_frames_in_order_across_the_wrap():
    ring = RingBuffer(100, channels=2)
    a, b = ring.reader(), ring.reader()
    got_a, got_b = [], []
    sent = np.arange(1000, dtype=np.float32).repeat(2).reshape(-1, 2)
    for i in range(0, 1000, 37):
        ring.write(sent[i:i + 37])
        got_a.append(a.read())
        if i % 74 == 0:
            got_b.append(b.read())
    got_b.append(b.read())
    assert np.array_equal(np.concatenate(got_a), sent)
    assert a.lost_frames == 0
    # b reads every other block, never more than 100 behind: nothing lost either
    assert np.array_equal(np.concatenate(got_b), sent)


def test_a_slow_reader_loses_the_oldest_frames_and_counts_them():
    ring = RingBuffer(50)
    r = ring.reader()
    ring.write(np.arange(120, dtype=np.float32))
    out = r.read()
    assert r.lost_frames == 70
    assert np.array_equal(out[:, 0], np.arange(70, 120, dtype=np.float32))


def test_write_larger_than_capacity_keeps_the_newest():
    ring = RingBuffer(10)
    r = ring.reader()
    ring.write(np.arange(25, dtype=np.float32))
    assert np.array_equal(r.read()[:, 0], np.arange(15, 25, dtype=np.float32))
    assert r.lost_frames == 15


def test_close_lets_a_waiting_reader_drain_then_finish():
    ring = RingBuffer(1000)
    r = ring.reader()
    chunks = []

    def consume():
        while not r.exhausted:
            chunks.append(r.read(timeout=None))

    t = threading.Thread(target=consume)
    t.start()
    for i in range(20):
        ring.write(np.full(10, i, np.float32))
    ring.close()
    t.join(5)
    assert not t.is_alive()
    assert np.concatenate(chunks).shape == (200, 1)


def test_max_frames_and_from_start():
    ring = RingBuffer(8)
    ring.write(np.arange(12, dtype=np.float32))
    r = ring.reader(from_start=True)
    assert np.array_equal(r.read(max_frames=3)[:, 0], [4, 5, 6])
    assert r.available() == 5


def test_rejects_nonsense_sizes():
    with pytest.raises(ValueError):
        RingBuffer(0)
