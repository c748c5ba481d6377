"""T5's encoder (MusicGen's text conditioner) in PyTorch: ``config`` (T5Config from a Hugging
Face config), ``model`` (T5Encoder), ``tokenizer`` (T5Tokenizer on tokenizer.json) and
``loading`` (build_t5_encoder from Hugging Face tensors, load_t5_encoder for a T5 folder)."""
