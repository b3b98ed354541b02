"""Scenario reports: ``report.json``, ``report.md``, and two pictures (``timeline.png``, ``spectrograms.png``).

The timeline shows, on one time axis, what the agent played and what the user said (RMS envelopes in dB,
from the room's ground truth), the VAD's speech probability, and the decisions: barge-ins (playback
stopped), ends of turn and final transcripts (T1, T2 … listed with their text in ``report.md``). The spectrograms show the microphone and the echo
chain's output for the ASR.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agent.simulate.run import ScenarioResult, _percentile

SR = 16000
BLOCK_S = 0.02


def write_report(result: ScenarioResult, out: Path, pictures: bool = True) -> list[Path]:
    """Write the report files of one scenario into ``out`` (created); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.json", out / "report.md", out / "events.jsonl"]
    files[0].write_text(json.dumps(result.as_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    files[1].write_text(markdown(result), encoding="utf-8")
    files[2].write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in result.events), encoding="utf-8")
    if pictures:
        files += plot(result, out)
    return files


def markdown(result: ScenarioResult) -> str:
    s, m = result.scenario, result.metrics
    lines = [f"# {s.name}: {'PASS' if result.passed else 'FAIL'}", "", s.description, "",
             "| expectation | result | detail |", "|---|---|---|"]
    lines += [f"| {c['name']} | {'pass' if c['passed'] else 'FAIL'} | {c['detail']} |" for c in result.checks]
    finals = [e for e in result.events if e["kind"] == "final"]
    if finals:
        lines += ["", "| transcript | time, s | text |", "|---|---|---|"]
        lines += [f"| T{i + 1} | {e['time_s']:.2f} | {e.get('text') or '(nothing)'} |" for i, e in enumerate(finals)]
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.items()]
    lines += ["", "![timeline](timeline.png)", "", "![spectrograms](spectrograms.png)", ""]
    return "\n".join(lines)


def _db(rms: list[float]) -> np.ndarray:
    return 20 * np.log10(np.maximum(np.asarray(rms), 1e-5))


