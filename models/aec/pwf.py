"""Post Wiener filter with two outputs, and the classical source of its masks.

The PWF (Jiang & Tian) turns two magnitude masks of the LAEC output X_laec — M_x for the near-end
speech and M_r for the residual echo — into one gain, M_pwf = (M_x / (M_x + M_r))², applied with
two exponents: X_vad = M_pwf^β_vad · X_laec (β ≈ 0.6, stronger suppression) and
X_asr = M_pwf^β_asr · X_laec (β ≈ 0.2, less distortion).

Until a neural residual echo suppressor gives M_x and M_r, :class:`LeakageMaskEstimator` estimates
them the way speex's residual echo suppressor does: the residual echo power is a *leakage* factor (one per
band) times the LAEC's echo estimate power, where the leakage is the regression of the error power on
the echo-estimate power (mean-removed, so uncorrelated near-end speech does not bias it), and the
residual decays no faster than the room's reverberation.
"""

from __future__ import annotations

import numpy as np

from agent.config import PwfConfig
from models.aec.kernels import leakage_masks, wiener_outputs

MEAN_SMOOTHING = 0.95  # slow means of the powers, per bin
COV_SMOOTHING = 0.95  # smoothing of the leakage regression
LEAK_RANGE = (0.005, 0.5)  # bounds of the leakage factor (speex uses similar bounds)
RESIDUAL_DECAY = 0.6  # per 20 ms: the residual echo estimate may fall by at most this factor (about 90 ms RT)
OVER_SUBTRACTION = 3.0  # residual echo is over-estimated by this factor (echo is worse than a little noise)
MASK_FLOOR = 1e-3
LEAK_FALL = 0.9  # per 20 ms: the leakage falls by at most this factor (-0.46 dB)
LEAK_BANDS = 8
SMOOTH_BINS = 15  # width of the across-frequency smoothing of the echo estimate power (375 Hz)
BROADBAND_SHARE = 0.3  # share of the broadband mean in the residual model


class LeakageMaskEstimator:
    """``process(E, Y_hat) -> (M_x, M_r)`` per frame (321 bins) from the LAEC error and echo-estimate spectra."""

    def __init__(self, bins: int = 321) -> None:
        self.bins = bins
        self._kernel = np.hanning(SMOOTH_BINS + 2)[1:-1]
        self._kernel /= self._kernel.sum()
        # Leakage per band (octave-like edges): the distortion's share of the echo differs across frequency.
        edges = np.unique(np.round(np.geomspace(4, bins, LEAK_BANDS + 1)).astype(int))
        edges[0] = 0
        self._bands = list(zip(edges[:-1], edges[1:], strict=True))
        self._band_of_bin = np.zeros(bins, dtype=int)
        for k, (lo, hi) in enumerate(self._bands):
            self._band_of_bin[lo:hi] = k
        self.reset()

    def reset(self) -> None:
        self._mean_e = np.zeros(self.bins)
        self._mean_y = np.zeros(self.bins)
        self._cov = np.zeros(len(self._bands))
        self._var = np.zeros(len(self._bands))
        self._residual = np.zeros(self.bins)
        self.leak = np.full(len(self._bands), LEAK_RANGE[0])  # per band

    def process(self, e_spec: np.ndarray, y_spec: np.ndarray, adapt: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Masks for one frame; ``adapt=False`` keeps the leakage as it is (the echo path just moved: the error
        then says nothing about the leak, and the means it leaves behind would bias the regression for a second)."""
        # Nonlinear echo (loudspeaker distortion) spreads over neighbouring and harmonic bins, so the residual is
        # modelled on the echo estimate power smoothed across frequency (SMOOTH_BINS) plus its broadband mean. The
        # leakage per band is the regression of the error power on that (means removed, smoothed over time); it
        # may fall only by LEAK_FALL per frame (one block of an error far above the usual, the echo path moving,
        # can pull the covariance negative for a second) while it may rise at once (more suppression is safe).
        return leakage_masks(e_spec, y_spec, self._kernel, BROADBAND_SHARE, self._band_of_bin, self.leak,
                             self._mean_e, self._mean_y, self._cov, self._var, self._residual, adapt,
                             MEAN_SMOOTHING, COV_SMOOTHING, LEAK_RANGE[0], LEAK_RANGE[1], LEAK_FALL,
                             OVER_SUBTRACTION, RESIDUAL_DECAY, MASK_FLOOR)

    @property
    def residual_power(self) -> np.ndarray:
        """Current residual echo power estimate per bin."""
        return self._residual


class PostWienerFilter:
    """``process(X_laec, M_x, M_r) -> (X_vad, X_asr)``: the two-exponent Wiener gain of the module doc."""

    def __init__(self, config: PwfConfig | None = None) -> None:
        self.config = config or PwfConfig()

    def gain(self, m_x: np.ndarray, m_r: np.ndarray) -> np.ndarray:
        """M_pwf = (M_x / (M_x + M_r))², in [0, 1]."""
        return (m_x / (m_x + m_r + 1e-12)) ** 2

    def process(self, x_laec: np.ndarray, m_x: np.ndarray, m_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return wiener_outputs(x_laec, self.gain(m_x, m_r), self.config.beta_vad, self.config.beta_asr)
