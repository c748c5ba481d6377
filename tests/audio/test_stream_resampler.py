"""Streaming resampling gives the same samples as resampling the whole signal at once."""

import numpy as np
import pytest

from engine.audio.dsp import StreamResampler
from engine.audio.files import resample


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000, 16000])
def test_block_by_block_equals_whole(rate):
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal(rate * 2 + 77) * 0.1).astype(np.float32)
    whole = resample(x, rate, 16000)
    r = StreamResampler(rate, 16000)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 3000))  # odd block sizes, some smaller than the filter
        out.append(r.push(x[i:i + n]))
        i += n
    out.append(r.flush())
    streamed = np.concatenate(out)
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_output_arrives_while_streaming_not_only_at_the_end():
    r = StreamResampler(48000, 16000)
    first = r.push(np.zeros(4800, np.float32))  # 100 ms in
    assert 1400 <= len(first) <= 1600  # ~100 ms out, less the filter's look-ahead


def test_rejects_bad_rates():
    with pytest.raises(ValueError):
        StreamResampler(0, 16000)
