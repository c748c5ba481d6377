"""The Record feature: record from an input with a live spectrogram, meter and transcript; manage takes."""
