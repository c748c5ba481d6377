"""MIDI: the Score model, standard MIDI files, editing operations, SoundFont synthesis (no Qt)."""
