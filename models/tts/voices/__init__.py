"""Voices in other formats (Piper, Coqui TTS, MMS-TTS): tokenizers, espeak-ng phonemes, checkpoint converters.

Load them through :meth:`models.tts.voice.Voice.load` (``piper:PATH``, ``coqui:PATH``, ``mms:PATH`` or a path
whose kind is detected).
"""
