"""The compiled inner loops of the echo chain against the numpy expressions they replace, and the FFT wrappers."""

import numpy as np
import pytest

from models.aec import fft, kernels
from models.aec.delay_line import SlidingWindow

ROWS, BINS = 7, 321


def cplx(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(640,), (3, 640), (2, 320)])
def test_fft_wrappers_match_numpy(rng, shape):
    x = rng.standard_normal(shape)
    X = fft.rfft(x)
    np.testing.assert_allclose(X, np.fft.rfft(x), atol=1e-12)
    np.testing.assert_allclose(fft.irfft(X, shape[-1]), x, atol=1e-12)
    np.testing.assert_allclose(fft.rfft(x, 1000), np.fft.rfft(x, 1000), atol=1e-12)  # zero-padded
    odd = cplx(rng, 5)
    np.testing.assert_allclose(fft.irfft(odd, 9), np.fft.irfft(odd, 9), atol=1e-12)  # the scipy fallback


def test_push_spectra_shifts_rows_and_keeps_their_power(rng):
    X, X_pow = cplx(rng, ROWS, BINS), np.zeros((ROWS, BINS))
    X_pow[:] = np.abs(X) ** 2
    before = X.copy()
    new = cplx(rng, BINS)
    kernels.push_spectra(X, X_pow, 2, 4, new)  # rows 2..5 age by one, row 6 untouched
    np.testing.assert_array_equal(X[:2], before[:2])
    np.testing.assert_array_equal(X[2], new)
    np.testing.assert_array_equal(X[3:6], before[2:5])
    np.testing.assert_array_equal(X[6], before[6])
    np.testing.assert_allclose(X_pow, np.abs(X) ** 2, rtol=1e-12)


def test_kalman_kernels_match_the_numpy_update(rng):
    X, W, E = cplx(rng, ROWS, BINS), cplx(rng, ROWS, BINS), cplx(rng, BINS)
    X_pow = np.abs(X) ** 2
    P = rng.uniform(0.1, 1.0, (ROWS, BINS))
    psi = rng.uniform(0.0, 2.0, BINS)
    np.testing.assert_allclose(kernels.echo_spectrum(X, W), np.sum(X * W, axis=0), rtol=1e-12)

    e_pow = np.abs(E) ** 2
    psi_ref = np.maximum(e_pow, 0.9 * psi + 0.1 * e_pow)
    mu_ref = P / (np.sum(X_pow * P, axis=0) + psi_ref + 1e-10)
    update_ref = mu_ref * np.conj(X) * E
    update, mu = kernels.kalman_gain(X, X_pow, P, E, psi, 0.9)
    np.testing.assert_allclose(psi, psi_ref, rtol=1e-12)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-12)
    np.testing.assert_allclose(update, update_ref, rtol=1e-12)

    a = 0.9995
    W_ref = a * (W + update)
    P_ref = a**2 * (1 - 0.5 * mu * X_pow) * P + (1 - a**2) * np.abs(W_ref) ** 2
    kernels.kalman_finish(W, P, update, mu, X_pow, a)
    np.testing.assert_allclose(W, W_ref, rtol=1e-12)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12)


def test_interpolate_matches_the_gathered_table_lookup(rng):
    hist = rng.standard_normal(2000)
    offsets = np.arange(-15, 17)
    table = rng.standard_normal((65, 32))
    delays = np.concatenate([np.linspace(3.2, 9.7, 160), np.full(150, 1500.4), [-2.0, 5000.0] * 5])  # clipped too
    start, max_delay, phases = 1600.0, 1800.0, 64
    pos = start + np.arange(len(delays)) - np.clip(delays, 0.0, max_delay)
    base = np.floor(pos).astype(int)
    idx = np.clip(base[:, None] + offsets[None, :], 0, len(hist) - 1)
    expected = np.einsum("ij,ij->i", hist[idx], table[np.rint((pos - base) * phases).astype(int)])
    out = kernels.interpolate(hist, start, delays, max_delay, offsets, table, phases)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_phat_spectrum_whitens_and_drops_weak_bins(rng):
    a, b = cplx(rng, 500), cplx(rng, 500)
    b[:50] *= 1e-9  # far below the strongest bin: left out
    g = kernels.phat_spectrum(a, b, 1e-6)
    cross = np.conj(b) * a
    keep = np.abs(cross) > np.abs(cross).max() * 1e-6
    assert not keep[:50].any() and keep[50:].all()
    np.testing.assert_allclose(g[keep], cross[keep] / np.abs(cross[keep]), rtol=1e-12)
    assert np.all(g[~keep] == 0)


