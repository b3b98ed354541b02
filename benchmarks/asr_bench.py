"""ASR benchmark: error rates clean and after the echo chain, real-time factor, first-partial latency.

    python benchmarks/asr_bench.py [--quick] [--json OUT.json] [--model FOLDER] [--backend onnx|torch] [--no-collapse]

Test material (built here, offline, cached in ``cache/asr/bench``): a spoken-only corpus of its own
seed (``python -m training.data.corpus --spoken-only``), of which only the **test voices** are used
(voices never heard in training). Each utterance is scored:

- ``clean``: as synthesised;
- ``ser_-10dB``: spoken in a simulated room and device while the agent talks at a signal-to-echo ratio
  of −10 dB at the mic, through the echo chain's ASR output (:func:`training.asr.data.in_room`) with the classical
  residual-echo masks (the chain the shipped model's echo examples come from; the issue's target is on this one);
- ``ser_-10dB_agent``: the same microphone and loudspeaker signals through the agent's default chain (neural RES
  on, ``AecConfig()``): what the recogniser hears in ``python -m agent``.

Both are recognised by the streaming recogniser fed 20 ms blocks, exactly as in the agent. Sentences
held out of training (``training.asr.data.sentence_heldout``) are scored apart as ``new``: the
synthetic corpus has few sentences, so ``seen`` measures robustness to new voices and rooms and
``new`` measures generalisation to new text.

Metrics: CER (Bangla, code points without spaces), WER (English), the echo/clean ratio; real-time
factor on one thread (median over utterances; the one-call whole-file path of the same recogniser is
run in the same process as the baseline); first-partial latency = speech onset → the end of the audio
block after which the first non-empty partial was available, plus the compute of that block.

Backends: the recogniser under test runs on ``--backend`` (default onnx, the agent's default); the other
backend streams every clean clip in the same process as the baseline, and the report says on how many
clips both gave the same text.

Speed anchor (full runs; ``--no-anchor`` skips it): a Paraformer with the body of FunASR's released
streaming model (paraformer-zh-streaming: encoder 50 x 512, decoder 16 blocks) and random weights, built
locally once (``cache/asr/anchor_released_size``), streamed on 20 clean clips in the same process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from agent.config import AecConfig  # noqa: E402
from audio_io.wav import read_wav, write_wav  # noqa: E402
from models.aec.chain import CLASSICAL  # noqa: E402
from models.asr.metrics import error_counts  # noqa: E402
from models.asr.onnx_runtime import OnnxParaformerRecognizer, cached_export  # noqa: E402
from models.asr.paraformer import SHIPPED_MODEL, ParaformerRecognizer  # noqa: E402
from models.asr.tokens import normalize_transcript  # noqa: E402

SR = 16000
BLOCK = 320
BENCH_DIR = Path("cache/asr/bench")
CORPUS_SEED = 11
HELDOUT = 0.1  # the training recipe's default share of held-out sentences
# echo conditions: the chain each runs (the same room, device and loudspeaker signal for both)
ECHO_CONDITIONS = {"ser_-10dB": CLASSICAL, "ser_-10dB_agent": AecConfig()}


def build_material(n_corpus: int, progress: bool) -> list[dict]:
    """Test-voice utterances with their clean and SER −10 dB audio (built once, then read from the cache)."""
    from training.asr.data import in_room, sentence_heldout
    from training.data.corpus import CorpusSpec, build_corpus

    corpus = BENCH_DIR / "corpus"
    spec = CorpusSpec(out=str(corpus), num=n_corpus, seed=CORPUS_SEED, max_sentences=2, rates=(16000,),
                      spoken_only=True)
    records = build_corpus(spec, workers=2, progress=progress)
    test = [r for r in records if r["split"] == "test"]
    agent_files = [corpus / r["files"]["16000"] for r in test]
    out = []
    for r in test:
        clean = read_wav(corpus / r["files"]["16000"], SR)
        audio = {"clean": clean}
        others = [f for f in agent_files if f.name != Path(r["files"]["16000"]).name]
        for cond, chain in ECHO_CONDITIONS.items():
            echo_path = BENCH_DIR / cond / f"{r['id']}.wav"
            if echo_path.exists():
                audio[cond] = read_wav(echo_path, SR)
            else:
                audio[cond], _ = in_room(int(r["id"].replace("-", "")), clean, others, -10.0, chain=chain)
                write_wav(echo_path, audio[cond], SR)
        out.append({"id": r["id"], "language": r["language"], "text": normalize_transcript(r["text"]),
                    "new": any(sentence_heldout(s["text"], HELDOUT) for s in r["sentences"]),
                    "speech_start_s": r["speech_start_s"], "audio": audio})
    return out


def run_streaming(rec: ParaformerRecognizer, audio: np.ndarray) -> tuple[str, float, float | None, float]:
    """(text, compute s, audio time s of the first non-empty partial, compute s of that block)."""
    stream = rec.stream()
    total = 0.0
    first = None
    first_cost = 0.0
    for start in range(0, audio.shape[0], BLOCK):
        t0 = time.perf_counter()
        text = stream.accept(audio[start : start + BLOCK])
        dt = time.perf_counter() - t0
        total += dt
        if first is None and text:
            first, first_cost = min(start + BLOCK, audio.shape[0]) / SR, dt
    t0 = time.perf_counter()
    text = stream.finish()
    dt = time.perf_counter() - t0
    total += dt
    if first is None and text:
        first, first_cost = audio.shape[0] / SR, dt
    return text, total, first, first_cost


def score(rows: list[dict], hyps: dict[str, str]) -> dict:
    """CER/WER for all, seen and new sentences."""
    out = {}
    for subset, keep in (("all", lambda r: True), ("seen", lambda r: not r["new"]), ("new", lambda r: r["new"])):
        for lang, name in (("bn", "cer"), ("en", "wer")):
            e = n = 0
            k = 0
            for r in rows:
                if r["language"] == lang and keep(r):
                    de, dn = error_counts(r["text"], hyps[r["id"]], lang)
                    e, n, k = e + de, n + dn, k + 1
            out[f"{name}_{subset}"] = e / n if n else None
            out[f"n_{lang}_{subset}"] = k
    return out


def fmt(v: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "—" if v is None else f"{v * scale:.{digits}f}"


# FunASR's released streaming Paraformer (paraformer-zh-streaming): SANM encoder 50 x 512 (FFN 2048, 4 heads),
# SANM decoder 16 blocks. The anchor has this body with random weights and this project's vocabulary.
RELEASED_SIZE = {"dim": 512, "encoder_blocks": 50, "decoder_blocks": 16, "heads": 4, "ffn": 2048}
ANCHOR_DIR = Path("cache/asr/anchor_released_size")


def released_size_anchor(folder: Path = ANCHOR_DIR) -> tuple[Path, int]:
    """A random-weight Paraformer of FunASR's released size as a local folder (built once); (folder, parameters)."""
    import torch

    from training.asr.folder import FEATURE_DIM, build_model, paraformer_config, write_model_folder

    cfg = paraformer_config(**RELEASED_SIZE, specaug=False)
    torch.manual_seed(0)
    model = build_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    if not (folder / "model.pt").exists():
        write_model_folder(folder, cfg, model.state_dict(), np.zeros(FEATURE_DIM), np.ones(FEATURE_DIM),
                           card={"note": "random weights, FunASR released streaming size (speed anchor only)"})
    return folder, params


