"""AlignTTS (Zeng et al. 2020) in torch: text → log-mel spectrogram; the first stage of the two-stage TTS."""

from models.tts.aligntts.config import SIZES, AlignTtsConfig, size_config
from models.tts.aligntts.model import AlignTts, AlignTtsOnnx

__all__ = ["SIZES", "AlignTts", "AlignTtsConfig", "AlignTtsOnnx", "size_config"]
