"""Where the ASR's error at SER −10 dB comes from: the recogniser on each tap of the echo chain.

    python benchmarks/asr_echo_taps.py [--count 60] [--model FOLDER] [--warm-lead S] [--json OUT.json] [--quick]

Material: the Bangla test-voice utterances of ``benchmarks/asr_bench.py`` (its cached corpus), each spoken in the
same simulated room and device as that benchmark's ``ser_-10dB`` condition (same seed, so the same microphone and
loudspeaker signals). The streaming recogniser (onnx, 20 ms blocks, as in the agent) is run on:

- ``clean``: as synthesised;
- ``room_no_echo``: the same room, device and noise with nothing played (the user's level is the room's own, not
  scaled to −10 dB), through the chain (which then has no echo to remove): what the room alone costs;
- ``mic_-10dB``: the raw microphone at SER −10 dB, no echo chain: what the chain starts from;
- ``laec_-10dB``: the linear canceller's output e = mic − ŷ, before any residual-echo mask;
- ``laec_oracle_-10dB``: the microphone less the echo estimate of a filter of the canceller's structure fitted to
  the whole clip by least squares (``asr_echo_erle.py``'s ceiling: 256 ms of x and 128 ms of |x| at the true delay):
  what the ASR would hear from a linear canceller that had converged as far as its structure allows before the
  user spoke;
- ``asr_beta0_-10dB``: the chain's ASR output with ``aec.beta_asr`` 0 (the post Wiener filter leaves it unmasked);
- ``asr_-10dB``: the chain's ASR output (classical masks, ``beta_asr`` 0.2): asr_bench's ``ser_-10dB``, the
  condition the ASR's examples come from;
- ``vad_-10dB``: the chain's VAD output (``beta_vad`` 0.6), stronger suppression;
- ``agent_-10dB``: the agent's default chain (neural RES) ASR output: asr_bench's ``ser_-10dB_agent``;
- ``*_warm``: the same four with the agent talking alone for ``--warm-lead`` s (default 3) before the user (the
  canceller has adapted to the room, as before a barge-in in the agent; asr_bench's clips start the chain cold with
  the user), the lead cut off.

It prints a table and writes JSON. A diagnostic, not a target: it says whether the echo condition's error is set by
residual echo (laec and beta 0 worse than the masked output) or by what the masks take from the user (the masked
outputs worse than the linear canceller's).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from agent.config import AecConfig  # noqa: E402
from models.aec.chain import CLASSICAL, run_chain  # noqa: E402
from models.asr.onnx_runtime import OnnxParaformerRecognizer, cached_export  # noqa: E402
from models.asr.paraformer import SHIPPED_MODEL  # noqa: E402
from training.asr.data import room_signals  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr_bench import BENCH_DIR, SR, build_material, run_streaming, score  # noqa: E402

TAPS = ("clean", "room_no_echo", "mic_-10dB", "laec_-10dB", "laec_oracle_-10dB", "asr_beta0_-10dB", "asr_-10dB", "vad_-10dB",
        "agent_-10dB", "mic_-10dB_warm", "laec_-10dB_warm", "asr_-10dB_warm", "agent_-10dB_warm")
WARM_LEAD_S = 3.0  # the agent's speech played alone before the user speaks, in the warm taps, s


def oracle_residual(mic: np.ndarray, far: np.ndarray, parts: dict) -> np.ndarray:
    """The echo a least-squares filter of the LAEC's structure (x and |x| at the true delay) leaves in the clip."""
    from asr_echo_erle import ceiling_inputs, least_squares_residual, reference_at_true_delay

    linear, rectified = ceiling_inputs(reference_at_true_delay(far, mic.shape[0], parts["delay_ms"]))
    return least_squares_residual(parts["echo"], linear + rectified)


