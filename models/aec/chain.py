"""The echo chain for one 20 ms frame: TDE → delay line → LAEC → masks → PWF → two outputs.

``EchoCanceller.process(mic, ref) -> (asr_block, vad_block, stats)``; after each call
``EchoCanceller.echo_estimate`` holds the LAEC's echo estimate ŷ and ``EchoCanceller.laec_output`` its error
e = mic − ŷ (the linear canceller's output, before the residual echo masks) for the same samples as the outputs
(an echo-aware VAD reads ŷ, a LAEC-aware one also e). :func:`run_chain` runs the same object over whole signals (so file and
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
from models.aec.fft import rfft
from models.aec.kernels import fits_badly, store_fit
from models.aec.laec import PbfdkfEchoCanceller
from models.aec.pwf import LeakageMaskEstimator, PostWienerFilter
from models.aec.res.runtime import SHIPPED_MODEL, ResidualEchoSuppressor
from models.aec.stft import HOP, StftAnalyzer, StftSynthesizer, mean_square, power
from models.aec.tde import GccPhatDelayEstimator

log = logging.getLogger(__name__)

CLASSICAL = AecConfig(res_model=None)  # the default chain with the classical residual-echo masks (no neural RES)
PRE_DELAY = 48  # samples of the echo path kept before its main peak inside the filter (3 ms)
ERLE_SMOOTHING = 0.98
FAR_END_FLOOR = 1e-6  # mean square of a reference block that counts as far-end activity (-60 dBFS)
# Echo path moved (delay jump, path change): the per-bin regression of the mic on the echo estimate ŷ ...
FIT_BLOCKS = 5  # ... over this many far-end blocks raises echo_path_unsettled, ...
SUSPECT_BLOCKS = 2  # ... over this many starts the delay estimator's search of the audio since the move, ...
MOVED_FIT = 0.25  # ... when it is below this (1 = the filter fits), ...
MIN_ESTIMATE_SHARE = 0.05  # ... taken over the bins where ŷ's power is at least this share of the mic's, ...
MIN_FIT_BINS = 16  # ... if there are this many (else no decision: the near end dominates everywhere).
SETTLING_BLOCKS = 5  # The flag is lowered when the error summed over this many far-end blocks is ...
SETTLED_RATIO = 0.25  # ... this far below the mic (6 dB), ...
SETTLED_BLOCKS = 10  # ... or that excess has not been seen for this many far-end blocks, ...
UNSETTLED_VAD_GAIN_DB = -30.0  # the VAD output is turned down this much while the flag is up (it carries echo) ...
VAD_GAIN_RISE_DB = 3.0  # ... and back up by this much per block after it (200 ms from -30 dB)
UNSETTLED_MAX_BLOCKS = 100  # ... or 2 s at most
SNAPSHOT_EVERY = 4  # blocks between saved copies of the LAEC taps (restored after a delay jump) ...
SNAPSHOTS = 6  # ... of which this many are kept (about half a second)


def no_louder_than(e_spec: np.ndarray, mic_spec: np.ndarray) -> np.ndarray:
    """The LAEC output per bin, or the mic's bin where that is louder: a filter that no longer fits (the echo
    path just moved) adds its estimate to the mic instead of removing it, and must not make a bin worse."""
    return np.where(power(e_spec) > power(mic_spec), mic_spec, e_spec)


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
        self.tap_restores = 0  # times the LAEC taps from before a move were put back
        self._hold_until = 0  # the flag stays up until this mic sample (after a re-alignment)
        self._vad_gain_db = 0.0  # extra gain of the VAD output (below 0 while and just after the flag is up)
        self._converged = False  # the LAEC error has been 6 dB under the mic (the start-up is over)
        self._mute_vad = False  # the VAD output is turned down while this flag is up
        self._samples = 0  # mic samples processed
        self._settling: deque[tuple[float, float]] = deque(maxlen=SETTLING_BLOCKS)  # mic, e powers per far-end block
        self._fit = np.zeros((FIT_BLOCKS, 3, HOP // 2 + 1))  # per block and bin: Re(ŷ·mic*), |ŷ|², |mic|²
        self._fit_blocks = 0
        self._pair = np.zeros((2, HOP))  # mic and ŷ of a block, transformed together
        self._snapshots: deque[tuple[int, tuple[np.ndarray, np.ndarray]]] = deque(maxlen=SNAPSHOTS)
        self._worse_run = 0  # far-end blocks in a row with the error louder than the mic
        self._moved_at: int | None = None  # mic sample where the echo path is thought to have moved
        self._refocused = False  # the TDE found a new delay since then
        self._unsettled = 0  # blocks since the echo path moved (0 = settled)
        self._quiet = 0  # far-end blocks since the excess was last seen
        self._expired = False  # the flag hit its cap while the excess went on
        self._mic_pow = 0.0
        self._ref_pow = 0.0  # mean square of the last reference block
        self._out_pow = 0.0
        self._y_hat = np.zeros(HOP)  # the last block's echo estimate (its outputs come one hop later)
        self._e = np.zeros(HOP)  # the last block's LAEC error (likewise)
        self.echo_estimate = np.zeros(HOP, dtype=np.float32)
        self.laec_output = np.zeros(HOP, dtype=np.float32)

    def cancel_linear(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """The linear front end for one block: TDE → reference aligner (delay and drift) → LAEC.

        Returns (aligned reference, LAEC error e = mic − ŷ, echo estimate ŷ, TDE estimate or None), all
        320 float64 samples at the time of ``mic``. ŷ depends on the reference only, so for a mic that is a
        sum of parts the error splits exactly: e = near + noise + (echo − ŷ) (used to train the RES).
        """
        delay = self.tde.update(mic, ref)
        since_move = self._samples + HOP - self._moved_at if self._moved_at is not None else None
        if since_move is not None and not self._refocused:
            self._refocused = self.tde.refocus(since_move) is not None
            delay = self.tde.delay_samples
            if self._refocused:
                self._restore_taps_before(self._moved_at)
                # The filter's reference history still holds the old alignment until it has been refilled.
                self._hold_until = self._samples + self.laec.partitions * HOP
        elif self._moved_at is None and self._samples % (SNAPSHOT_EVERY * HOP) == 0:
            self._snapshots.append((self._samples, self.laec.snapshot()))
        fresh = None
        if delay is not None and self.tde.estimates != self._tde_estimates:
            self._tde_estimates = self.tde.estimates
            fresh = max(0.0, delay - PRE_DELAY)
        was_following = self.aligner.following
        aligned = self.aligner.process(ref, fresh)
        if not was_following and self.aligner.following and self.config.laec.carry_taps:
            # Until the first estimate the filter learned the echo path with the reference undelayed: its
            # history and taps move with the reference, so it goes on from there instead of starting over.
            self.laec.shift_reference(self.aligner.delay_samples)
            self._snapshots.clear()  # taps saved before it belong to the undelayed reference
        e, y_hat = self.laec.process(mic, aligned)
        self._ref_pow = mean_square(ref)
        self._track_settling(self._ref_pow > FAR_END_FLOOR, mic, e, y_hat)
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
            mic_spec = self._ana_mic.process(mic)
            m_x, m_r = self.res.process(mic_spec, self._ana_ref.process(aligned), e_spec)
            x_laec = no_louder_than(e_spec, mic_spec) if self._doubtful() else e_spec
            residual_power = m_r.astype(np.float64) ** 2 * power(x_laec)
        else:
            y_spec = self._ana_y.process(y_hat)
            doubtful = self._doubtful()
            x_laec = no_louder_than(e_spec, e_spec + y_spec) if doubtful else e_spec  # the STFT is linear: mic = e + ŷ
            m_x, m_r = self.masks.process(x_laec, y_spec, adapt=not (doubtful or self._unsettled))
            residual_power = self.masks.residual_power
        x_vad, x_asr = self.pwf.process(x_laec, m_x, m_r)
        # While the echo path is unsettled the outputs carry echo the VAD must not take for the user (barge-in
        # waits too): its output is turned down, and afterwards back up gradually (a step would sound like an onset).
        muted = self._unsettled and self._mute_vad
        self._vad_gain_db = UNSETTLED_VAD_GAIN_DB if muted else min(0.0, self._vad_gain_db + VAD_GAIN_RISE_DB)
        if self._vad_gain_db < 0.0:
            x_vad = 10 ** (self._vad_gain_db / 20) * x_vad
        asr, vad = self._syn_asr.process(x_asr), self._syn_vad.process(x_vad)
        self.echo_estimate = self._y_hat.astype(np.float32)  # the outputs lag one hop: so do ŷ and e
        self.laec_output = self._e.astype(np.float32)
        self._y_hat, self._e = y_hat, e

        far_active = self._ref_pow > FAR_END_FLOOR
        if far_active:
            self._mic_pow = ERLE_SMOOTHING * self._mic_pow + (1 - ERLE_SMOOTHING) * mean_square(mic)
            self._out_pow = ERLE_SMOOTHING * self._out_pow + (1 - ERLE_SMOOTHING) * mean_square(vad)
        erle = 10 * np.log10((self._mic_pow + 1e-12) / (self._out_pow + 1e-12)) if self._mic_pow > 0 else 0.0
        e_pow = float(np.sum(power(x_laec)))
        double_talk = far_active and e_pow > 4.0 * float(np.sum(residual_power)) + 1e-3
        stats = ChainStats(delay, float(erle), bool(double_talk), far_active, self.laec.resets, self._unsettled > 0)
        return asr.astype(np.float32), vad.astype(np.float32), stats

    def _doubtful(self) -> bool:
        """The LAEC's output may be worse than the mic: its error is louder, or a move is suspected."""
        return self._moved_at is not None or self._worse_run > 0

    def _restore_taps_before(self, sample: int) -> None:
        """After a delay jump the re-aligned reference meets the echo path as it was: the taps from before the
        move fit again, while those adapted since then were fitted to a misaligned reference."""
        for at, snap in reversed(self._snapshots):
            if at <= sample:
                self.laec.restore(snap)
                self.tap_restores += 1
                log.debug("echo path re-aligned: LAEC taps from sample %d restored", at)
                return

    def _track_settling(self, far_active: bool, mic: np.ndarray, e: np.ndarray, y_hat: np.ndarray) -> None:
        """``echo_path_unsettled``: a filter that fits the echo path predicts the mic wherever the echo is a real
        part of it, whatever the near end adds (the regression of the mic on ŷ is 1), while after a move its
        estimate is uncorrelated with the mic (about 0). The test takes that regression per frequency bin and
        the median over the bins where ŷ carries power, so near-end speech, which dominates only some bins,
        rarely looks like a move (the broadband form, Σ e² > Σ mic² + ½ Σ ŷ², flagged 7 % of double-talk
        blocks at SER +10 dB; this one 2 %). The quick form over two blocks starts the delay estimator's
        search; the flag (which holds barge-in back) waits for five. It is lowered when the delay estimator
        re-aligns the reference or the LAEC re-converges (error 6 dB under the mic)."""
        mic_pow, e_pow = mean_square(mic), mean_square(e)
        if not (far_active and mic_pow > FAR_END_FLOOR):
            if self._unsettled:
                self._unsettled += 1
            return
        self._pair[0], self._pair[1] = mic, y_hat
        m_spec, y_spec = rfft(self._pair)
        slot = self._fit_blocks % FIT_BLOCKS  # a ring: the newest block's row
        store_fit(self._fit, slot, m_spec, y_spec)
        self._fit_blocks += 1
        self._settling.append((mic_pow, e_pow))
        self._worse_run = self._worse_run + 1 if e_pow > mic_pow else 0
        mic_s, e_s = sum(m for m, _ in self._settling), sum(x for _, x in self._settling)
        suspect = self._fit_blocks >= SUSPECT_BLOCKS and self._fits_badly(slot, SUSPECT_BLOCKS)
        excess = self._fit_blocks >= FIT_BLOCKS and self._fits_badly(slot, FIT_BLOCKS)
        if (suspect or excess) and self._moved_at is None:
            # The move began with the run of blocks whose error is above the mic; the delay estimator starts
            # looking at the audio since then at once, on the quick test (a false alarm costs only that search).
            self._moved_at = self._samples + HOP - max(1, self._worse_run) * HOP
            self._refocused = False
        if excess and not self._unsettled and not self._expired:
            self._unsettled = 1
            self._mute_vad = self._converged  # a move, not the start-up (the agent's warm-up covers that)
        elif self._unsettled:
            self._unsettled += 1
        self._expired = self._expired and excess  # after the 2 s cap, a new move needs the excess to stop first
        if self._unsettled:
            self._quiet = 0 if excess else self._quiet + 1
            settled = e_s < SETTLED_RATIO * mic_s or self._quiet >= SETTLED_BLOCKS
            if settled and self._samples >= self._hold_until:
                self._unsettled = 0
            elif self._unsettled > UNSETTLED_MAX_BLOCKS:
                self._unsettled, self._expired = 0, True
        if not (suspect or excess or self._unsettled):
            self._moved_at = None
            self._converged = self._converged or (len(self._settling) == SETTLING_BLOCKS and e_s < SETTLED_RATIO * mic_s)

    def _fits_badly(self, newest: int, blocks: int) -> bool:
        """The per-bin regression of the mic on ŷ over the ``blocks`` newest blocks (median over the bins where ŷ
        is a real part of the mic) is far below 1; False where too few such bins exist to tell."""
        return fits_badly(self._fit, newest, blocks, MOVED_FIT, MIN_ESTIMATE_SHARE, MIN_FIT_BINS)


