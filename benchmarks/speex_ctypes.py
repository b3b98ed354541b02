"""SpeexDSP's echo canceller and preprocessor (residual echo suppression) through ctypes.

Debian's ``libspeexdsp1`` ships the shared library; the PyPI bindings need swig and headers to
build, so the benchmark calls the four C functions it needs directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

SPEEX_PREPROCESS_SET_ECHO_STATE = 24
SPEEX_ECHO_SET_SAMPLING_RATE = 24


def load() -> ctypes.CDLL:
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise RuntimeError(f"libspeexdsp is not installed ({exc}); run: bash scripts/setup.sh") from None
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(ctypes.c_int16)] * 3
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_preprocess_state_init.restype = ctypes.c_void_p
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16)]
    lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


def speex_aec(mic: np.ndarray, ref: np.ndarray, frame: int = 160, tail: int = 4096, rate: int = 16000) -> np.ndarray:
    """Speex MDF echo cancellation + preprocessor residual echo suppression over whole float signals."""
    lib = load()
    st = lib.speex_echo_state_init(frame, tail)
    r = ctypes.c_int(rate)
    lib.speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
    pp = lib.speex_preprocess_state_init(frame, rate)
    lib.speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(st))
    to16 = lambda x: np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)  # noqa: E731
    m16, r16 = to16(mic), to16(ref)
    n = (len(m16) // frame) * frame
    out = np.zeros(len(m16), dtype=np.int16)
    buf = np.zeros(frame, dtype=np.int16)
    p = ctypes.POINTER(ctypes.c_int16)
    try:
        for i in range(0, n, frame):
            rec = np.ascontiguousarray(m16[i : i + frame])
            play = np.ascontiguousarray(r16[i : i + frame])
            lib.speex_echo_cancellation(st, rec.ctypes.data_as(p), play.ctypes.data_as(p), buf.ctypes.data_as(p))
            lib.speex_preprocess_run(pp, buf.ctypes.data_as(p))
            out[i : i + frame] = buf
    finally:
        lib.speex_preprocess_state_destroy(pp)
        lib.speex_echo_state_destroy(st)
    return out.astype(np.float32) / 32767
