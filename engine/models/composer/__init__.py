"""Compose: a prompt becomes an editable MIDI piece, with a Transformer the project trains on
music21's corpus, conditioned on control tokens (style, key, meter, tempo, bars, texture)."""
