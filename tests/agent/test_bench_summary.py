"""The bench summary reads the key numbers out of each benchmark's JSON, next to their same-run anchors."""

from __future__ import annotations

import json

from agent.commands.bench_summary import key_numbers, summary_table
from agent.config import REPO_ROOT


def _doc(name: str) -> dict:
    return json.loads((REPO_ROOT / "docs" / name).read_text(encoding="utf-8"))


def test_key_numbers_of_the_recorded_results() -> None:
    merged = {"benchmarks": {"aec": _doc("results_res.json"), "vad": _doc("results_vad.json"),
                             "asr": _doc("results_asr.json"), "tts": _doc("results_tts.json"),
                             "res": _doc("results_res_speed.json"), "tts_compare": _doc("results_tts_compare.json"),
                             "onnx_step": _doc("results_onnx_step.json"), "room": _doc("results_room.json"),
                             "short_words": _doc("results_short_word_verdict.json")}}
    rows = {(b, m): (v, a) for b, m, v, a in key_numbers(merged)}
    aec = _doc("results_res.json")["results"]
    value, anchors = rows[("aec", "STOI in double talk at -10 dB (ours_res)")]
    assert value == f"{aec['ours_res']['scenes']['double_talk_-10dB']['stoi']:.3f}"
    assert anchors == (f"aec3 {aec['aec3']['scenes']['double_talk_-10dB']['stoi']:.3f}, "
                       f"speex {aec['speex']['scenes']['double_talk_-10dB']['stoi']:.3f}")
    asr = _doc("results_asr.json")
    assert rows[("asr", "Bangla CER clean")][0] == f"{asr['conditions']['clean']['cer_all']:.3f}"
    tts = _doc("results_tts.json")["voices"]
    value, anchors = rows[("tts", "RTF 100 words, one thread (voice)")]
    assert value == f"{tts['voice']['paragraph_100w']['rtf']:.4f}" and anchors.startswith("medium ")
    compare = _doc("results_tts_compare.json")
    hifigan = compare["systems"]["aligntts_hifigan"]
    value, anchors = rows[("tts_compare", "aligntts_hifigan: CER / MCD dB / RTF")]
    assert value == f"{hifigan['cer']:.3f} / {hifigan['mcd_db']:.2f} / {hifigan['rtf']:.4f}"
    assert anchors == f"teacher recordings {compare['cer_teacher_recordings']:.3f}"
    vad = _doc("results_vad.json")["results"]
    assert rows[("vad", "DCF listening")] == (f"{vad['ours']['listen']['dcf']:.3f}",
                                              f"webrtc3 {vad['webrtc3']['listen']['dcf']:.3f}, "
                                              f"silero800 {vad['silero800']['listen']['dcf']:.3f}")
    room = _doc("results_room.json")["results"]["room 5 s, constant delay"]
    assert rows[("room", "room 5 s, constant delay, CPU s")] == (f"{room['candidate_s']:.3f}",
                                                                f"baseline {room['baseline_s']:.3f} s")
    step = _doc("results_onnx_step.json")["results"]["vad"]
    assert rows[("onnx_step", "VAD model step, ms per 10 ms (I/O-bound)")] == (
        f"{step['ms_per_10ms']['bound_step']:.4f}",
        f"session.run {step['ms_per_10ms']['session_run']:.4f} (ratio {step['ratio_bound_to_run']:.2f})")
    words = _doc("results_short_word_verdict.json")["summary"]
    value, anchors = rows[("short_words", "short barge-ins: stop words stopped / backchannels ridden over / right, %")]
    assert value == (f"{words['lists']['stop_words_stopped_pct']:.1f} / {words['lists']['backchannels_ridden_over_pct']:.1f}"
                     f" / {words['lists']['right_pct']:.1f}")
    assert anchors.startswith("every barge-in stops: ") and anchors.endswith(f"{words['off']['right_pct']:.1f}")
    table = summary_table(key_numbers(merged))
    assert table.count("\n") == len(rows) + 1 and table.startswith("| benchmark |")


def test_missing_keys_and_failed_benchmarks_are_not_guessed() -> None:
    rows = key_numbers({"benchmarks": {"asr": {"conditions": {}}, "tts": {"error": "exit code 1"}},
                        "agent": {"error": "boom"}})
    assert all(b != "tts" for b, *_ in rows)
    assert {v for b, _, v, _ in rows if b == "asr"} == {"–"}
    assert ("agent", "running agent", "failed", "") in rows


def test_vad_rows_put_the_text_cue_beside_ours() -> None:
    vad = _doc("results_vad_text_cue.json")
    rows = {(b, m): (v, a) for b, m, v, a in key_numbers({"benchmarks": {"vad": vad}})}
    value, anchors = rows[("vad", "premature ends of turn (share of pauses)")]
    res = vad["results"]
    assert value == f"{res['ours']['listen']['premature_rate']:.3f}"
    assert anchors.startswith(f"ours_text {res['ours_text']['listen']['premature_rate']:.3f}, webrtc3 ")


def test_short_word_rows_put_the_spotter_beside_the_word_lists() -> None:
    def triple(a: float, b: float, c: float) -> dict:
        return {"stop_words_stopped_pct": a, "backchannels_ridden_over_pct": b, "right_pct": c}

    run = {"threshold": 0.4, "summary": {"off": triple(90, 30, 60), "lists": triple(90, 50, 70),
                                         "spotter": triple(85, 80, 82)}}
    rows = [r for r in key_numbers({"benchmarks": {"short_words": run}}) if r[0] == "short_words"]
    assert [v for _, _, v, _ in rows] == ["90.0 / 50.0 / 70.0", "85.0 / 80.0 / 82.0"]
    assert "p_ride < 0.4" in rows[1][1] and rows[1][3] == "word lists: 90.0 / 50.0 / 70.0"
    del run["summary"]["spotter"]
    assert len([r for r in key_numbers({"benchmarks": {"short_words": run}}) if r[0] == "short_words"]) == 1
