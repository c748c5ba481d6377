"""What every model family needs, written once: attention, the KV cache, sampling, positional
encodings and checkpoint reading (with the one ``CheckpointError``).

A family (``whisper/``, ``music_transformer/``, the ones to come) keeps only what is its own: its
architecture's blocks, its checkpoint's names, its decoding loop.
"""
