"""The Generate feature: MusicGen text-to-music and audio continuation (the page, its form, model
picker, audio to continue and results)."""
