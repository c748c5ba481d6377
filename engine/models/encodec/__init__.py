"""EnCodec, the neural audio codec of MusicGen: audio to codes and back (DESIGN.md §3)."""

from engine.models.encodec.config import EncodecConfig
from engine.models.encodec.loading import build_encodec, load_encodec
from engine.models.encodec.model import Encodec

__all__ = ["Encodec", "EncodecConfig", "build_encodec", "load_encodec"]
