"""Barge-in conversation testing: scenarios (YAML) run through the real agent in the simulated room, with reports.

``python -m agent simulate SCENARIO.yaml --out DIR`` or ``--all`` (every file in ``configs/scenarios/``).
"""

from agent.simulate.report import library_line, library_metrics, summary_table, write_report
from agent.simulate.run import ScenarioResult, run_scenario
from agent.simulate.scenario import Scenario, load_scenario, with_room

__all__ = ["Scenario", "ScenarioResult", "library_line", "library_metrics", "load_scenario", "run_scenario",
           "summary_table", "with_room", "write_report"]
