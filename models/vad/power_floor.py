"""A higher power floor for VAD features, applied exactly to features computed with the default one.

:mod:`models.vad.features` gives ``log(P + POWER_FLOOR)`` per mel band (``POWER_FLOOR`` = 1e-10, far below any
sound). With the neural residual echo suppressor the chain's output on the agent's own echo is digital silence
most of the time, with rare leaks around −80 dBFS; a model that learnt from such output takes any energy above
that silence for the user. A model trained with a floor ``F`` (``train.power_floor``) sees
``log(P + F)`` instead: everything much quieter than ``F`` looks alike. :func:`raise_floor` turns stored
features into those exactly (``log(exp(f) − POWER_FLOOR + F)``), so training needs no new examples; the runtime
computes its features with the model's floor directly (``VadFeatures(power_floor)``, from the ONNX metadata
``power_floor``; absent = the default).
"""

from __future__ import annotations

import numpy as np

from models.vad.features import POWER_FLOOR


def raise_floor(features: np.ndarray, floor: float) -> np.ndarray:
    """``log(P + floor)`` from ``log(P + POWER_FLOOR)`` (any shape, float32 out); ``floor`` ≥ ``POWER_FLOOR``."""
    if floor < POWER_FLOOR:
        raise ValueError(f"the power floor must be at least {POWER_FLOOR:g}, got {floor:g}")
    f = np.asarray(features, dtype=np.float64)
    if floor == POWER_FLOOR:
        return f.astype(np.float32)
    power = np.maximum(np.exp(f) - POWER_FLOOR, 0.0)
    return np.log(power + floor).astype(np.float32)