def tap_audio(row: dict, agent_files: list[Path], warm_lead_s: float = WARM_LEAD_S) -> dict[str, np.ndarray]:
    """Every tap's audio for one benchmark row (float32, 16 kHz); ``warm_lead_s``: the agent's solo lead of the
    warm taps, s."""
    seed = int(row["id"].replace("-", ""))
    clean = row["audio"]["clean"]
    mic, far, parts = room_signals(seed, clean, agent_files, -10.0, parts=True)
    room_mic, room_far, _ = room_signals(seed, clean, None, None)
    classical = run_chain(mic, far, CLASSICAL)
    taps = {
        "clean": clean,
        "room_no_echo": run_chain(room_mic, room_far, CLASSICAL).asr,
        "mic_-10dB": mic,
        "laec_-10dB": classical.laec,
        "laec_oracle_-10dB": mic - parts["echo"] + oracle_residual(mic, far, parts),
        "asr_beta0_-10dB": run_chain(mic, far, replace(CLASSICAL, pwf=replace(CLASSICAL.pwf, beta_asr=0.0))).asr,
        "asr_-10dB": classical.asr,
        "vad_-10dB": classical.vad,
        "agent_-10dB": run_chain(mic, far, AecConfig()).asr,
    }
    # warm: the same room with the agent talking alone for WARM_LEAD_S first (as before a barge-in), then cut off
    lead = int(warm_lead_s * SR)
    mic_w, far_w, _ = room_signals(seed, np.concatenate([np.zeros(lead, np.float32), clean]), agent_files, -10.0)
    classical_w = run_chain(mic_w, far_w, CLASSICAL)
    taps.update({
        "mic_-10dB_warm": mic_w[lead:],
        "laec_-10dB_warm": classical_w.laec[lead:],
        "asr_-10dB_warm": classical_w.asr[lead:],
        "agent_-10dB_warm": run_chain(mic_w, far_w, AecConfig()).asr[lead:],
    })
    return {k: np.asarray(v, np.float32) for k, v in taps.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=60, help="Bangla test utterances (default 60)")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="FunASR model folder (default: the shipped one)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--quick", action="store_true", help="asr_bench's small test set and 2 utterances (smoke test)")
    p.add_argument("--warm-lead", type=float, default=WARM_LEAD_S,
                   help=f"seconds the agent talks alone before the user in the *_warm taps (default {WARM_LEAD_S:g})")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be at least 1")
    if not 0 < args.warm_lead <= 60:
        p.error("--warm-lead must be more than 0 and at most 60 s")
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    logging.getLogger("audio_io.room").setLevel(logging.ERROR)
    rec = OnnxParaformerRecognizer(cached_export(args.model), threads=1)
    rows = build_material(120 if args.quick else 1500, not args.no_progress)
    # asr_bench's loudspeaker speech: every test utterance's file, in the material's order (in_room draws from it)
    agent_files = [BENCH_DIR / "corpus" / "wavs_16k" / f"{r['id']}.wav" for r in rows]
    rows = [r for r in rows if r["language"] == "bn"][: 2 if args.quick else args.count]
    if not rows:
        p.error("no Bangla test utterances in the benchmark's material")
    from tqdm import tqdm

    hyps: dict[str, dict[str, str]] = {t: {} for t in TAPS}
    for r in tqdm(rows, desc="taps", disable=args.no_progress):
        others = [f for f in agent_files if f.name != f"{r['id']}.wav"]
        taps = tap_audio(r, others, args.warm_lead)
        cached = r["audio"]["ser_-10dB"]
        if cached.shape != taps["asr_-10dB"].shape or np.max(np.abs(cached - taps["asr_-10dB"])) > 1e-3:
            raise SystemExit(f"{r['id']}: the rebuilt SER -10 dB audio differs from asr_bench's cached clip")
        for tap, audio in taps.items():
            hyps[tap][r["id"]] = run_streaming(rec, audio)[0]
    results = {tap: score(rows, h)["cer_all"] for tap, h in hyps.items()}
    clean = results["clean"] or float("nan")
    print(f"\nASR on the echo chain's taps: {len(rows)} Bangla test-voice utterances, model {args.model}")
    print(f"{'tap':<16} {'CER %':>6} {'x clean':>8}")
    print("-" * 32)
    for tap, cer in results.items():
        print(f"{tap:<16} {100 * cer:>6.1f} {cer / clean:>8.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "utterances": len(rows), "warm_lead_s": args.warm_lead,
                                         "cer": results,
                                         "over_clean": {t: c / clean for t, c in results.items()}},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