def plot(result: ScenarioResult, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = result.traces
    t = np.arange(len(tr.p_speech)) * BLOCK_S
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, height_ratios=[2, 1])
    ax1.plot(t, _db(tr.ref_rms), lw=0.8, label="agent plays (dBFS)")
    ax1.plot(t, _db(tr.near_rms), lw=0.8, label="user at the mic (dBFS)")
    ax1.set_ylim(-80, 0)
    ax1.set_ylabel("level, dB")
    ax2.plot(t, tr.p_speech, lw=0.8, color="black", label="VAD speech probability")
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("time, s")
    marks = {"playback_stopped": ("red", "barge-in"), "end_of_turn": ("green", "end of turn")}
    used: set[str] = set()
    for e in result.events:
        if e["kind"] in marks:
            color, label = marks[e["kind"]]
            for ax in (ax1, ax2):
                ax.axvline(e["time_s"], color=color, lw=1, label=label if label not in used and ax is ax2 else None)
            used.add(label)
        elif e["kind"] == "final":
            # Transcripts are listed in report.md: matplotlib cannot shape Bengali script.
            finals = sum(1 for x in result.events if x["kind"] == "final" and x["time_s"] <= e["time_s"])
            ax1.annotate(f"T{finals}", (e["time_s"], -8), fontsize=8)
    ax1.legend(loc="lower right", fontsize=7)
    ax2.legend(loc="upper right", fontsize=7)
    ax1.set_title(f"{result.scenario.name} ({'pass' if result.passed else 'FAIL'})")
    fig.tight_layout()
    timeline = out / "timeline.png"
    fig.savefig(timeline, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
    for ax, name, blocks in ((axes[0], "microphone", tr.mic), (axes[1], "echo-cancelled (ASR output)", tr.cleaned)):
        x = np.concatenate(blocks) if blocks else np.zeros(SR, np.float32)
        ax.specgram(x + 1e-7, NFFT=512, Fs=SR, noverlap=256, cmap="magma", vmin=-140, vmax=-20)
        ax.set_ylabel("Hz")
        ax.set_title(name, fontsize=9)
    axes[1].set_xlabel("time, s")
    fig.tight_layout()
    spectro = out / "spectrograms.png"
    fig.savefig(spectro, dpi=100)
    plt.close(fig)
    return [timeline, spectro]


def summary_table(results: list[ScenarioResult]) -> str:
    rows = ["| scenario | result | barge-in p50 ms | missed | false | EOT p50 ms | premature EOT | reply p50 ms | turns |",
            "|---|---|---|---|---|---|---|---|---|"]

    def p50(v: list[Any]) -> str:
        return f"{float(np.median(v)):.0f}" if v else "-"

    for r in results:
        m = r.metrics
        rows.append(f"| {r.scenario.name} | {'pass' if r.passed else 'FAIL'} | {p50(m['barge_in_latency_ms'])} | "
                    f"{m['missed_barge_ins']} | {m['false_barge_ins']} | {p50(m['end_of_turn_latency_ms'])} | "
                    f"{m.get('premature_ends_of_turn', '-')} | {p50(m['response_latency_ms'])} | {m['turns']} |")
    return "\n".join(rows)


def library_metrics(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """The scenario library's numbers pooled over scenarios (issue 11's targets are on these): barge-in latency
    p50/p95 over every interruption, the share of interruptions missed, false barge-ins per hour of the agent's
    speech, and the medians of end-of-turn and response latency. ``metrics``: each scenario's ``metrics``."""
    latencies = [v for m in metrics for v in m["barge_in_latency_ms"]]
    interruptions = sum(m["interruptions"] for m in metrics)
    speech_h = sum(m["agent_speech_s"] for m in metrics) / 3600
    false = sum(m["false_barge_ins"] for m in metrics)
    eot = [v for m in metrics for v in m["end_of_turn_latency_ms"]]
    premature = sum(m.get("premature_ends_of_turn", 0) for m in metrics)
    reply = [v for m in metrics for v in m["response_latency_ms"]]
    compute = [v for m in metrics for v in m.get("compute_ms", [])]
    pct = _percentile
    return {"scenarios": len(metrics), "interruptions": interruptions, "barge_in_p50_ms": pct(latencies, 50),
            "barge_in_p95_ms": pct(latencies, 95),
            "missed_share": (round(sum(m["missed_barge_ins"] for m in metrics) / interruptions, 4)
                             if interruptions else None),
            "false_barge_ins": false, "agent_speech_h": round(speech_h, 4),
            "false_barge_ins_per_h": round(false / speech_h, 2) if speech_h > 0 else None,
            "end_of_turn_p50_ms": pct(eot, 50), "ends_of_turn": len(eot), "premature_ends_of_turn": premature,
            "response_p50_ms": pct(reply, 50),
            "compute": sorted({m.get("compute", "real_time") for m in metrics}), "compute_p50_ms": pct(compute, 50)}


def library_line(pooled: dict[str, Any]) -> str:
    """One printed line of :func:`library_metrics`."""
    def f(v: Any, unit: str = "") -> str:
        return "-" if v is None else f"{v:g}{unit}"

    missed = "-" if pooled["missed_share"] is None else f"{100 * pooled['missed_share']:.1f} %"
    return (f"library ({pooled['scenarios']} scenarios): barge-in p50 {f(pooled['barge_in_p50_ms'], ' ms')}, "
            f"p95 {f(pooled['barge_in_p95_ms'], ' ms')} over {pooled['interruptions']} interruptions, missed {missed}; "
            f"false barge-ins {pooled['false_barge_ins']} in {60 * pooled['agent_speech_h']:.1f} min of agent speech "
            f"({f(pooled['false_barge_ins_per_h'])} per hour); end of turn p50 {f(pooled['end_of_turn_p50_ms'], ' ms')} "
            f"({pooled.get('premature_ends_of_turn', 0)} premature of {pooled.get('ends_of_turn', '-')}); "
            f"reply p50 {f(pooled['response_p50_ms'], ' ms')}")
