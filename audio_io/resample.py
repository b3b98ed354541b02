"""Sample-rate conversion: whole signals and a streaming resampler with fixed-size output.

soxr's streaming resampler returns output in bursts (its filter delay), so
:class:`StreamResampler` buffers it and hands out exactly the samples asked for once they exist.
"""

from __future__ import annotations

import numpy as np
import soxr

from audio_io.ring import RingBuffer


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a whole mono float32 signal from ``rate_in`` Hz to ``rate_out`` Hz (soxr, high quality)."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


class StreamResampler:
    """Streaming mono resampler: ``push`` input blocks, ``pop`` output blocks of a fixed size.

    Two instances built with the same rates have the same delay, so the mic and the reference of
    a device stay aligned when both are resampled.
    """

    def __init__(self, rate_in: int, rate_out: int, capacity_s: float = 2.0) -> None:
        self.rate_in = int(rate_in)
        self.rate_out = int(rate_out)
        self._passthrough = self.rate_in == self.rate_out
        self._rs = None if self._passthrough else soxr.ResampleStream(self.rate_in, self.rate_out, 1, dtype="float32", quality="HQ")
        self._out = RingBuffer(int(capacity_s * self.rate_out) + 8192)

    def push(self, x: np.ndarray) -> None:
        """Feed input samples at ``rate_in``."""
        y = x if self._passthrough else self._rs.resample_chunk(np.asarray(x, dtype=np.float32))
        if self._out.write(y) < y.shape[0]:
            raise OverflowError("StreamResampler output buffer overflow: pop more often")

    def available(self) -> int:
        return len(self._out)

    def pop(self, n: int) -> np.ndarray | None:
        """Return exactly ``n`` output samples at ``rate_out``, or ``None`` if fewer are ready."""
        if len(self._out) < n:
            return None
        return self._out.read(n)

    def reset(self) -> None:
        if not self._passthrough:
            self._rs.clear()
        self._out.discard()
