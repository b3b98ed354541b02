"""Integer delay of the reference stream, with a cross-fade when the delay changes (no clicks)."""

from __future__ import annotations

import numpy as np


class DelayLine:
    """``process(block, delay_samples) -> block`` delayed by ``delay_samples`` (0..max_delay_samples).

    When the delay changes, the block cross-fades linearly from the old to the new delay, so a
    jump of the estimate does not put a step into the aligned reference.
    """

    def __init__(self, max_delay_samples: int, block_samples: int = 320) -> None:
        self.max_delay = int(max_delay_samples)
        self.block = int(block_samples)
        self._hist = np.zeros(self.max_delay + self.block)
        self._ramp = (np.arange(self.block) + 1.0) / self.block
        self.delay_samples = 0

    def _read(self, delay: int) -> np.ndarray:
        end = self._hist.shape[0] - delay
        return self._hist[end - self.block : end]

    def process(self, block: np.ndarray, delay_samples: int) -> np.ndarray:
        if block.shape[0] != self.block:
            raise ValueError(f"DelayLine expects blocks of {self.block} samples, got {block.shape[0]}")
        delay = int(min(max(delay_samples, 0), self.max_delay))
        self._hist[: -self.block] = self._hist[self.block :]
        self._hist[-self.block :] = block
        if delay == self.delay_samples:
            return self._read(delay).copy()
        out = (1.0 - self._ramp) * self._read(self.delay_samples) + self._ramp * self._read(delay)
        self.delay_samples = delay
        return out

    def reset(self) -> None:
        self._hist[:] = 0.0
        self.delay_samples = 0
