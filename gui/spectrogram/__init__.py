"""The spectrogram feature: a scrolling image of live audio, or a static one of a whole file."""
