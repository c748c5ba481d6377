"""The Generate feature: MusicGen text-to-music and audio continuation (not built yet)."""
