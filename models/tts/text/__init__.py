"""Text front-end shared by TTS training and inference (and by corpus manifests)."""

from models.tts.text.frontend import TextError, TextFrontEnd
from models.tts.text.normalize import clean_text

__all__ = ["TextError", "TextFrontEnd", "clean_text"]