@dataclass
class ChainOutputs:
    """:func:`run_chain` over whole signals: (n,) float32 each, aligned with the microphone."""

    asr: np.ndarray
    vad: np.ndarray
    echo: np.ndarray  # the LAEC's echo estimate ŷ
    laec: np.ndarray  # the LAEC's error e = mic − ŷ (before the masks)
    stats: list[ChainStats]  # one per 320-sample block, the last one flushing the latency


def run_chain(mic: np.ndarray, ref: np.ndarray, config: AecConfig | None = None,
              chain: EchoCanceller | None = None) -> ChainOutputs:
    """Run :class:`EchoCanceller` over whole signals; outputs are aligned with ``mic`` (latency removed).

    ``ref`` is cut or zero-padded to ``mic``'s length. ``chain``: run this canceller (``config`` is then ignored),
    so that the caller can read its state afterwards (re-alignments, resets).
    """
    n = mic.shape[0]
    ref = np.concatenate([ref[:n], np.zeros(max(0, n - ref.shape[0]))])
    padded = -(-(n + HOP) // HOP) * HOP  # room to flush the latency
    mic_p = np.zeros(padded)
    ref_p = np.zeros(padded)
    mic_p[:n], ref_p[:n] = mic, ref
    chain = chain if chain is not None else EchoCanceller(config)
    asr, vad, echo, laec, stats = [], [], [], [], []
    for i in range(0, padded, HOP):
        a, v, s = chain.process(mic_p[i : i + HOP], ref_p[i : i + HOP])
        asr.append(a)
        vad.append(v)
        echo.append(chain.echo_estimate)
        laec.append(chain.laec_output)
        stats.append(s)
    lat = EchoCanceller.latency_samples
    return ChainOutputs(*(np.concatenate(x)[lat : lat + n] for x in (asr, vad, echo, laec)), stats)


def cancel_echo(mic: np.ndarray, ref: np.ndarray, config: AecConfig | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[ChainStats]]:
    """(asr, vad, per-block stats) of :func:`run_chain`."""
    out = run_chain(mic, ref, config)
    return out.asr, out.vad, out.stats
