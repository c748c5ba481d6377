"""Batch work: many files to transcribe, or many prompts to render, in this process or on a Ray
cluster, resumable through a manifest in the output folder.

``inputs`` (what to work on, where outputs go), ``pieces`` (long files cut at silences, and their
transcripts stitched back), ``manifest`` (what is done, by content), ``workers`` (one item of
work, the same code in-process and on a cluster), ``executors`` (in-process or Ray actors),
``runner`` (the batch from start to summary). The models load through the registry, as
everywhere else: there is no second code path for them.
"""
