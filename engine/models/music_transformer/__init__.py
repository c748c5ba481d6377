"""The Music Transformer (Huang et al. 2018): relative self-attention over performance events."""
