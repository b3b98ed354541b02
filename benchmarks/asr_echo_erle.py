"""How much echo the linear canceller removes in the ASR benchmark's echo condition, and how much it could.

    python benchmarks/asr_echo_erle.py [--count 60] [--json OUT.json] [--quick]

Material: the test-voice utterances of ``benchmarks/asr_bench.py`` (its cached corpus), each in the same simulated
room and device as that benchmark's ``ser_-10dB`` condition (same seeds and loudspeaker speech as
``asr_echo_taps.py``: the same microphone signals). The room gives the microphone's parts (echo, user, noise), so
the residual echo after the linear canceller is known exactly: e − user − noise = echo − ŷ. Per clip:

- ``ser_mic_db``: user over echo at the microphone (the recipe sets −10 dB over the user's active samples);
- ``erle_chain_db``: echo over residual echo (echo − ŷ) for the chain as it runs in the agent (TDE → aligner →
  LAEC), cold at the clip's start, over the whole clip, its first second (``_first_s``) and the rest (``_rest``);
  ``ser_laec_db``: the user over that residual echo (what the masks and the ASR start from);
- ``erle_ideal_db``: the same LAEC with the reference delayed by the room's true bulk delay (no TDE, no
  re-alignment): what the delay estimation and alignment cost;
- ``ceiling_linear_db`` / ``ceiling_hammerstein_db``: least squares over the whole clip with the LAEC's own spans
  at that ideal alignment (256 ms of x; plus 128 ms of |x|, the Hammerstein branch): the echo a filter of that
  structure could remove knowing the clip in advance (the loudspeaker's clipping and the x² term stay);
- ``realignments`` (the aligner's restarts), ``path_changes`` and ``resets`` of the LAEC.

Medians are reported for all clips and split by whether the device's loudspeaker distorts (70 % of the recipe's
device profiles). A diagnostic, not a target: it says whether issue 7's echo condition is bounded by the echo
chain or by the recogniser (``asr_echo_taps.py`` gives the CER per tap on the same clips).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.linalg import toeplitz  # noqa: E402
from scipy.signal import fftconvolve  # noqa: E402

from models.aec.chain import CLASSICAL, PRE_DELAY, EchoCanceller, run_chain  # noqa: E402
from models.aec.laec import BLOCK, PbfdkfEchoCanceller  # noqa: E402
from training.asr.data import room_signals  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr_bench import BENCH_DIR, SR, build_material  # noqa: E402

FIRST_S = 1.0  # the "first second" split, s
SER_DB = -10.0  # asr_bench's echo condition
KEYS = ("ser_mic_db", "erle_chain_db", "erle_chain_first_s_db", "erle_chain_rest_db", "ser_laec_db",
        "erle_ideal_db", "erle_ideal_first_s_db", "erle_ideal_rest_db", "ceiling_linear_db",
        "ceiling_hammerstein_db", "realignments", "path_changes", "resets")


def ratio_db(num: np.ndarray, den: np.ndarray) -> float:
    """10·log10(Σnum² / Σden²), dB (NaN where there is nothing to compare)."""
    a, b = float(np.sum(num**2)), float(np.sum(den**2))
    return 10 * np.log10(a / b) if a > 0 and b > 0 else float("nan")


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    """``x`` delayed by ``samples`` ≥ 0 (same length)."""
    return np.concatenate([np.zeros(samples), x])[: x.shape[0]] if samples > 0 else x.copy()


def reference_at_true_delay(far: np.ndarray, n: int, delay_ms: float) -> np.ndarray:
    """The loudspeaker signal (first ``n`` samples) delayed by the room's bulk delay less the chain's own pre-delay
    (the filter keeps the echo path's start): the ideal alignment."""
    return delayed(far[:n], max(0, int(round(delay_ms * SR / 1000)) - PRE_DELAY))


def chain_echo_estimate(mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """ŷ of the classical chain (the agent's TDE, aligner and LAEC), aligned with ``mic``, and its counters."""
    chain = EchoCanceller(CLASSICAL)
    y = run_chain(mic, far, chain=chain).echo.astype(np.float64)
    return y, {"realignments": chain.aligner.restarts, "path_changes": chain.laec.path_changes,
               "resets": chain.laec.resets}


def ideal_echo_estimate(mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """ŷ of a fresh LAEC (the chain's settings) fed ``reference`` as it is (already aligned)."""
    laec = PbfdkfEchoCanceller(CLASSICAL.laec)
    n = mic.shape[0] // BLOCK * BLOCK
    y = [laec.process(mic[i : i + BLOCK], reference[i : i + BLOCK])[1] for i in range(0, n, BLOCK)]
    return np.concatenate(y + [np.zeros(mic.shape[0] - n)])


def _xcorr(a: np.ndarray, b: np.ndarray, taps: int) -> np.ndarray:
    """c[k] = Σ_t a[t]·b[t − k] for k = 0 … taps − 1."""
    n = a.shape[0]
    return fftconvolve(a, b[::-1])[n - 1 : n - 1 + taps]


def least_squares_residual(target: np.ndarray, inputs: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """target − the best sum of causal FIR filters (one per (input, taps)) over the whole signal."""
    sizes = [t for _, t in inputs]
    total = sum(sizes)
    starts = np.cumsum([0] + sizes)
    r = np.zeros((total, total))
    p = np.zeros(total)
    for i, (xi, ti) in enumerate(inputs):
        p[starts[i] : starts[i + 1]] = _xcorr(target, xi, ti)
        for j, (xj, tj) in enumerate(inputs):
            # entry (k, l) = Σ_t xi(t−k)·xj(t−l): first column Σ xj(t)·xi(t−k), first row Σ xi(t)·xj(t−l)
            col, row = _xcorr(xj, xi, ti), _xcorr(xi, xj, tj)
            r[starts[i] : starts[i + 1], starts[j] : starts[j + 1]] = toeplitz(col, row)
    for i in range(len(inputs)):  # a tiny ridge per input, scaled by that input's own power
        d = np.arange(starts[i], starts[i + 1])
        r[d, d] += 1e-9 * r[starts[i], starts[i]] + 1e-12
    h = np.linalg.solve(r, p)
    fit = sum(fftconvolve(x, h[starts[i] : starts[i + 1]])[: target.shape[0]] for i, (x, _) in enumerate(inputs))
    return target - fit


def ceiling_inputs(reference: np.ndarray) -> tuple[list, list]:
    """The least-squares ceiling's inputs with the LAEC's spans on ``reference`` (already aligned): (the linear
    branch, the Hammerstein branch on |reference|, empty without one), as :func:`least_squares_residual` takes them."""
    laec = PbfdkfEchoCanceller(CLASSICAL.laec)
    rectified = [(np.abs(reference), laec.nonlinear_partitions * BLOCK)] if laec.nonlinear_partitions else []
    return [(reference, laec.partitions * BLOCK)], rectified


def clip_report(seed: int, clean: np.ndarray, agent_files: list[Path]) -> dict:
    mic, far, meta = room_signals(seed, clean, agent_files, SER_DB, parts=True)
    echo, near = meta["echo"], meta["near"]
    first = int(FIRST_S * SR)
    y_chain, counters = chain_echo_estimate(mic, far)
    reference = reference_at_true_delay(far, mic.shape[0], meta["delay_ms"])
    y_ideal = ideal_echo_estimate(mic, reference)
    linear, rectified = ceiling_inputs(reference)
    res_lin, res_ham = least_squares_residual(echo, linear), least_squares_residual(echo, linear + rectified)
    active = np.abs(near) > 1e-5
    out = {
        "seed": seed, "seconds": round(mic.shape[0] / SR, 2), "nonlinearity": meta["nonlinearity"],
        "ser_mic_db": ratio_db(near[active], np.sqrt(active.sum() / active.size) * echo),
        "ser_laec_db": ratio_db(near, echo - y_chain),
        "ceiling_linear_db": ratio_db(echo, res_lin), "ceiling_hammerstein_db": ratio_db(echo, res_ham),
        **counters,
    }
    for name, y in (("chain", y_chain), ("ideal", y_ideal)):
        out[f"erle_{name}_db"] = ratio_db(echo, echo - y)
        out[f"erle_{name}_first_s_db"] = ratio_db(echo[:first], echo[:first] - y[:first])
        out[f"erle_{name}_rest_db"] = ratio_db(echo[first:], echo[first:] - y[first:])
    return out


def medians(clips: list[dict]) -> dict[str, float]:
    return {k: float(np.nanmedian([c[k] for c in clips])) if clips else float("nan") for k in KEYS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=60, help="test utterances, both languages (default 60)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quick", action="store_true", help="asr_bench's small test set and 2 utterances (smoke test)")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be at least 1")
    for name in ("models.aec.laec", "models.aec.chain", "models.aec.delay_line", "audio_io.room"):
        logging.getLogger(name).setLevel(logging.ERROR)
    rows = build_material(120 if args.quick else 1500, not args.no_progress)
    # asr_bench's loudspeaker speech: every test utterance's file, in the material's order (as asr_echo_taps)
    agent_files = [BENCH_DIR / "corpus" / "wavs_16k" / f"{r['id']}.wav" for r in rows]
    rows = rows[: 2 if args.quick else args.count]
    from tqdm import tqdm

    clips = []
    for r in tqdm(rows, desc="clips", disable=args.no_progress):
        others = [f for f in agent_files if f.name != f"{r['id']}.wav"]
        clips.append({"id": r["id"], **clip_report(int(r["id"].replace("-", "")), r["audio"]["clean"], others)})
    groups = {"all": clips, "distorting loudspeaker": [c for c in clips if c["nonlinearity"]],
              "linear loudspeaker": [c for c in clips if not c["nonlinearity"]]}
    summary = {g: {"clips": len(c), **medians(c)} for g, c in groups.items()}
    print(f"\nLinear echo canceller on asr_bench's SER {SER_DB:g} dB clips (medians, dB; cold start per clip)")
    cols = [("clips", "clips"), ("ser_mic_db", "SER mic"), ("erle_chain_first_s_db", "ERLE 1st s"),
            ("erle_chain_rest_db", "ERLE rest"), ("ser_laec_db", "SER LAEC"), ("erle_ideal_first_s_db", "ideal 1st s"),
            ("erle_ideal_rest_db", "ideal rest"), ("ceiling_linear_db", "LS lin"),
            ("ceiling_hammerstein_db", "LS x+|x|"), ("realignments", "realign")]
    print(f"{'':<24}" + "".join(f"{h:>12}" for _, h in cols))
    for g, s in summary.items():
        print(f"{g:<24}" + "".join(f"{s[k]:>12.1f}" if k != "clips" else f"{s[k]:>12d}" for k, _ in cols))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"ser_db": SER_DB, "first_s": FIRST_S, "summary": summary, "clips": clips},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
