import numpy as np
import pytest

from audio_io.speech_synth import SynthVoice, synthesize
from models.aec.metrics import erle_db, pesq_wb, si_snr_db, steady_state_erle_db, stoi


@pytest.fixture(scope="module")
def speech():
    return synthesize("আমাদের বাড়ির পাশে একটা বড় পুকুর আছে।", SynthVoice("espeak-ng", "bn", "bn")).astype(np.float64)


def test_erle(rng):
    mic = rng.standard_normal(16000 * 5)
    assert erle_db(mic, 0.01 * mic) == pytest.approx(40.0)
    out = np.concatenate([mic[: 3 * 16000], 0.001 * mic[3 * 16000 :]])
    assert steady_state_erle_db(mic, out) == pytest.approx(60.0)
    mask = np.zeros(mic.size, bool)
    mask[-16000:] = True
    assert erle_db(mic, out, mask) == pytest.approx(60.0)
    assert erle_db(np.zeros(100), np.zeros(100)) is None
    with pytest.raises(ValueError, match="equal length"):
        erle_db(mic, mic[:10])


def test_si_snr(rng):
    s = rng.standard_normal(8000)
    n = rng.standard_normal(8000)
    n -= n.mean()
    n -= np.dot(n, s - s.mean()) / np.dot(s - s.mean(), s - s.mean()) * (s - s.mean())  # orthogonal noise
    est = 3.0 * s + 0.1 * np.sqrt(np.sum((s - s.mean()) ** 2) / np.sum(n**2)) * 3.0 * n
    assert si_snr_db(s, est) == pytest.approx(20.0, abs=1e-6)  # scale does not matter
    assert si_snr_db(np.zeros(100), s[:100]) is None


def test_pesq_and_stoi_rank_degradation(speech, rng):
    noisy = speech + 0.05 * rng.standard_normal(speech.size)
    very = speech + 0.3 * rng.standard_normal(speech.size)
    p_clean, p_noisy, p_very = pesq_wb(speech, speech), pesq_wb(speech, noisy), pesq_wb(speech, very)
    assert p_clean > 4.0 and p_clean > p_noisy > p_very
    assert stoi(speech, speech) > 0.99 and stoi(speech, noisy) > stoi(speech, very)


def test_pesq_and_stoi_pitfalls(speech):
    assert pesq_wb(np.zeros(16000), speech[:16000]) is None  # silent reference
    assert pesq_wb(speech[:1000], speech[:1000]) is None  # too short
    assert stoi(speech[:2000], speech[:2000]) is None
    assert stoi(np.zeros(16000), np.zeros(16000)) is None


def test_pesq_nan_or_failure_is_none(monkeypatch, speech):
    import pesq as pesq_module

    monkeypatch.setattr(pesq_module, "pesq", lambda *a, **k: float("nan"))
    assert pesq_wb(speech, speech) is None

    def fail(*a, **k):
        raise ValueError("cannot convert float NaN to integer")

    monkeypatch.setattr(pesq_module, "pesq", fail)
    assert pesq_wb(speech, speech) is None
