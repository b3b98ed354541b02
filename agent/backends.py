"""Choosing and building the audio backend from the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import AgentConfig
from audio_io.device import NO_DEVICE_HINT, has_duplex_device


@dataclass(frozen=True)
class BackendChoice:
    kind: str  # "device", "room" or "wav"
    reason: str  # one sentence for the user
    available: bool = True  # False: the wanted backend cannot run here (reason says why)


def choose_backend(config: AgentConfig) -> BackendChoice:
    """Resolve ``audio.backend`` ('auto' picks the sound card when one exists, else the simulated room)."""
    wanted = config.audio.backend
    if wanted == "auto":
        if has_duplex_device():
            return BackendChoice("device", "using the sound card (default input and output devices)")
        return BackendChoice("room", "no sound card found: using the simulated room (a virtual speaker, room, "
                                     "microphone and scripted user)")
    if wanted == "device" and not has_duplex_device():
        return BackendChoice("device", f"audio.backend=device, but {NO_DEVICE_HINT}", available=False)
    return BackendChoice(wanted, f"audio.backend={wanted}")
