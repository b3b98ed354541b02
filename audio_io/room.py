"""The simulated room: a virtual loudspeaker, room, microphone and scripted near-end talkers.

Streaming, block by block: :meth:`SimulatedRoom.process` takes the block the agent played (the
echo reference, 16 kHz) and returns the microphone block plus its ground truth. The mic model is

    mic = h_mic * (h_room_spk * LS(delay(volume * ref)))  +  sum_k h_mic * h_room_k * talker_k  +  noise

- ``delay``: a bulk delay (device latency, 0–400 ms) with scheduled jumps and a clock drift (ppm),
  applied by a windowed-sinc fractional delay line, so drift is smooth and integer delays exact;
- ``LS``: the loudspeaker nonlinearity used in the ICASSP AEC challenge (clip at ±x_max, then
  b = 1.5x − 0.3x², a = 4 if b > 0 else 0.5, γ(2/(1+e^(−ab)) − 1)), followed by a band-pass
  loudspeaker response;
- ``h_room``: shoebox room impulse responses from pyroomacoustics (image source method, RT60
  set through Sabine's formula);
- talkers: scripted near-end speech placed at given samples, each through its own RIR, scaled to
  a level in dBFS; noise (white, pink or babble) at an SNR against that level.

Ground truth per block: ``echo`` (echo only, at the mic), ``near`` (reverberant near-end speech at
the mic), ``noise``, ``delay_samples`` (bulk delay at the block's first sample) and
``echo_delay_samples`` (bulk delay + the echo path's main peak: what a delay estimator should find).
With a fixed seed everything is reproducible bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import scipy.signal

from agent.config import RoomConfig
from audio_io.frames import SAMPLE_RATE, as_mono_float32
from models.aec.delay_line import FractionalDelayLine

log = logging.getLogger(__name__)

FILTER_IR_SAMPLES = 512  # length kept of the band-pass IIR responses (they decay well before)


# --- building blocks -----------------------------------------------------------------------------


def loudspeaker_nonlinearity(x: np.ndarray, clip_level: float, gain: float) -> np.ndarray:
    """Memoryless loudspeaker model of the ICASSP AEC challenge (DESIGN §8); float32 in, float32 out."""
    xc = np.clip(x, -clip_level, clip_level)
    b = 1.5 * xc - 0.3 * xc * xc
    a = np.where(b > 0, 4.0, 0.5)
    return (gain * (2.0 / (1.0 + np.exp(-a * b)) - 1.0)).astype(np.float32)


def bandpass_ir(low_hz: float, high_hz: float, sample_rate: int = SAMPLE_RATE, n: int = FILTER_IR_SAMPLES) -> np.ndarray:
    """Impulse response (minimum phase, ``n`` samples) of a 2nd-order Butterworth band-pass."""
    sos = scipy.signal.butter(2, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
    impulse = np.zeros(n)
    impulse[0] = 1.0
    return scipy.signal.sosfilt(sos, impulse)


def shoebox_rirs(
    room_dim_m: tuple[float, float, float],
    rt60_s: float,
    mic_pos_m: tuple[float, float, float],
    source_pos_m: list[tuple[float, float, float]],
    sample_rate: int = SAMPLE_RATE,
) -> list[np.ndarray]:
    """Room impulse responses (one per source) to one microphone, by pyroomacoustics' image source method."""
    import pyroomacoustics as pra  # imported here: slow to import, needed only when a room is built

    try:
        e_absorption, max_order = pra.inverse_sabine(rt60_s, list(room_dim_m))
    except ValueError:
        # Sabine asks for absorption > 1: the room is too big for so short an RT60. Use the most
        # absorbent walls instead and say what RT60 that gives.
        x, y, z = room_dim_m
        volume, surface = x * y * z, 2 * (x * y + y * z + x * z)
        e_absorption, max_order = 0.99, 3
        log.warning("room.rt60_s=%.2f s is too short for a %s m room; using the shortest reachable, about %.2f s",
                    rt60_s, list(room_dim_m), 0.161 * volume / (surface * e_absorption))
    room = pra.ShoeBox(list(room_dim_m), fs=sample_rate, materials=pra.Material(e_absorption), max_order=max_order)
    for pos in source_pos_m:
        room.add_source(list(pos))
    room.add_microphone(list(mic_pos_m))
    room.compute_rir()
    rirs = []
    for k in range(len(source_pos_m)):
        h = np.asarray(room.rir[0][k], dtype=np.float64)
        # Cut the tail once it has decayed by 60 dB (energy-wise) to bound the convolution cost.
        energy = np.cumsum(h[::-1] ** 2)[::-1]
        keep = int(np.searchsorted(-energy, -energy[0] * 1e-6)) + 1
        rirs.append(h[: max(keep, 64)])
    return rirs


