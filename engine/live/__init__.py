"""Live transcription: voice activity, a growing window, LocalAgreement-2 (no Qt here)."""
