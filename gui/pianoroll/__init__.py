"""The Piano roll feature: edit MIDI notes, play them, and let the Music Transformer continue them."""
