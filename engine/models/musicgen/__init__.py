"""MusicGen's language model (Copet et al. 2023) in PyTorch: the decoder over EnCodec codes
(``model``), its config (``config``), the delay pattern (``delay``), guided, KV-cached generation
(``generate``) and the Hugging Face loader (``loading``). The text encoder (T5) and the codec
(EnCodec) are families of their own.
"""
