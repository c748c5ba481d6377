"""Audio: devices, capture, ring buffer, recording, files, DSP. No Qt here."""
