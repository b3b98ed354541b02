"""How the agent judges a short barge-in: a stop word must stop it, a backchannel or a cough must not.

    python benchmarks/short_word_verdict.py [--quick] [--gains 0,6] [--max-ms 600] [--set KEY=VALUE ...]
        [--spotter shipped|PATH [--threshold P]] [--json OUT.json]

For every word of two lists (stop words and backchannels, Bangla and English, each by two espeak-ng voices), a
cough, and every level in ``--gains`` (dB relative to ``room.talker_level_dbfs``), one scene runs in the simulated
room — the library's ``short_stop_word`` scene: the agent speaks two sentences at volume 0.7 and the user's word
comes 3 s after it started — with ``agent.backchannel_max_ms`` = ``--max-ms`` and both word lists empty, so every
short run is held and resumed and its ``playback_resumed`` event reports what the ASR had heard of it. Recorded per
scene: whether the word stopped playback (a barge-in), whether its run was short enough to be checked, and the
ASR's words. The verdicts of three policies are then computed on the *same* runs (what the agent would have done
at the check; everything before the check is the same under all three):

- ``off`` (``agent.backchannel_max_ms: 0``): every barge-in stops the agent;
- ``stop_words``: a short run stops it only when the ASR heard one of ``agent.stop_words``;
- ``lists``: ... or any word outside ``agent.backchannel_words`` (the shipped lists; the rule without a spotter);
- ``spotter`` (the default since the twelfth session; ``--spotter MODEL``, default the config's
  ``agent.short_word_model``, ``--spotter null`` for none): a stop word the ASR heard, or the short-word spotter's
  p_ride (recorded per run: the runs have ``agent.short_word_model`` = MODEL and threshold 0, so they still all
  resume) below ``--threshold`` (default ``agent.short_word_threshold``).

Right: a stop word stops the agent, a backchannel or a cough does not (a word the chain hid from the VAD never
stops it: right for a backchannel, wrong for a stop word). Printed: per policy the share of stop-word scenes that
stopped the agent and of backchannel / cough scenes that did not, and one row per scene; ``--json`` writes both.
``--set`` takes agent config overrides (for example the faster canceller's ``aec.laec.*`` keys).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GREETING = ("আজ আবহাওয়া ভালো থাকবে, তবে বিকেলে বৃষ্টি হতে পারে। আমি আপনার সহকারী, আপনি যা জানতে চান আমাকে "
            "বলুন।")
STOP = {"bn": ["না", "থামো", "থামুন", "চুপ", "দাঁড়াও"], "en": ["stop", "wait", "no"]}
BACKCHANNEL = {"bn": ["হুঁ", "হ্যাঁ", "আচ্ছা", "ঠিক আছে", "হুম"], "en": ["okay", "yeah", "mm-hmm"]}
VOICES = {"bn": ["bn+f3", "bn+m3"], "en": ["en-us+f2", "en-us+m3"]}
POLICIES = ("off", "stop_words", "lists", "spotter")


def scenes(quick: bool, gains: list[float]) -> list[dict]:
    """One entry per scene: kind (stop / backchannel / cough), what is said, voice, gain in dB."""
    out = []
    for lang in ("bn", "en"):
        voices = VOICES[lang][:1] if quick else VOICES[lang]
        for kind, words in (("stop", STOP[lang]), ("backchannel", BACKCHANNEL[lang])):
            for word in words[:1] if quick else words:
                out += [{"kind": kind, "say": word, "voice": v, "gain_db": g} for v in voices for g in gains]
        if quick:
            break
    out += [{"kind": "cough", "say": "cough", "voice": "bn+f3", "gain_db": g} for g in gains]
    return out


def scenario_of(scene: dict):  # noqa: ANN201 - agent.simulate.scenario.Scenario
    from agent.config import build
    from agent.simulate.scenario import Scenario

    line = {"say": scene["say"], "voice": scene["voice"], "cue": "agent_speaking", "after_s": 3.0,
            "gain_db": scene["gain_db"], "interrupts": scene["kind"] == "stop"}
    if scene["kind"] == "cough":
        line["sound"] = "cough"
    return build(Scenario, {"name": f"{scene['kind']}_{scene['say']}", "duration_s": 12.0, "room": {"volume": 0.7},
                            "agent": {"greeting": GREETING}, "users": [line]})


def observe(events: list[dict]) -> dict:
    """From one scene's events: barged_in (playback stopped after the user's line began), short (the run was
    checked and, with empty word lists, resumed), heard (the ASR's words at the check, or its final text), p_ride
    (the spotter's, when one judged the run)."""
    onset = next((e["sample"] for e in events if e["kind"] == "user_said"), None)
    if onset is None:  # the line was never said (the agent did not speak): nothing to judge
        return {"barged_in": False, "short": False, "heard": "", "p_ride": None}
    stopped = any(e["kind"] == "playback_stopped" and e["sample"] >= onset for e in events)
    resumed = next((e for e in events if e["kind"] == "playback_resumed"), None)
    checked = next((e for e in events if e["kind"] == "short_run"), None)
    final = next((e["text"] for e in events if e["kind"] == "final" and e["sample"] >= onset), "")
    return {"barged_in": stopped, "short": resumed is not None,
            "heard": resumed["heard"] if resumed is not None else final,
            "p_ride": checked["p_ride"] if checked is not None and resumed is not None else None}


def verdicts(obs: dict, stop_words: tuple[str, ...], backchannel_words: tuple[str, ...],
             threshold: float | None = None) -> dict[str, bool]:
    """Whether each policy stops the agent on this observation (``spotter`` only when the run had one:
    ``obs["p_ride"]`` and ``threshold`` given)."""
    from agent.session import stopping_word

    policies = [p for p in POLICIES if p != "spotter" or threshold is not None]
    if not obs["barged_in"]:
        return dict.fromkeys(policies, False)
    if not obs["short"]:
        return dict.fromkeys(policies, True)
    out = {"off": True, "stop_words": bool(stopping_word(obs["heard"], stop_words)),
           "lists": bool(stopping_word(obs["heard"], stop_words, backchannel_words))}
    if threshold is not None:
        out["spotter"] = out["stop_words"] or obs["p_ride"] is None or obs["p_ride"] < threshold
    return out


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per policy: % of stop-word scenes that stopped the agent, % of backchannel / cough scenes that did not."""
    out = {}
    for policy in [p for p in POLICIES if all(p in r["stops"] for r in rows)]:
        stops = [r["stops"][policy] for r in rows if r["kind"] == "stop"]
        rides = [not r["stops"][policy] for r in rows if r["kind"] != "stop"]
        out[policy] = {"stop_words_stopped_pct": round(100 * sum(stops) / max(1, len(stops)), 1),
                       "backchannels_ridden_over_pct": round(100 * sum(rides) / max(1, len(rides)), 1),
                       "right_pct": round(100 * (sum(stops) + sum(rides)) / max(1, len(stops) + len(rides)), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one word of each kind, one voice (a smoke test)")
    ap.add_argument("--gains", default="0,6", help="user levels relative to room.talker_level_dbfs, dB (comma list)")
    ap.add_argument("--max-ms", type=float, default=600.0, help="agent.backchannel_max_ms of the runs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="agent config override")
    ap.add_argument("--spotter", default=None, metavar="MODEL",
                    help="also judge by a short-word spotter (agent.short_word_model: 'shipped' or a path; default: "
                         "the config's; null = none): its p_ride is recorded per run and the 'spotter' policy stops "
                         "on a heard stop word or p_ride below --threshold")
    ap.add_argument("--threshold", type=float, default=None,
                    help="the spotter policy's agent.short_word_threshold (default: the config's)")
    ap.add_argument("--json", type=Path, help="write the summary and the rows here")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from agent.config import load_config
    from agent.config.base import ConfigError
    from agent.pipeline import ModelLoadError, load_models, spotter_from_config
    from agent.simulate.run import run_scenario
    from models.kws.spotter import resolve_spotter_model

    try:
        gains = [float(g) for g in args.gains.split(",") if g.strip()]
        shipped = load_config(None, args.set).agent
        model = args.spotter if args.spotter is not None else shipped.short_word_model
        on = resolve_spotter_model(model) is not None
        # with a spotter the runs keep threshold 0 (every short run resumes); without one the lists alone judge
        spotter = [f"agent.short_word_model={model}", "agent.short_word_threshold=0"] if on else [
            "agent.short_word_model=null"]
        config = load_config(None, [*args.set, f"agent.backchannel_max_ms={args.max_ms}", "agent.stop_words=[]",
                                    "agent.backchannel_words=[]", *spotter])
        threshold = None if not on else (shipped.short_word_threshold if args.threshold is None else args.threshold)
        models = load_models(config)
        spotter_from_config(config)  # a missing or corrupt spotter is an error before the first scene
    except (ConfigError, ModelLoadError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = []
    for scene in tqdm(scenes(args.quick, gains), desc="scenes", unit="scene", disable=not sys.stderr.isatty()):
        obs = observe(run_scenario(scenario_of(scene), models, config).events)
        rows.append({**scene, **obs, "stops": verdicts(obs, shipped.stop_words, shipped.backchannel_words,
                                                        threshold)})
    summary = summarise(rows)
    print(f"\nshort barge-in verdicts, {len(rows)} scenes (agent.backchannel_max_ms {args.max_ms:g} ms"
          + (f"; {' '.join(args.set)}" if args.set else "") + ")")
    print(f"{'policy':<11} {'stop words stopped %':>21} {'backchannels/coughs ridden over %':>34} {'right %':>8}")
    for policy, s in summary.items():
        print(f"{policy:<11} {s['stop_words_stopped_pct']:>21.1f} {s['backchannels_ridden_over_pct']:>34.1f} "
              f"{s['right_pct']:>8.1f}")
    print(f"\n{'kind':<12} {'said':<9} {'voice':<9} {'dB':>3} {'barge-in':>8} {'short':>5} {'p_ride':>6}  heard")
    for r in rows:
        p = "" if r["p_ride"] is None else f"{r['p_ride']:.2f}"
        print(f"{r['kind']:<12} {r['say']:<9} {r['voice']:<9} {r['gain_db']:>3g} {'yes' if r['barged_in'] else 'no':>8}"
              f" {'yes' if r['short'] else 'no':>5} {p:>6}  {r['heard']!r}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"max_ms": args.max_ms, "overrides": args.set, "spotter": model if on else None,
                                         "threshold": threshold, "summary": summary,
                                         "rows": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
