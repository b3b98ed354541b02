"""Fixed-capacity float32 ring buffer for one producer and one consumer.

Writes and reads copy into and out of one preallocated array (no allocation per block). The
read and write counters are plain integers, each written by one side only, so a producer thread
(an audio callback) and a consumer (the asyncio side) can share it without a lock under the GIL.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Single-producer, single-consumer ring of float32 samples with ``capacity`` slots."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._buf = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0  # total samples ever written (producer-owned)
        self._read = 0  # total samples ever read (consumer-owned)

    def __len__(self) -> int:
        return self._written - self._read

    @property
    def free(self) -> int:
        return self.capacity - len(self)

    def write(self, x: np.ndarray) -> int:
        """Append as many samples of ``x`` as fit; returns how many were written."""
        n = min(int(x.shape[0]), self.free)
        if n <= 0:
            return 0
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = x[:first]
        if n > first:
            self._buf[: n - first] = x[first:n]
        self._written += n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` from the oldest samples; returns how many were available (the rest is untouched)."""
        n = min(int(out.shape[0]), len(self))
        if n <= 0:
            return 0
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        if n > first:
            out[first:n] = self._buf[: n - first]
        self._read += n
        return n

    def read(self, n: int) -> np.ndarray:
        """Remove and return up to ``n`` samples (a new array)."""
        out = np.empty(min(n, len(self)), dtype=np.float32)
        self.read_into(out)
        return out

    def discard(self, n: int | None = None) -> int:
        """Drop up to ``n`` (default: all) of the oldest samples; consumer side only."""
        n = len(self) if n is None else min(n, len(self))
        self._read += n
        return n
