"""The Transcribe feature: audio files in (spectrogram, waveform, playback), Whisper transcripts out."""