def test_fit_kernels_match_the_numpy_regression_test(rng):
    fit = np.zeros((5, 3, 161))
    for slot in range(5):
        m, y = cplx(rng, 161), cplx(rng, 161) * (0.2 if slot < 3 else 1.0)
        kernels.store_fit(fit, slot, m, y)
        np.testing.assert_allclose(fit[slot], [(y * m.conj()).real, np.abs(y) ** 2, np.abs(m) ** 2], rtol=1e-12)

    def numpy_form(rows, moved_fit=0.25, share=0.05, min_bins=16):
        cross, y_pow, m_pow = fit[rows].sum(axis=0)
        bins = y_pow > share * m_pow
        n = np.count_nonzero(bins)
        return n >= min_bins and 2 * np.count_nonzero(bins & (cross < moved_fit * y_pow)) > n

    for newest in range(5):
        for blocks in (1, 2, 5):
            rows = [(newest - k) % 5 for k in range(blocks)]
            for moved_fit in (-0.5, 0.0, 0.25, 2.0):  # both answers occur
                assert kernels.fits_badly(fit, newest, blocks, moved_fit, 0.05, 16) == numpy_form(rows, moved_fit)
    assert kernels.fits_badly(fit, 4, 5, 2.0, 0.05, 16) and not kernels.fits_badly(fit, 4, 5, -0.5, 0.05, 16)
    assert not kernels.fits_badly(fit, 4, 5, 2.0, 0.05, 1000)  # too few bins to tell


def test_leakage_masks_follow_the_speex_style_estimate(rng):
    """The fused kernel against the numpy form of the leakage estimate (one band, no smoothing across bins)."""
    bins = 40
    band_of_bin = np.zeros(bins, dtype=np.int64)
    kernel = np.array([1.0])
    state = [np.full(1, 0.005), np.zeros(bins), np.zeros(bins), np.zeros(1), np.zeros(1), np.zeros(bins)]
    leak, mean_e, mean_y, cov, var, residual = state
    for _ in range(30):  # the error is 10 % of the echo estimate's power: the leakage converges to 0.1
        y = cplx(rng, bins)
        e = np.sqrt(0.1) * y * np.exp(1j * rng.uniform(0, 6.3, bins))
        m_x, m_r = kernels.leakage_masks(e, y, kernel, 0.0, band_of_bin, leak, mean_e, mean_y, cov, var, residual,
                                         True, 0.95, 0.95, 0.005, 0.5, 0.9, 3.0, 0.6, 1e-3)
    assert 0.08 < leak[0] < 0.12
    ratio = np.minimum(residual / np.abs(e) ** 2, 1.0)
    np.testing.assert_allclose(m_r, np.sqrt(ratio), rtol=1e-9)
    np.testing.assert_allclose(m_x, np.sqrt(np.maximum(1 - ratio, 1e-6)), rtol=1e-9)
    frozen = leak.copy()
    kernels.leakage_masks(e, 10 * y, kernel, 0.0, band_of_bin, leak, mean_e, mean_y, cov, var, residual,
                          False, 0.95, 0.95, 0.005, 0.5, 0.9, 3.0, 0.6, 1e-3)
    np.testing.assert_array_equal(leak, frozen)  # adapt=False keeps the leakage


def test_wiener_outputs_apply_the_two_exponents(rng):
    x = cplx(rng, BINS)
    m_x, m_r = rng.uniform(0, 1, BINS), rng.uniform(0, 1, BINS)
    g = (m_x / (m_x + m_r + 1e-12)) ** 2
    x_vad, x_asr = kernels.wiener_outputs(x, g, 0.6, 0.2)
    np.testing.assert_allclose(x_vad, g**0.6 * x, rtol=1e-12)
    np.testing.assert_allclose(x_asr, g**0.2 * x, rtol=1e-12)


def test_sliding_window_holds_the_newest_samples(rng):
    x = rng.standard_normal(5000)
    win = SlidingWindow(700, slack=450)
    for i in range(0, len(x), 320):
        win.push(x[i : i + 320])
        end = min(i + 320, len(x))
        expected = np.concatenate([np.zeros(max(0, 700 - end)), x[max(0, end - 700) : end]])
        np.testing.assert_array_equal(win.view(), expected)
    with pytest.raises(ValueError):
        win.push(np.zeros(451))
    win.reset()
    assert not win.view().any()