def anchor_speed(rows: list[dict], ours_rtf: float, clips: int) -> dict:
    """Streaming real-time factor of the released-size anchor on the first ``clips`` clean clips, same process."""
    folder, params = released_size_anchor()
    anchor = ParaformerRecognizer(folder, threads=1)
    rtf = []
    for r in rows[:clips]:
        audio = r["audio"]["clean"]
        _, cost, _, _ = run_streaming(anchor, audio)
        rtf.append(cost / (audio.shape[0] / SR))
    anchor_rtf = statistics.median(rtf)
    return {"parameters": params, "rtf_streaming_median": anchor_rtf, "clips": len(rtf),
            "ours_over_anchor": ours_rtf / max(anchor_rtf, 1e-12)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small test set (smoke test)")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="FunASR model folder (default: the shipped one)")
    p.add_argument("--backend", choices=["onnx", "torch"], default="onnx",
                   help="backend under test (the other one runs on the clean clips as the baseline)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-anchor", action="store_true",
                   help="skip the random-weight Paraformer of FunASR's released size (always skipped with --quick)")
    p.add_argument("--no-collapse", action="store_true",
                   help="keep Bangla characters the model repeats (asr.collapse_repeats false; default: written once)")
    args = p.parse_args(argv)
    logging.getLogger("models.aec.laec").setLevel(logging.ERROR)
    logging.getLogger("audio_io.room").setLevel(logging.ERROR)
    recs = {"torch": ParaformerRecognizer(args.model, threads=1),
            "onnx": OnnxParaformerRecognizer(cached_export(args.model), threads=1)}
    for r in recs.values():
        r.collapse_repeats = not args.no_collapse
    rec, baseline = recs[args.backend], recs["torch" if args.backend == "onnx" else "onnx"]
    rows = build_material(120 if args.quick else 1500, not args.no_progress)
    if args.quick:
        rows = rows[:8]
    conditions: dict[str, dict] = {}
    rtf, rtf_whole, rtf_base, latency, latency_cost = [], [], [], [], []
    same_text = 0
    for cond in ("clean", *ECHO_CONDITIONS):
        hyps = {}
        for r in rows:
            audio = r["audio"][cond]
            text, cost, first, first_cost = run_streaming(rec, audio)
            hyps[r["id"]] = text
            if cond == "clean":
                rtf.append(cost / (audio.shape[0] / SR))
                t0 = time.perf_counter()
                rec.transcribe(audio)
                rtf_whole.append((time.perf_counter() - t0) / (audio.shape[0] / SR))
                base_text, base_cost, _, _ = run_streaming(baseline, audio)
                rtf_base.append(base_cost / (audio.shape[0] / SR))
                same_text += base_text == text
                if first is not None:
                    latency.append(1000 * (first - r["speech_start_s"] + first_cost))
                    latency_cost.append(1000 * first_cost)
        conditions[cond] = {**score(rows, hyps), "examples": [{"id": r["id"], "ref": r["text"], "hyp": hyps[r["id"]]}
                                                               for r in rows[:5]]}
    ratio, ratio_agent = {}, {}
    for key in ("cer_all", "wer_all", "cer_seen", "cer_new"):
        c = conditions["clean"][key]
        ratio[key] = conditions["ser_-10dB"][key] / c if c else None
        ratio_agent[key] = conditions["ser_-10dB_agent"][key] / c if c else None
    speed = {"rtf_streaming_median": statistics.median(rtf), "rtf_whole_file_median": statistics.median(rtf_whole),
             "streaming_over_whole_file": statistics.median(rtf) / max(statistics.median(rtf_whole), 1e-12),
             "first_partial_ms_median": statistics.median(latency) if latency else None,
             "first_partial_ms_p90": float(np.percentile(latency, 90)) if latency else None,
             "first_partial_compute_ms_median": statistics.median(latency_cost) if latency_cost else None,
             "utterances_with_a_partial": len(latency),
             "backend": args.backend,
             "baseline_backend": baseline.backend,
             "rtf_streaming_baseline_median": statistics.median(rtf_base),
             "over_baseline": statistics.median(rtf) / max(statistics.median(rtf_base), 1e-12),
             "same_text_as_baseline": same_text, "clips_compared": len(rtf_base)}
    if not (args.quick or args.no_anchor):
        # The anchor runs on torch (a 212 M-parameter export would be 0.8 GB), so ours on torch is compared with it.
        torch_rtf = statistics.median(rtf if args.backend == "torch" else rtf_base)
        speed["anchor_released_size"] = anchor_speed(rows, torch_rtf, 20)
    n_bn = sum(r["language"] == "bn" for r in rows)
    print(f"\nASR benchmark ({'quick' if args.quick else 'full'}): {len(rows)} test-voice utterances "
          f"({n_bn} Bangla, {len(rows) - n_bn} English), model {args.model}")
    head = f"{'condition':<11} {'CER% all':>8} {'CER% seen':>9} {'CER% new':>8} {'WER% all':>8} {'WER% seen':>9} {'WER% new':>8}"
    print(head)
    print("-" * len(head))
    for cond, m in conditions.items():
        print(f"{cond:<11} {fmt(m['cer_all']):>8} {fmt(m['cer_seen']):>9} {fmt(m['cer_new']):>8} "
              f"{fmt(m['wer_all']):>8} {fmt(m['wer_seen']):>9} {fmt(m['wer_new']):>8}")
    print(f"SER -10 dB / clean: CER {fmt(ratio['cer_all'], 1, 2)}x, WER {fmt(ratio['wer_all'], 1, 2)}x "
          f"(classical masks); agent's chain (neural RES): CER {fmt(ratio_agent['cer_all'], 1, 2)}x, "
          f"WER {fmt(ratio_agent['wer_all'], 1, 2)}x")
    print(f"real-time factor, one thread (median): streaming 20 ms blocks {speed['rtf_streaming_median']:.4f}, "
          f"whole file in one call {speed['rtf_whole_file_median']:.4f} "
          f"(ratio {speed['streaming_over_whole_file']:.2f})")
    print(f"backend {args.backend}: streaming RTF {speed['rtf_streaming_median']:.4f} vs {baseline.backend} "
          f"{speed['rtf_streaming_baseline_median']:.4f} in the same process ({speed['over_baseline']:.2f}x its time); "
          f"same text on {same_text}/{len(rtf_base)} clips")
    if "anchor_released_size" in speed:
        a = speed["anchor_released_size"]
        print(f"anchor: FunASR's released streaming size ({a['parameters'] / 1e6:.0f} M parameters, random weights): "
              f"streaming RTF {a['rtf_streaming_median']:.4f} (torch); ours on torch takes {a['ours_over_anchor']:.2f}x its time")
    if latency:
        print(f"first partial after speech onset: median {speed['first_partial_ms_median']:.0f} ms, "
              f"p90 {speed['first_partial_ms_p90']:.0f} ms ({len(latency)}/{len(rows)} utterances had one)")
    report = {"quick": args.quick, "model": str(args.model), "backend": args.backend, "collapse_repeats": not args.no_collapse, "utterances": len(rows), "conditions": conditions,
              "echo_over_clean": ratio, "echo_over_clean_agent_chain": ratio_agent, "speed": speed}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
