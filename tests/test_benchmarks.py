"""The AEC benchmark runs end to end (short scenes) and scores every system on every scene."""

import json
import sys

from tests.conftest import REPO


def test_aec_benchmark_quick(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import aec_bench

    out = tmp_path / "aec.json"
    assert aec_bench.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    res = report["results"]
    assert set(res) == {"passthrough", "ours", "ours_res", "aec3", "speex"}
    for system in res.values():
        assert set(system["scenes"]) >= {"single_linear", "single_nonlinear", "near_only", "delay_jump", "path_change",
                                         "double_talk_-20dB", "double_talk_+10dB"}
        assert system["cpu_ms_per_s"] >= 0
    ours, raw = res["ours"]["scenes"], res["passthrough"]["scenes"]
    assert raw["single_linear"]["erle_db"] == 0.0
    assert ours["single_linear"]["erle_db"] > 25
    assert ours["near_only"]["pesq"] > 3.4
    assert all(ours[f"double_talk_{s:+d}dB"]["stoi"] > raw[f"double_talk_{s:+d}dB"]["stoi"] for s in (-20, -10, 0, 10))
    sys.modules.pop("aec_bench", None)
