"""The AEC benchmark runs end to end (short scenes) and scores every system on every scene."""

import json
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def test_aec_benchmark_quick(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import aec_bench

    out = tmp_path / "aec.json"
    assert aec_bench.main(["--quick", "--cpu-runs", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    res = report["results"]
    assert set(res) == {"passthrough", "ours", "ours_res", "aec3", "speex"}
    for system in res.values():
        assert set(system["scenes"]) >= {"single_linear", "single_nonlinear", "drift", "near_only", "delay_jump", "path_change",
                                         "double_talk_-20dB", "double_talk_+10dB"}
        assert system["cpu_ms_per_s"] >= 0 and len(system["cpu_ms_per_s_runs"]) == 2
        assert system["cpu_ratio_to_aec3"] == system["cpu_ms_per_s"] / res["aec3"]["cpu_ms_per_s"]
    ours, raw = res["ours"]["scenes"], res["passthrough"]["scenes"]
    assert raw["single_linear"]["erle_db"] == 0.0
    assert ours["single_linear"]["erle_db"] > 25
    assert ours["drift"]["erle_db"] > 25  # the reference aligner follows 100 ppm of clock drift
    assert ours["near_only"]["pesq"] > 3.4
    assert all(ours[f"double_talk_{s:+d}dB"]["stoi"] > raw[f"double_talk_{s:+d}dB"]["stoi"] for s in (-20, -10, 0, 10))
    sys.modules.pop("aec_bench", None)


def test_vad_benchmark_quick(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.chdir(tmp_path)  # its test turns go to ./cache/vad/turns/test
    import vad_bench

    out = tmp_path / "vad.json"
    assert vad_bench.main(["--quick", "--json", str(out), "--systems", "ours,ours_text,webrtc1,silero500",
                           "--no-progress"]) == 0
    report = json.loads(out.read_text())
    res = report["results"]
    assert set(res) == {"ours", "ours_text", "webrtc1", "silero500"}
    # the text cue changes the ends of turns only: the same frames, onsets and barge-ins as ours
    assert res["ours_text"]["listen"]["dcf"] == res["ours"]["listen"]["dcf"]
    assert res["ours_text"]["listen"]["onsets"] == res["ours"]["listen"]["onsets"]
    assert res["ours_text"]["echo_only"] == res["ours"]["echo_only"]
    assert res["ours_text"]["listen"]["turns"] > 0
    for system in res.values():
        assert set(system) == {"listen", "ser_-20dB", "echo_only", "agent_voice"}
        assert 0.9 < system["agent_voice"]["minutes"] < 1.1
        assert 0 <= system["listen"]["dcf"] <= 1 and system["echo_only"]["minutes"] > 0.9
    # the shipped model finds the user's speech better than webrtcvad when the agent talks over it
    assert res["ours"]["ser_-20dB"]["dcf"] < res["webrtc1"]["ser_-20dB"]["dcf"]
    assert res["ours"]["listen"]["eot_latency_median_ms"] < 800
    assert set(report["speed_ms_per_10ms"]) == {"ours", "webrtc", "silero"}
    # the material was kept: a rerun reads it back and scores the same; the sweep covers every pair
    (kept,) = (tmp_path / "cache/vad/bench_material").iterdir()
    assert (kept / "arrays.npz").exists()
    again = tmp_path / "again.json"
    assert vad_bench.main(["--quick", "--json", str(again), "--systems", "ours", "--sweep", "--no-progress"]) == 0
    report2 = json.loads(again.read_text())
    assert report2["results"]["ours"] == res["ours"]
    sweep = report2["barge_in_sweep"]
    pairs = len(vad_bench.SWEEP_THRESHOLDS) * len(vad_bench.SWEEP_MIN_SPEECH_MS)
    quick = 1 + (len(vad_bench.SWEEP_FAST_MIN_SPEECH_MS) - 1) * len(vad_bench.SWEEP_FAST_THRESHOLDS)
    assert len(sweep) == pairs + quick
    assert all(r["agent_voice_false_barge_ins"] >= 0 and r["echo_minutes"] > 0.9 for r in sweep)
    strict = [r["false_barge_ins"] for r in sweep[:pairs] if r["barge_in_threshold"] == 0.9]
    assert strict == sorted(strict, reverse=True)  # a longer run needed: never more false barge-ins
    # the quick run: without it no barge-in comes sooner, and a longer quick run never gives more false barge-ins
    off = sweep[pairs]
    assert off["barge_in_fast_min_speech_ms"] == 0
    for fast_th in vad_bench.SWEEP_FAST_THRESHOLDS:
        rows = [r for r in sweep[pairs + 1 :] if r["barge_in_fast_threshold"] == fast_th]
        assert [r["false_barge_ins"] for r in rows] == sorted((r["false_barge_ins"] for r in rows), reverse=True)
        assert all(r["false_barge_ins"] >= off["false_barge_ins"] for r in rows)
    # validation material: ours, ours_text and the oracle, the threshold sweep and the text cue's sweeps
    tuned = tmp_path / "valid.json"
    assert vad_bench.main(["--quick", "--split", "valid", "--json", str(tuned), "--no-progress"]) == 0
    valid = json.loads(tuned.read_text())
    assert {"ours", "ours_text", "ours_oracle", "eot_threshold_sweep", "asr_on_material"} <= set(valid)
    assert len(valid["ours_text_sweep"]) == len(valid["ours_oracle_sweep"]) == 4
    assert valid["oracle_cue_metrics"]["held_out_clean"]["examples"] > 0
    latencies = [r["eot_latency_median_ms"] for r in valid["eot_threshold_sweep"]]
    assert latencies == sorted(latencies)  # a higher threshold never ends turns sooner
    assert set(valid["eot_fastest_within"]) == {"0.02", "0.05", "0.1"}
    for budget, row in valid["eot_fastest_within"].items():  # the fastest threshold within each premature budget
        within = [r for r in valid["eot_threshold_sweep"] if r["premature_rate"] <= float(budget) + 1e-9]
        assert row == (min(within, key=lambda r: (r["eot_latency_median_ms"], r["premature_rate"])) if within else None)
    assert len(list((tmp_path / "cache/vad/bench_material").glob("valid_*"))) == 1
    with pytest.raises(SystemExit):  # a size out of range is refused before anything is built
        vad_bench.main(["--examples", "0"])
    # --systems ours: the VAD alone on the same material (no ASR), the same sweep
    alone = tmp_path / "valid_alone.json"
    assert vad_bench.main(["--quick", "--split", "valid", "--systems", "ours", "--json", str(alone), "--no-progress"]) == 0
    only = json.loads(alone.read_text())
    assert "ours_text" not in only and "asr_on_material" not in only and only["text_cue"] is None
    assert only["eot_threshold_sweep"] == valid["eot_threshold_sweep"] and only["ours"] == valid["ours"]

    # the separability diagnostic reads the same validation material (cached above, not rebuilt)
    import vad_eot_separability as sep

    sep_out = tmp_path / "separability.json"
    assert sep.main(["--quick", "--json", str(sep_out), "--no-progress"]) == 0
    s = json.loads(sep_out.read_text(encoding="utf-8"))
    assert s["turn_ends"] > 0 and s["pauses"] > 0 and set(s["by_delay_ms"]) == {str(t) for t in sep.DELAYS_MS}
    for row in s["by_delay_ms"].values():
        assert 0 <= row["auc"] <= 1 and 0 <= row["ends_by_t"] <= 1 and 0 <= row["threshold_2pct"] <= 1
    assert sum(s["intonation"]["count"].values()) > 0
    sys.modules.pop("vad_eot_separability", None)
    sys.modules.pop("vad_bench", None)


def test_asr_benchmark_quick(tmp_path, monkeypatch, asr_model_folder):
    """The ASR benchmark end to end on a random-weight folder: the report's shape and its sanity, not its numbers."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.chdir(tmp_path)  # its test corpus goes to ./cache/asr/bench
    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(tmp_path / "cache"))  # the folder's ONNX export
    import asr_bench

    out = tmp_path / "asr.json"
    assert asr_bench.main(["--quick", "--json", str(out), "--model", str(asr_model_folder), "--no-progress"]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["conditions"]) == {"clean", "ser_-10dB", "ser_-10dB_agent"} and 0 < report["utterances"] <= 8
    # the two echo conditions hear the same room through different chains: the audio differs
    bench = tmp_path / "cache" / "asr" / "bench"
    first = sorted((bench / "ser_-10dB").glob("*.wav"))[0]
    assert (bench / "ser_-10dB_agent" / first.name).read_bytes() != first.read_bytes()
    for cond in report["conditions"].values():
        rates = [v for k, v in cond.items() if k.startswith(("cer_", "wer_")) and v is not None]
        assert rates and all(r >= 0 for r in rates)
        assert all(ex["ref"] for ex in cond["examples"])
    speed = report["speed"]
    assert speed["rtf_streaming_median"] > 0 and speed["rtf_whole_file_median"] > 0
    assert (speed["backend"], speed["baseline_backend"]) == ("onnx", "torch") and speed["over_baseline"] > 0
    assert speed["same_text_as_baseline"] == speed["clips_compared"] == report["utterances"]

    # the taps diagnostic rebuilds the same rooms from the same material (it stops if its SER -10 dB audio differs)
    import asr_echo_taps

    taps = tmp_path / "taps.json"
    assert asr_echo_taps.main(["--quick", "--json", str(taps), "--model", str(asr_model_folder), "--no-progress"]) == 0
    taps_report = json.loads(taps.read_text())
    assert set(taps_report["cer"]) == set(asr_echo_taps.TAPS) and taps_report["utterances"] == 2
    assert all(v >= 0 for v in taps_report["cer"].values()) and taps_report["over_clean"]["clean"] == 1.0

    # the ERLE diagnostic: the same rooms with their parts; the mic's SER is the recipe's -10 dB
    import asr_echo_erle

    erle = tmp_path / "erle.json"
    assert asr_echo_erle.main(["--quick", "--json", str(erle), "--no-progress"]) == 0
    erle_report = json.loads(erle.read_text())
    assert erle_report["summary"]["all"]["clips"] == len(erle_report["clips"]) == 2
    for clip in erle_report["clips"]:
        assert clip["ser_mic_db"] == pytest.approx(-10.0, abs=0.1)  # the recipe picks active samples before scaling
        # more regressors fit no worse (up to the solver's conditioning on long speech autocorrelations)
        assert clip["ceiling_hammerstein_db"] >= clip["ceiling_linear_db"] - 0.5
        assert all(np.isfinite(clip[k]) for k in ("erle_chain_db", "erle_ideal_db", "ser_laec_db"))
    sys.modules.pop("asr_echo_erle", None)
    sys.modules.pop("asr_bench", None)
    sys.modules.pop("asr_echo_taps", None)


def test_tts_benchmark_quick(tmp_path, monkeypatch):
    """The TTS benchmark end to end with random-weight voices: report shape and sanity, not speed targets."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import tts_bench

    out = tmp_path / "tts.json"
    assert tts_bench.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["voices"]) == {"voice", "int8", "medium"}
    for row in report["voices"].values():
        for key in ("sentence_10w", "paragraph_100w"):
            assert row[key]["rtf"] > 0 and row[key]["audio_s"] > 1 and row[key]["first_audio_ms"] > 0
    assert report["ratio_int8_vs_voice"] > 0
    sys.modules.pop("tts_bench", None)


def test_tts_comparison_runs_every_system_and_skips_missing_ones(tmp_path, monkeypatch):
    """The paper's table end to end on random-weight two-stage models and the shipped VITS voice (no ASR here)."""
    import torch

    from models.tts.aligntts import AlignTts, size_config
    from models.tts.aligntts.export import export_acoustic
    from models.tts.vocoders import size_config as vocoder_size
    from models.tts.vocoders import vocoder_from_config
    from models.tts.vocoders.export import export_vocoder
    from tests.models.test_two_stage_tts import TINY
    from training.tts.data import prepare_features
    from training.tts.teacher import build_teacher

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    build_teacher(tmp_path / "teacher", limit=2, workers=1, progress=False)
    prepare_features(tmp_path / "teacher", tmp_path / "feat", workers=1, progress=False)
    torch.manual_seed(0)
    export_acoustic(AlignTts(size_config("small", **TINY)), tmp_path / "a.onnx", {"random_weights": True})
    for kind in ("hifigan", "univnet"):
        export_vocoder(vocoder_from_config(vocoder_size(kind, "small")), tmp_path / f"{kind}.onnx")
    import tts_compare

    out = tmp_path / "compare.json"
    assert tts_compare.main(["--acoustic", str(tmp_path / "a.onnx"), "--hifigan", str(tmp_path / "hifigan.onnx"),
                             "--univnet", str(tmp_path / "univnet.onnx"), "--int8", str(tmp_path / "missing.onnx"),
                             "--features", str(tmp_path / "feat"), "--valid-fraction", "1.0", "--no-asr",
                             "--quick", "--no-progress", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["systems"]) == {"aligntts_hifigan", "aligntts_univnet", "vits"}
    assert "missing.onnx" in report["skipped"]["vits_int8"] and "listeners" in report["mos"]
    for row in report["systems"].values():
        assert row["rtf"] > 0 and row["first_audio_ms"] > 0 and row["mcd_db"] > 0 and row["cer"] is None
    assert report["systems"]["aligntts_hifigan"]["random_weights"] and not report["systems"]["vits"]["random_weights"]
    # the shipped voice is closer to its teacher than random weights are
    assert report["systems"]["vits"]["mcd_db"] < report["systems"]["aligntts_hifigan"]["mcd_db"]
    assert tts_compare.main(["--features", str(tmp_path / "nothing"), "--no-asr"]) == 1
    sys.modules.pop("tts_compare", None)


def test_vad_benchmark_material_is_keyed_by_the_chains_residual_echo_masks(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import vad_bench

    classical = vad_bench.material_key(6, 1.0)
    assert vad_bench.material_key(6, 1.0, None) == classical == vad_bench.material_key(6, 1.0, "null")
    shipped = vad_bench.material_key(6, 1.0, "shipped")
    assert shipped != classical and shipped.startswith("n6_echo1min_")
    assert vad_bench.material_key(6, 1.0, "/elsewhere/res.onnx") not in (classical, shipped)
    # the room and aec defaults are part of the key; other sections' defaults (the VAD's, the ASR's) are not
    import dataclasses

    import agent.config as config

    monkeypatch.setattr(config, "VadConfig", lambda: dataclasses.replace(config.AgentConfig().vad, text_cue=None))
    assert vad_bench.material_key(6, 1.0) == classical
    monkeypatch.setattr(config, "RoomConfig", lambda: dataclasses.replace(config.AgentConfig().room, rt60_s=0.9))
    assert vad_bench.material_key(6, 1.0) != classical
    sys.modules.pop("vad_bench", None)


def test_aec_beta_sweep_has_the_vad_and_asr_columns(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import aec_bench

    monkeypatch.setattr(aec_bench, "BETAS", (0.2, 0.8))
    scenes = aec_bench.make_scenes(10.0)
    table = aec_bench.beta_sweep(scenes)
    assert set(table) == {"0.2", "0.8"}
    low, high = table["0.2"], table["0.8"]
    assert high["erle_linear_db"] >= low["erle_linear_db"]  # more suppression with a larger β
    for row in table.values():
        assert 0 <= row["vad_dcf_pct"] < 50 and 0 <= row["asr_cer_vs_clean"] < 2
    frames = aec_bench.speech_frames(scenes["double_talk_+0dB"]["near"])
    assert 0 < frames.mean() < 0.5  # the near end talks in the second half only
    sys.modules.pop("aec_bench", None)


def test_demo_barge_in_runs_the_demo_per_seed_and_model(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import demo_barge_in
    import pytest

    shipped = str(REPO / "models" / "vad" / "vad_dfsmn.onnx")
    out = tmp_path / "demo.json"
    assert demo_barge_in.main(["--seeds", "0", "--model", shipped, "--json", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    assert list(res) == ["shipped", shipped]
    assert res["shipped"]["runs"] == res[shipped]["runs"]  # the same model by name and by path: the same runs
    assert res["shipped"]["no_barge_in"] == 0 and 0 < res["shipped"]["barge_in_median_ms"] < 2000
    assert demo_barge_in.parse_seeds("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(SystemExit):
        demo_barge_in.main(["--seeds", "x"])
    with pytest.raises(SystemExit):
        demo_barge_in.main(["--model", str(tmp_path / "missing.onnx")])
    with pytest.raises(SystemExit):
        demo_barge_in.main(["--set", "vad.barge_in_max_gap_ms"])
    seen = []
    monkeypatch.setattr(demo_barge_in, "demo_run", lambda overrides, seed: seen.append(overrides) or {
        "barge_in_latency_ms": [200.0], "end_of_turn_latency_ms": [500.0]})
    assert demo_barge_in.main(["--seeds", "0", "--set", "vad.barge_in_max_gap_ms=40", "--json", str(out)]) == 0
    assert seen == [[], ["vad.barge_in_max_gap_ms=40"]]  # the shipped defaults first, then each override
    assert list(json.loads(out.read_text())["results"]) == ["shipped", "vad.barge_in_max_gap_ms=40"]
    sys.modules.pop("demo_barge_in", None)


def test_barge_in_trace_shows_levels_and_probabilities_around_each_line(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from barge_in_trace import level_db, main

    assert level_db([0.0]) == -180.0 and abs(level_db([0.1]) - (-20.0)) < 1e-9
    out = tmp_path / "trace.json"
    assert main([str(REPO / "configs/scenarios/barge_in_ser_0.yaml"), "--after-ms", "400", "--json", str(out)]) == 0
    lines = json.loads(out.read_text())["lines"]
    assert lines and "line at" in capsys.readouterr().out
    first = lines[0]
    times = [r["t_s"] for r in first["rows"]]
    assert times[0] <= first["onset_s"] <= times[-1] and len(times) == len(set(times))
    assert first["barge_in_s"] is not None and first["barge_in_s"] >= first["onset_s"]  # this scenario interrupts
    assert max(r["user_db"] for r in first["rows"]) > -60  # the user's speech is in the window
    assert all(0.0 <= r["p_speech"] <= 1.0 and -180.0 <= r["out_db"] <= 0.0 for r in first["rows"])
    assert main([str(tmp_path / "missing.yaml")]) == 2


def test_short_word_verdicts_follow_the_session_rules_on_recorded_runs():
    """Each policy's verdict on one observed run: no barge-in never stops, a long run always stops, a short run
    stops by the heard words (off: always; stop words: only a stop word; lists: also a word outside the
    backchannel words); the summary counts stop words that stopped and the rest that did not."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import short_word_verdict as swv

    stops, backchannels = ("না",), ("হুঁ",)
    events = [{"kind": "playback_stopped", "sample": 10}, {"kind": "user_said", "sample": 100},
              {"kind": "playback_stopped", "sample": 140},
              {"kind": "playback_resumed", "sample": 300, "heard": "পাশ"}]
    obs = swv.observe(events)
    assert obs == {"barged_in": True, "short": True, "heard": "পাশ", "p_ride": None}
    assert swv.verdicts(obs, stops, backchannels) == {"off": True, "stop_words": False, "lists": True}
    lists = [p for p in swv.POLICIES if p != "spotter"]
    assert swv.verdicts({**obs, "heard": "হুঁ"}, stops, backchannels) == dict.fromkeys(lists, False) | {"off": True}
    assert swv.verdicts({**obs, "short": False}, stops, backchannels) == dict.fromkeys(lists, True)
    hidden = swv.observe(events[:2] + [{"kind": "final", "sample": 400, "text": "না"}])
    assert hidden == {"barged_in": False, "short": False, "heard": "না", "p_ride": None}  # the stop before the line
    # does not count
    assert swv.verdicts(hidden, stops, backchannels) == dict.fromkeys(lists, False)
    assert swv.observe(events[:1]) == {"barged_in": False, "short": False, "heard": "", "p_ride": None}  # no line
    # the spotter policy: a heard stop word, or p_ride under the threshold, stops
    checked = swv.observe(events + [{"kind": "short_run", "sample": 300, "heard": "পাশ", "p_ride": 0.8}])
    assert checked["p_ride"] == 0.8
    assert swv.verdicts(checked, stops, backchannels, 0.5)["spotter"] is False
    assert swv.verdicts(checked, stops, backchannels, 0.9)["spotter"] is True
    assert swv.verdicts({**checked, "heard": "না"}, stops, backchannels, 0.5)["spotter"] is True
    rows = [{"kind": "stop", "stops": {"off": True, "stop_words": False, "lists": True}},
            {"kind": "backchannel", "stops": {"off": True, "stop_words": False, "lists": False}},
            {"kind": "cough", "stops": {"off": False, "stop_words": False, "lists": False}}]
    summary = swv.summarise(rows)
    assert summary["off"] == {"stop_words_stopped_pct": 100.0, "backchannels_ridden_over_pct": 50.0,
                              "right_pct": 66.7}
    assert summary["lists"]["right_pct"] == 100.0 and summary["stop_words"]["stop_words_stopped_pct"] == 0.0
    kinds = {s["kind"] for s in swv.scenes(True, [0.0])}
    assert kinds == {"stop", "backchannel", "cough"}
    sys.modules.pop("short_word_verdict", None)


def test_short_word_verdict_runs_its_scenes_end_to_end(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import short_word_verdict as swv

    out = tmp_path / "verdict.json"
    assert swv.main(["--quick", "--gains", "0", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["kind"] for r in data["rows"]] == ["stop", "backchannel", "cough"]
    assert set(data["summary"]) == set(swv.POLICIES) and "right %" in capsys.readouterr().out
    stop, _, cough = data["rows"]
    # the shipped chain catches a short না at the user's plain level and the list rule stops the agent on it
    # (whatever the ASR made of it, unless it heard a backchannel word); a cough stops it under no policy
    assert stop["barged_in"] and stop["stops"]["off"] and stop["stops"]["lists"], stop
    # the shipped spotter calls it a command too (p_ride 0.48 against the default threshold 0.85 when measured)
    assert stop["p_ride"] is not None and stop["stops"]["spotter"], stop
    assert not any(cough["stops"].values()), cough
    assert swv.main(["--gains", "loud"]) == 2
    assert swv.main(["--spotter", str(tmp_path / "missing.onnx")]) == 2
    sys.modules.pop("short_word_verdict", None)


def test_onnx_step_benchmark_times_both_paths_of_both_models(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import onnx_step_bench

    out = tmp_path / "step.json"
    assert onnx_step_bench.main(["--steps", "20", "--rounds", "3", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    assert set(res) == {"vad", "res"}
    for r in res.values():
        run, bound = r["ms_per_step"]["session_run"], r["ms_per_step"]["bound_step"]
        assert run > 0 and bound > 0 and r["ratio_bound_to_run"] == bound / run
        assert r["ms_per_10ms"]["bound_step"] == bound / 2  # one step is 20 ms of audio
    assert "BoundStep" in capsys.readouterr().out
    sys.modules.pop("onnx_step_bench", None)


def test_vad_benchmark_endpointer_settings_are_checked_before_any_work(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import pytest
    import vad_bench

    assert vad_bench.endpointer_settings([]).barge_in_max_gap_ms == 40.0
    assert vad_bench.endpointer_settings(["vad.barge_in_max_gap_ms=0"]).barge_in_max_gap_ms == 0.0
    with pytest.raises(SystemExit, match="only vad"):
        vad_bench.endpointer_settings(["room.rt60_s=0.3"])
    with pytest.raises(SystemExit, match="name the model with --model"):
        vad_bench.endpointer_settings(["vad.model=other.onnx"])
    with pytest.raises(SystemExit, match="unknown key"):
        vad_bench.main(["--set", "vad.no_such_key=1"])  # before the material is built
    sys.modules.pop("vad_bench", None)


def test_room_benchmark_runs_and_reports_its_rows(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.chdir(tmp_path)  # its agent clip goes to ./cache/room_bench
    import room_bench

    out = tmp_path / "room.json"
    assert room_bench.main(["--runs", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert set(rows) == {"room 5 s, constant delay", "room RIRs, nothing played", "ASR example, both versions"}
    for r in rows.values():
        assert r["candidate_s"] > 0
        if "baseline_s" in r:
            assert r["ratio"] == r["candidate_s"] / r["baseline_s"]
    sys.modules.pop("room_bench", None)


def test_vad_benchmark_asr_error_scores_bangla_numbers_as_spoken(monkeypatch):
    """The turns' texts keep digits the recogniser never writes: Bangla references are written out in words."""
    import types

    import numpy as np

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import vad_bench

    from models.asr.tokens import normalize_transcript

    heard = {"bn": normalize_transcript("আমি সাতটায় আসব"), "en": "i scored eighty eight percent"}

    class Recognizer:
        def transcribe(self, audio):
            return heard["bn"] if audio[0] > 0 else heard["en"]

    def example(sign, language, text):
        turn = {"speech": [[0.5, 1.5]], "end_s": 1.5, "language": language, "text": text}
        return {"asr": np.full(16000 * 3, sign, np.float32), "placed": [(0, turn)]}

    listen = [example(1.0, "bn", "আমি ৭টায় আসব।"), example(-1.0, "en", "I scored 88 percent.")]
    rates = vad_bench.asr_error_rates(listen, types.SimpleNamespace(recognizer=Recognizer()))
    assert rates["bn"] == {"error_rate": 0.0, "turns": 1}
    assert rates["en"]["error_rate"] > 0  # English references keep their digits
    sys.modules.pop("vad_bench", None)


def test_vad_material_saved_twice_keeps_one_folder(tmp_path, monkeypatch):
    """Two benchmarks that build the same material at once: the second save leaves the first one's folder."""
    import numpy as np

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import vad_bench

    folder = tmp_path / "material"
    example = {"placed": [(0, 1.0)], **{k: np.arange(3.0) for k in vad_bench.KEPT}}
    vad_bench.save_material({"listen": [example]}, folder)
    vad_bench.save_material({"listen": [example]}, folder)
    assert [p.name for p in tmp_path.iterdir()] == ["material"]
    assert vad_bench.load_material(folder)["listen"][0]["placed"] == [(0, 1.0)]
    sys.modules.pop("vad_bench", None)


def test_echo_erle_diagnostic_parts_and_least_squares(monkeypatch):
    """The chain's echo estimate as the diagnostic takes it (on its own canceller) is run_chain's; the least-squares
    ceiling finds a known Hammerstein path (x and |x|) exactly, and a linear fit alone cannot."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import asr_echo_erle as e

    from models.aec.chain import CLASSICAL, run_chain

    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000) * np.repeat(rng.uniform(0.1, 1.0, 50), 320)
    h1, h2 = rng.standard_normal(64) * np.exp(-np.arange(64) / 10), rng.standard_normal(32) * 0.5
    echo = np.convolve(x, h1)[:16000] + np.convolve(np.abs(x), h2)[:16000]
    both = e.least_squares_residual(echo, [(x, 64), (np.abs(x), 32)])
    linear = e.least_squares_residual(echo, [(x, 64)])
    assert e.ratio_db(echo, both) > 50 and e.ratio_db(echo, linear) < 20
    mic = np.convolve(x, h1)[:16000] * 0.1 + 0.001 * rng.standard_normal(16000)
    y, counters = e.chain_echo_estimate(mic, x)
    assert counters["resets"] == 0 and y.shape == mic.shape
    # run_chain on a canceller the caller passes (to read its counters) is run_chain on a fresh one
    assert np.array_equal(y, run_chain(mic, x, CLASSICAL).echo)
    linear, rectified = e.ceiling_inputs(x)
    assert len(linear) == 1 and len(rectified) == 1 and rectified[0][1] < linear[0][1]
    assert e.delayed(np.arange(5.0), 2).tolist() == [0, 0, 0, 1, 2]
    sys.modules.pop("asr_echo_erle", None)


def test_separability_auc_and_intonation_slope(monkeypatch):
    """AUC of separated and equal scores; a rising tone has a positive final slope, a falling one a negative."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import vad_eot_separability as sep

    assert sep.auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert sep.auc(np.array([1.0]), np.array([1.0])) == 0.5
    t = np.arange(int(0.5 * sep.SR)) / sep.SR

    def tone(f0_start: float, f0_end: float) -> np.ndarray:
        f0 = np.linspace(f0_start, f0_end, t.shape[0])
        phase = 2 * np.pi * np.cumsum(f0) / sep.SR
        return sum(np.sin(k * phase) / k for k in (1, 2, 3))

    assert sep.final_slope(tone(100, 140)) > 0.02 and sep.final_slope(tone(140, 100)) < -0.02
    assert sep.final_slope(np.zeros(8000)) is None
    assert [sep.clause_kind(c) for c in ("যাব,", "যাব।", "go?", "go.")] == ["clause", "statement", "question",
                                                                          "statement"]
    sys.modules.pop("vad_eot_separability", None)


def test_echo_taps_warm_lead_is_checked_before_any_work(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import asr_echo_taps

    for bad in ("0", "-1", "61"):
        with pytest.raises(SystemExit):
            asr_echo_taps.main(["--warm-lead", bad])
        assert "--warm-lead must be" in capsys.readouterr().err
    sys.modules.pop("asr_echo_taps", None)