class StreamingConvolver:
    """Overlap-add FIR filtering of consecutive blocks (FFT per block, filter spectrum precomputed)."""

    def __init__(self, h: np.ndarray, max_block: int) -> None:
        self.h = np.asarray(h, dtype=np.float64)
        self.max_block = int(max_block)
        self.nfft = scipy.fft.next_fast_len(self.max_block + self.h.shape[0] - 1, real=True)
        self._H = scipy.fft.rfft(self.h, self.nfft)
        self._acc = np.zeros(self.nfft, dtype=np.float64)

    def process(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        if n > self.max_block:
            raise ValueError(f"block of {n} samples is longer than max_block={self.max_block}")
        y = scipy.fft.irfft(scipy.fft.rfft(x, self.nfft) * self._H, self.nfft)
        self._acc += y
        out = self._acc[:n].copy()
        self._acc[:-n] = self._acc[n:]
        self._acc[-n:] = 0.0
        return out

    def reset(self) -> None:
        self._acc[:] = 0.0


class PinkNoise:
    """Streaming 1/f noise: white noise through Kellet's 3-pole filter, normalised to unit RMS."""

    _B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
    _A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._zi = np.zeros(3)
        # RMS of the filter's output for unit white input, from its impulse response energy.
        imp = np.zeros(1 << 16)
        imp[0] = 1.0
        self._scale = 1.0 / np.sqrt(np.sum(scipy.signal.lfilter(self._B, self._A, imp) ** 2))

    def generate(self, n: int) -> np.ndarray:
        y, self._zi = scipy.signal.lfilter(self._B, self._A, self.rng.standard_normal(n), zi=self._zi)
        return y * self._scale


def active_rms(x: np.ndarray, sample_rate: int = SAMPLE_RATE, floor_db: float = -40.0) -> float:
    """RMS over the 20 ms frames within ``floor_db`` of the loudest frame (speech level without pauses)."""
    hop = sample_rate // 50
    n = (x.shape[0] // hop) * hop
    if n == 0:
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    e = np.mean(x[:n].astype(np.float64).reshape(-1, hop) ** 2, axis=1)
    if e.max() <= 0:
        return 0.0
    return float(np.sqrt(np.mean(e[e >= e.max() * 10 ** (floor_db / 10)])))


# --- the room -------------------------------------------------------------------------------------


@dataclass
class _Placed:
    start: int  # first sample at the mic
    audio: np.ndarray  # reverberant, levelled near-end speech at the mic


class SimulatedRoom:
    """A streaming acoustic scene. ``process(ref_block) -> (mic_block, truth)``; see the module doc."""

    def __init__(
        self,
        config: RoomConfig,
        sample_rate: int = SAMPLE_RATE,
        max_block: int = 4096,
        babble_sources: list[np.ndarray] | None = None,
        echo_rir: np.ndarray | None = None,
    ) -> None:
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"the simulated room runs at {SAMPLE_RATE} Hz, not {sample_rate}")
        self.config = config
        self.sample_rate = sample_rate
        self.max_block = max_block
        if echo_rir is None:
            echo_rir, talker_rir = shoebox_rirs(
                config.room_dim_m, config.rt60_s, config.mic_pos_m, [config.speaker_pos_m, config.talker_pos_m], sample_rate
            )
        else:
            (talker_rir,) = shoebox_rirs(config.room_dim_m, config.rt60_s, config.mic_pos_m, [config.talker_pos_m], sample_rate)
        self.room_rir = np.asarray(echo_rir, dtype=np.float64)
        self.talker_rir = talker_rir
        self.speaker_ir = bandpass_ir(*config.speaker_band_hz, sample_rate)
        self.mic_ir = bandpass_ir(*config.mic_band_hz, sample_rate)
        # Linear part of the echo path after the nonlinearity: speaker response, room, microphone, gain.
        # Calibration: the linear echo path has unit energy times echo_gain_db, so that a played
        # signal of RMS r at volume v gives an echo of RMS about v * r * gain (nonlinearity off).
        h = np.convolve(np.convolve(self.speaker_ir, self.room_rir), self.mic_ir)
        self.linear_echo_ir = (10 ** (config.echo_gain_db / 20)) * h / np.sqrt(np.sum(h**2))
        self.talker_ir = np.convolve(self.talker_rir, self.mic_ir)
        self.echo_peak_samples = int(np.argmax(np.abs(self.linear_echo_ir)))

        # Delays stay within [0, 500] ms: 400 ms from the config plus room for drift.
        self.max_delay_samples = int(0.5 * sample_rate)
        self._delay_line = FractionalDelayLine(self.max_delay_samples, max_block)
        self._echo_conv = StreamingConvolver(self.linear_echo_ir, max_block)
        self._babble_sources = babble_sources
        self._level = 10 ** (config.talker_level_dbfs / 20)
        self._noise_rms = self._level * 10 ** (-config.snr_db / 20)
        self._jumps = [(int(round(j.at_s * sample_rate)), j.delay_ms * sample_rate / 1000) for j in config.delay_jumps]
        self.reset()

    def reset(self) -> None:
        """Back to sample 0 with the same seed: the scene replays identically (scheduled talkers are dropped)."""
        self._rng = np.random.default_rng(self.config.seed)
        self._delay_line.reset()
        self._echo_conv.reset()
        self._pink = PinkNoise(self._rng)
        self._babble = self._prepare_babble(self._babble_sources) if self.config.noise == "babble" else None
        self._talkers: list[_Placed] = []
        self._pos = 0  # samples processed so far

    # --- scripting -------------------------------------------------------------------------------

    def add_talker(self, speech: np.ndarray, at_sample: int, gain_db: float = 0.0) -> np.ndarray:
        """Schedule dry near-end ``speech`` to start at mic sample ``at_sample``.

        It is convolved with the talker's RIR and the mic response and scaled so that its active
        speech level is ``talker_level_dbfs + gain_db``. Returns the reverberant signal as placed.
        ``at_sample`` may not lie in the past.
        """
        x = as_mono_float32(speech, "talker speech")
        if at_sample < self._pos:
            raise ValueError(f"talker scheduled at sample {at_sample}, but the room is already at {self._pos}")
        wet = scipy.signal.fftconvolve(x.astype(np.float64), self.talker_ir)
        rms = active_rms(wet, self.sample_rate)
        if rms <= 0:
            raise ValueError("talker speech is silent")
        wet *= self._level * 10 ** (gain_db / 20) / rms
        self._talkers.append(_Placed(int(at_sample), wet))
        return wet.astype(np.float32)

    def _prepare_babble(self, sources: list[np.ndarray] | None) -> np.ndarray:
        if not sources:
            raise ValueError("room.noise=babble needs speech clips (babble_sources) to mix")
        length = max(8 * self.sample_rate, max(len(s) for s in sources))
        mix = np.zeros(length)
        for k, s in enumerate(sources):
            s = as_mono_float32(s, f"babble source {k}").astype(np.float64)
            s = s / (np.sqrt(np.mean(s**2)) + 1e-12)
            offset = int(self._rng.integers(0, length))
            reps = np.tile(s, int(np.ceil(2 * length / len(s))))[:length]
            mix += np.roll(reps, offset)
        return mix / (np.sqrt(np.mean(mix**2)) + 1e-12)

    # --- streaming ---------------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """Samples processed so far (the next block's first sample)."""
        return self._pos

    def bulk_delay_at(self, samples: np.ndarray) -> np.ndarray:
        """Bulk delay (samples, float) in effect at each of the given absolute sample indices."""
        cfg = self.config
        base = np.full(samples.shape, cfg.delay_ms * self.sample_rate / 1000, dtype=np.float64)
        for at, delay in self._jumps:
            base[samples >= at] = delay
        return base + cfg.drift_ppm * 1e-6 * samples

    def process(self, ref: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Play ``ref`` (one block, 16 kHz float32) into the room and capture one mic block of the same length."""
        x = as_mono_float32(ref, "reference block")
        n = x.shape[0]
        cfg = self.config
        t = self._pos + np.arange(n)
        delays = np.clip(self.bulk_delay_at(t), 0.0, self.max_delay_samples)
        driven = self._delay_line.process(cfg.volume * x.astype(np.float64), delays)
        if cfg.nonlinearity:
            driven = loudspeaker_nonlinearity(driven, cfg.clip_level, cfg.nl_gain).astype(np.float64)
        echo = self._echo_conv.process(driven)

        near = np.zeros(n)
        for p in self._talkers:
            lo, hi = max(p.start, self._pos), min(p.start + p.audio.shape[0], self._pos + n)
            if lo < hi:
                near[lo - self._pos : hi - self._pos] += p.audio[lo - p.start : hi - p.start]
        self._talkers = [p for p in self._talkers if p.start + p.audio.shape[0] > self._pos + n]

        noise = self._noise(n)
        mic = echo + near + noise
        truth = {
            "echo": echo.astype(np.float32),
            "near": near.astype(np.float32),
            "noise": noise.astype(np.float32),
            "delay_samples": float(delays[0]),
            "echo_delay_samples": float(delays[0]) + self.echo_peak_samples,
        }
        self._pos += n
        return mic.astype(np.float32), truth

    def _noise(self, n: int) -> np.ndarray:
        kind = self.config.noise
        if kind == "none":
            return np.zeros(n)
        if kind == "white":
            return self._noise_rms * self._rng.standard_normal(n)
        if kind == "pink":
            return self._noise_rms * self._pink.generate(n)
        idx = (self._pos + np.arange(n)) % self._babble.shape[0]
        return self._noise_rms * self._babble[idx]

    def run(self, ref: np.ndarray, block: int = 320) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Whole-signal convenience: loop :meth:`process` over ``ref`` (the same code as streaming).

        Returns the mic signal and ground-truth arrays: ``echo``, ``near``, ``noise`` (signals) and
        ``delay_samples`` / ``echo_delay_samples`` (one value per block).
        """
        x = as_mono_float32(ref, "reference")
        mics, parts = [], {"echo": [], "near": [], "noise": [], "delay_samples": [], "echo_delay_samples": []}
        for start in range(0, x.shape[0], block):
            mic, truth = self.process(x[start : start + block])
            mics.append(mic)
            for key in parts:
                parts[key].append(truth[key])
        out = {k: (np.concatenate(v) if k in ("echo", "near", "noise") else np.asarray(v)) for k, v in parts.items()}
        return np.concatenate(mics), out

