"""Motet engine: audio, models, jobs. Never imports Qt."""
__version__ = "0.1.0"
