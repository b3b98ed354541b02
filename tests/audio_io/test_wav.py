import numpy as np
import pytest
import soundfile as sf

from audio_io.wav import AudioFileError, AudioFormatWarning, read_wav, write_wav


def test_round_trip(tmp_path, rng):
    x = np.clip(0.3 * rng.standard_normal(1600), -0.99, 0.99).astype(np.float32)
    y = read_wav(write_wav(tmp_path / "a.wav", x))
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(x - y)) < 1 / 32768 + 1e-7


def test_wrong_rate_is_resampled_with_a_warning(tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 44100)
    with pytest.warns(AudioFormatWarning, match="resampled from 44100 Hz to 16000 Hz"):
        y = read_wav(tmp_path / "a.wav")
    assert abs(len(y) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(y[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 2


def test_stereo_is_mixed_down_with_a_warning(tmp_path):
    data = np.stack([np.full(800, 0.5), np.full(800, -0.1)], axis=1)
    sf.write(tmp_path / "s.wav", data, 16000)
    with pytest.warns(AudioFormatWarning, match="2 channels mixed down"):
        y = read_wav(tmp_path / "s.wav")
    np.testing.assert_allclose(y, 0.2, atol=1e-4)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        read_wav(tmp_path / "junk.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioFileError, match="holds no samples"):
        read_wav(tmp_path / "empty.wav")
    x = np.zeros(100, dtype=np.float32)
    x[10] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        read_wav(tmp_path / "nan.wav")
