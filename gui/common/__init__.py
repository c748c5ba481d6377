"""What every feature shares: persistent settings and small widgets (banner, durations, exports)."""
