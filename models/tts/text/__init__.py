"""Text front-end shared by TTS training and inference (and by corpus manifests)."""

from models.tts.text.normalize import clean_text

__all__ = ["clean_text"]
