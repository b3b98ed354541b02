"""The echo chain for one 20 ms frame: TDE → delay line → LAEC → masks → PWF → two outputs.

``EchoCanceller.process(mic, ref) -> (asr_block, vad_block, stats)``; after each call
``EchoCanceller.echo_estimate`` holds the LAEC's echo estimate ŷ for the same samples as the outputs
(the echo-aware VAD reads it). :func:`run_chain` runs the same object over whole signals (so file and
stream results are identical) and removes the chain's constant latency of one STFT hop (320 samples)
so the outputs line up with the input; :func:`cancel_echo` is its short form.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.config import AecConfig
from models.aec.delay_line import ReferenceAligner
from models.aec.laec import PbfdkfEchoCanceller
from models.aec.pwf import LeakageMaskEstimator, PostWienerFilter
from models.aec.res.runtime import SHIPPED_MODEL, ResidualEchoSuppressor
from models.aec.stft import HOP, StftAnalyzer, StftSynthesizer
from models.aec.tde import GccPhatDelayEstimator

log = logging.getLogger(__name__)

PRE_DELAY = 48  # samples of the echo path kept before its main peak inside the filter (3 ms)
ERLE_SMOOTHING = 0.98
FAR_END_FLOOR = 1e-6  # mean square of a reference block that counts as far-end activity (-60 dBFS)
SETTLING_BLOCKS = 5  # far-end blocks over which the LAEC error, the mic and the echo estimate are compared:
MOVED_EXCESS = 0.5  # error energy above mic energy + this share of the echo estimate's: the echo path moved ...
SETTLED_RATIO = 0.25  # ... until the error is this far below the mic (6 dB), ...
SETTLED_BLOCKS = 10  # ... or that excess has not been seen for this many far-end blocks, ...
UNSETTLED_MAX_BLOCKS = 100  # ... or 2 s at most


def resolve_res_model(value: str | None) -> Path | None:
    """``aec.res_model`` → a model path, or None for the classical masks.

    ``null``/``none``/empty → None; ``shipped`` → the model shipped in ``models/aec/res/`` (when that file
    is missing the chain warns and uses the classical masks); anything else is a path that must exist.
    """
    if value is None or str(value).strip().lower() in ("", "none", "null", "classical"):
        return None
    if str(value).strip().lower() == "shipped":
        if not SHIPPED_MODEL.is_file():
            log.warning("the shipped RES model %s is missing; using the classical residual echo estimate",
                        SHIPPED_MODEL)
            return None
        return SHIPPED_MODEL
    return Path(value).expanduser()


@dataclass(frozen=True)
class ChainStats:
    """Per-frame state of the chain (for the agent, MQTT health events and tests)."""

    delay_samples: float | None  # TDE estimate (None before the first confident one)
    erle_db: float  # smoothed mic power over VAD-output power while the far end is active
    double_talk: bool  # near-end speech over the echo (error well above the residual echo estimate)
    far_end_active: bool
    laec_resets: int
    echo_path_unsettled: bool = False  # the echo path just moved (delay jump, path change): the outputs carry echo


class EchoCanceller:
    """Streaming echo chain; see the module doc. Blocks are 320 samples of 16 kHz float audio."""

    hop = HOP
    latency_samples = HOP

    def __init__(self, config: AecConfig | None = None, sample_rate: int = 16000) -> None:
        config = config or AecConfig()
        if sample_rate != 16000:
            raise ValueError(f"the echo chain runs at 16 kHz, not {sample_rate}")
        self.config = config
        self.tde = GccPhatDelayEstimator(config.tde, sample_rate)
        self.aligner = ReferenceAligner(self.tde.max_lag + HOP, HOP, sample_rate)
        self.laec = PbfdkfEchoCanceller(config.laec, sample_rate)
        self.masks = LeakageMaskEstimator()
        res_path = resolve_res_model(config.res_model)
        # The neural RES (when configured) replaces the classical masks; a bad file is a clear error here.
        self.res = ResidualEchoSuppressor(res_path) if res_path is not None else None
        self.pwf = PostWienerFilter(config.pwf)
        self._ana_e, self._ana_y = StftAnalyzer(), StftAnalyzer()
        self._ana_mic, self._ana_ref = StftAnalyzer(), StftAnalyzer()
        self._syn_asr, self._syn_vad = StftSynthesizer(), StftSynthesizer()
        self.reset()

    @property
    def mask_source(self) -> str:
        """``neural`` (RES model) or ``classical`` (leakage estimate)."""
        return "neural" if self.res is not None else "classical"

    def reset(self) -> None:
        for block in (self.tde, self.aligner, self.laec, self.masks, self._ana_e, self._ana_y,
                      self._ana_mic, self._ana_ref, self._syn_asr, self._syn_vad):
            block.reset()
        if self.res is not None:
            self.res.reset()
        self._tde_estimates = 0
        self._samples = 0  # mic samples processed
        self._settling: deque[tuple[float, float, float]] = deque(maxlen=SETTLING_BLOCKS)  # mic, e, ŷ powers
        self._worse_run = 0  # far-end blocks in a row with the error louder than the mic
        self._moved_at: int | None = None  # mic sample where the echo path is thought to have moved
        self._refocused = False  # the TDE found a new delay since then
        self._unsettled = 0  # blocks since the echo path moved (0 = settled)
        self._quiet = 0  # far-end blocks since the excess was last seen
        self._expired = False  # the flag hit its cap while the excess went on
        self._mic_pow = 0.0
        self._out_pow = 0.0
        self._y_hat = np.zeros(HOP)  # the last block's echo estimate (its outputs come one hop later)
        self.echo_estimate = np.zeros(HOP, dtype=np.float32)

    def cancel_linear(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """The linear front end for one block: TDE → reference aligner (delay and drift) → LAEC.

        Returns (aligned reference, LAEC error e = mic − ŷ, echo estimate ŷ, TDE estimate or None), all
        320 float64 samples at the time of ``mic``. ŷ depends on the reference only, so for a mic that is a
        sum of parts the error splits exactly: e = near + noise + (echo − ŷ) (used to train the RES).
        """
        delay = self.tde.update(mic, ref)
        since_move = self._samples + HOP - self._moved_at if self._unsettled and self._moved_at is not None else None
        if since_move is not None and not self._refocused:
            self._refocused = self.tde.refocus(since_move) is not None
            delay = self.tde.delay_samples
        fresh = None
        if delay is not None and self.tde.estimates != self._tde_estimates:
            self._tde_estimates = self.tde.estimates
            fresh = max(0.0, delay - PRE_DELAY)
        # A delay jump moves the whole echo path: after re-alignment the taps fit again, so they are kept
        # (a real path change is handled by the LAEC's own path-change detector).
        aligned = self.aligner.process(ref, fresh)
        e, y_hat = self.laec.process(mic, aligned)
        self._track_settling(float(np.mean(ref**2)) > FAR_END_FLOOR, float(np.mean(mic**2)), float(np.mean(e**2)),
                             float(np.mean(y_hat**2)))
        self._samples += HOP
        return aligned, e, y_hat, delay

    def process(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, ChainStats]:
        """One frame: returns the ASR output, the VAD output (both 320 samples, one hop late) and stats."""
        if mic.shape != (HOP,) or ref.shape != (HOP,):
            raise ValueError(f"the echo chain takes blocks of {HOP} samples (mic {mic.shape}, ref {ref.shape})")
        mic = mic.astype(np.float64)
        ref = ref.astype(np.float64)
        aligned, e, y_hat, delay = self.cancel_linear(mic, ref)
        e_spec = self._ana_e.process(e)
        if self.res is not None:
            m_x, m_r = self.res.process(self._ana_mic.process(mic), self._ana_ref.process(aligned), e_spec)
            residual_power = (m_r.astype(np.float64) * np.abs(e_spec)) ** 2
        else:
            m_x, m_r = self.masks.process(e_spec, self._ana_y.process(y_hat))
            residual_power = self.masks.residual_power
        x_vad, x_asr = self.pwf.process(e_spec, m_x, m_r)
        asr, vad = self._syn_asr.process(x_asr), self._syn_vad.process(x_vad)
        self.echo_estimate = self._y_hat.astype(np.float32)  # the outputs lag one hop: so does ŷ
        self._y_hat = y_hat

        far_active = float(np.mean(ref**2)) > FAR_END_FLOOR
        if far_active:
            self._mic_pow = ERLE_SMOOTHING * self._mic_pow + (1 - ERLE_SMOOTHING) * float(np.mean(mic**2))
            self._out_pow = ERLE_SMOOTHING * self._out_pow + (1 - ERLE_SMOOTHING) * float(np.mean(vad**2))
        erle = 10 * np.log10((self._mic_pow + 1e-12) / (self._out_pow + 1e-12)) if self._mic_pow > 0 else 0.0
        e_pow = float(np.sum(np.abs(e_spec) ** 2))
        double_talk = far_active and e_pow > 4.0 * float(np.sum(residual_power)) + 1e-3
        stats = ChainStats(delay, float(erle), bool(double_talk), far_active, self.laec.resets, self._unsettled > 0)
        return asr.astype(np.float32), vad.astype(np.float32), stats

    def _track_settling(self, far_active: bool, mic_pow: float, e_pow: float, y_pow: float) -> None:
        """``echo_path_unsettled``: a filter that no longer fits the echo path adds its estimate's energy to the
        error (|e|² ≈ |mic|² + |ŷ|², uncorrelated), while near-end speech over a fitting filter does not
        (|e|² ≈ |mic|² − |ŷ|² on average). Raised until the delay estimator re-aligns the reference or the
        LAEC re-converges (error 6 dB under the mic)."""
        if not (far_active and mic_pow > FAR_END_FLOOR):
            if self._unsettled:
                self._unsettled += 1
            return
        self._settling.append((mic_pow, e_pow, y_pow))
        self._worse_run = self._worse_run + 1 if e_pow > mic_pow else 0
        mic_s, e_s, y_s = np.sum(self._settling, axis=0)
        excess = len(self._settling) == SETTLING_BLOCKS and e_s > mic_s + MOVED_EXCESS * y_s
        if excess and not self._unsettled and not self._expired:
            # The move began with the run of blocks whose error is above the mic.
            self._moved_at = self._samples + HOP - max(1, self._worse_run) * HOP
            self._unsettled, self._refocused = 1, False
        elif self._unsettled:
            self._unsettled += 1
        self._expired = self._expired and excess  # after the 2 s cap, a new move needs the excess to stop first
        if self._unsettled:
            self._quiet = 0 if excess else self._quiet + 1
            if e_s < SETTLED_RATIO * mic_s or self._quiet >= SETTLED_BLOCKS:
                self._unsettled = 0
            elif self._unsettled > UNSETTLED_MAX_BLOCKS:
                self._unsettled, self._expired = 0, True


@dataclass
class ChainOutputs:
    """:func:`run_chain` over whole signals: (n,) float32 each, aligned with the microphone."""

    asr: np.ndarray
    vad: np.ndarray
    echo: np.ndarray  # the LAEC's echo estimate ŷ
    stats: list[ChainStats]  # one per 320-sample block, the last one flushing the latency


def run_chain(mic: np.ndarray, ref: np.ndarray, config: AecConfig | None = None) -> ChainOutputs:
    """Run :class:`EchoCanceller` over whole signals; outputs are aligned with ``mic`` (latency removed).

    ``ref`` is cut or zero-padded to ``mic``'s length.
    """
    n = mic.shape[0]
    ref = np.concatenate([ref[:n], np.zeros(max(0, n - ref.shape[0]))])
    padded = -(-(n + HOP) // HOP) * HOP  # room to flush the latency
    mic_p = np.zeros(padded)
    ref_p = np.zeros(padded)
    mic_p[:n], ref_p[:n] = mic, ref
    chain = EchoCanceller(config)
    asr, vad, echo, stats = [], [], [], []
    for i in range(0, padded, HOP):
        a, v, s = chain.process(mic_p[i : i + HOP], ref_p[i : i + HOP])
        asr.append(a)
        vad.append(v)
        echo.append(chain.echo_estimate)
        stats.append(s)
    lat = EchoCanceller.latency_samples
    return ChainOutputs(*(np.concatenate(x)[lat : lat + n] for x in (asr, vad, echo)), stats)


def cancel_echo(mic: np.ndarray, ref: np.ndarray, config: AecConfig | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[ChainStats]]:
    """(asr, vad, per-block stats) of :func:`run_chain`."""
    out = run_chain(mic, ref, config)
    return out.asr, out.vad, out.stats
