"""The Piano roll feature: edit MIDI notes, play them, and let the composer continue them."""
