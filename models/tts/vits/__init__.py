"""VITS in torch (training and export); the runtime reads the exported ONNX (``models.tts.voice``)."""

from models.tts.vits.config import SIZES, VitsConfig, size_config
from models.tts.vits.model import Vits, VitsOnnx, remove_weight_norm

__all__ = ["SIZES", "Vits", "VitsConfig", "VitsOnnx", "remove_weight_norm", "size_config"]
