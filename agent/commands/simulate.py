"""``python -m agent simulate``: run conversation scenarios in the simulated room and report on them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.config import REPO_ROOT, ConfigError

SCENARIO_DIR = REPO_ROOT / "configs" / "scenarios"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run conversation scenarios in the simulated room (barge-in testing)",
                       description=(
                           "Run the real agent (same code as on a device) in the simulated room, faster than real "
                           "time, against scripted users, and check the scenario's expectations. Writes report.json, "
                           "report.md, events.jsonl, timeline.png and spectrograms.png per scenario; with several, a "
                           "summary table, summary.json and library.json (barge-in p50/p95, missed share, false "
                           "barge-ins per hour of agent speech, end-of-turn p50, pooled over the scenarios). Exit "
                           "code 1 when an expectation fails, so scenarios work as tests in CI."))
    p.add_argument("scenarios", nargs="*", type=Path, metavar="SCENARIO.yaml", help="scenario files")
    p.add_argument("--all", action="store_true", help=f"every scenario in {SCENARIO_DIR.relative_to(REPO_ROOT)}/")
    p.add_argument("--out", type=Path, default=Path("simulate-out"), help="report folder (default simulate-out/)")
    p.add_argument("--no-pictures", action="store_true", help="skip the PNG timeline and spectrograms")
    p.add_argument("--compute", choices=("fixed", "real_time"), default=None,
                   help="how the agent's computation counts (overrides the scenarios' room.compute): fixed = the "
                        "room stops while the agent computes and each reply starts room.compute_latency_ms after the "
                        "end of turn, so runs repeat exactly (default); real_time = the room runs at real time "
                        "meanwhile, so this machine's speed and load show")
    p.add_argument("--compute-latency-ms", type=float, default=None, metavar="MS",
                   help="with fixed compute, the latency charged per reply (overrides room.compute_latency_ms; "
                        "default 200)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agent.pipeline import ModelLoadError, load_models
    from agent.simulate import (
        library_line,
        library_metrics,
        load_scenario,
        run_scenario,
        summary_table,
        with_room,
        write_report,
    )

    paths = list(args.scenarios) + (sorted(SCENARIO_DIR.glob("*.yaml")) if args.all else [])
    if not paths:
        print("error: name scenario files or use --all", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("compute", args.compute), ("compute_latency_ms", args.compute_latency_ms))
                 if v is not None}
    try:
        scenarios = [with_room(load_scenario(p), overrides) for p in paths]
    except ConfigError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return 2
    try:
        models = load_models(args.config)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    results = []
    for scenario in scenarios:
        result = run_scenario(scenario, models, args.config)
        folder = args.out / scenario.name if len(scenarios) > 1 else args.out
        write_report(result, folder, pictures=not args.no_pictures)
        verdict = "pass" if result.passed else "FAIL"
        print(f"{scenario.name}: {verdict} ({', '.join(c['name'] + ' ' + ('ok' if c['passed'] else 'failed') for c in result.checks) or 'no expectations'}) -> {folder}")
        results.append(result)
    print()
    print(summary_table(results))
    if len(results) > 1:
        pooled = library_metrics([r.metrics for r in results])
        print()
        print(library_line(pooled))
        (args.out / "summary.json").write_text(json.dumps([r.as_json() for r in results], ensure_ascii=False,
                                                          indent=1) + "\n", encoding="utf-8")
        (args.out / "library.json").write_text(json.dumps(pooled, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r.passed for r in results) else 1
