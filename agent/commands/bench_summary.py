"""The key numbers of every benchmark in one table (``python -m agent bench`` prints it last).

Each benchmark's JSON keeps its full results; :func:`key_numbers` picks, per benchmark, the measures
that the issues set targets on, each next to the anchor measured in the same run (so a ratio is
read off one line). Missing keys (an older or a quick JSON) are skipped, never guessed.
"""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str]  # benchmark, measure, ours, anchor(s) in the same run


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def _aec(r: dict) -> list[Row]:
    res = r.get("results", {})
    ours = "ours_res" if "ours_res" in res else "ours"
    rows = []
    for label, path, spec in (("ERLE with nonlinearity, dB", ("single_nonlinear", "erle_db"), ".1f"),
                              ("STOI in double talk at -10 dB", ("double_talk_-10dB", "stoi"), ".3f"),
                              ("ERLE in the 1st s after a delay jump, dB", ("delay_jump", "erle_event_db"), ".1f")):
        anchors = ", ".join(f"{a} {_fmt(_get(res, a, 'scenes', *path), spec)}" for a in ("aec3", "speex") if a in res)
        rows.append(("aec", f"{label} ({ours})", _fmt(_get(res, ours, "scenes", *path), spec), anchors))
    return rows


def _res(r: dict) -> list[Row]:
    ms = r.get("ms_per_frame", {})
    return [("res", "ms per 20 ms frame (onnxruntime)", _fmt(ms.get("res_onnx"), ".3f"),
             f"classical masks {_fmt(ms.get('classical'), '.3f')}")]


def _onnx_step(r: dict) -> list[Row]:
    rows = []
    for name, label in (("vad", "VAD model step, ms per 10 ms (I/O-bound)"), ("res", "RES model step, ms per 20 ms (I/O-bound)")):
        m = _get(r, "results", name)
        if not isinstance(m, dict):
            continue
        per = m["ms_per_10ms"] if name == "vad" else m["ms_per_step"]
        rows.append(("onnx_step", label, _fmt(per.get("bound_step"), ".4f"),
                     f"session.run {_fmt(per.get('session_run'), '.4f')} (ratio {_fmt(m.get('ratio_bound_to_run'), '.2f')})"))
    return rows


def _vad(r: dict) -> list[Row]:
    res = r.get("results", {})
    anchors = [a for a in ("ours_text", "webrtc3", "silero800") if a in res]  # ours_text: ours with the text cue
    rows = []
    for label, path, spec in (("DCF listening", ("listen", "dcf"), ".3f"),
                              ("end-of-turn latency median, ms", ("listen", "eot_latency_median_ms"), ".0f"),
                              ("premature ends of turn (share of pauses)", ("listen", "premature_rate"), ".3f"),
                              ("false alarms on echo only", ("echo_only", "p_false"), ".3f")):
        rows.append(("vad", label, _fmt(_get(res, "ours", *path), spec),
                     ", ".join(f"{a} {_fmt(_get(res, a, *path), spec)}" for a in anchors)))
    return rows


def _asr(r: dict) -> list[Row]:
    c = r.get("conditions", {})
    s = r.get("speed", {})
    anchor = _get(s, "anchor_released_size", "rtf_streaming_median")
    return [("asr", "Bangla CER clean", _fmt(_get(c, "clean", "cer_all"), ".3f"), ""),
            ("asr", "Bangla CER after the echo chain, -10 dB", _fmt(_get(c, "ser_-10dB", "cer_all"), ".3f"), ""),
            ("asr", "Bangla CER after the agent's chain (neural RES), -10 dB",
             _fmt(_get(c, "ser_-10dB_agent", "cer_all"), ".3f"), ""),
            ("asr", "English WER clean", _fmt(_get(c, "clean", "wer_all"), ".3f"), ""),
            ("asr", "RTF streaming, one thread", _fmt(s.get("rtf_streaming_median"), ".3f"),
             "" if anchor is None else f"released-size Paraformer {anchor:.3f}"),
            ("asr", "first partial after onset, median ms", _fmt(s.get("first_partial_ms_median"), ".0f"), "")]


def _tts(r: dict) -> list[Row]:
    v = r.get("voices", {})
    anchors = ", ".join(f"{a} {_fmt(_get(v, a, 'paragraph_100w', 'rtf'), '.3f')}" for a in ("medium", "piper", "mms")
                        if a in v)
    return [("tts", "RTF 100 words, one thread (voice)", _fmt(_get(v, "voice", "paragraph_100w", "rtf"), ".4f"), anchors),
            ("tts", "RTF 100 words, one thread (int8)", _fmt(_get(v, "int8", "paragraph_100w", "rtf"), ".4f"), ""),
            ("tts", "first audio for 10 words, ms", _fmt(_get(v, "voice", "sentence_10w", "first_audio_ms"), ".0f"),
             f"medium {_fmt(_get(v, 'medium', 'sentence_10w', 'first_audio_ms'), '.0f')}" if "medium" in v else "")]


def _tts_compare(r: dict) -> list[Row]:
    rows: list[Row] = []
    systems = r.get("systems", {})
    teacher = r.get("cer_teacher_recordings")
    for name in ("aligntts_hifigan", "aligntts_univnet", "vits", "vits_int8", "coqui"):
        s = systems.get(name)
        if s is None:
            continue
        anchor = "" if teacher is None else f"teacher recordings {teacher:.3f}"
        rows.append(("tts_compare", f"{name}: CER / MCD dB / RTF",
                     f"{_fmt(s.get('cer'), '.3f')} / {_fmt(s.get('mcd_db'), '.2f')} / {_fmt(s.get('rtf'), '.4f')}",
                     anchor))
    return rows


def _room(r: dict) -> list[Row]:
    rows = []
    for name, m in r.get("results", {}).items():
        base = f"baseline {_fmt(m['baseline_s'], '.3f')} s" if "baseline_s" in m else ""
        rows.append(("room", f"{name}, CPU s", _fmt(m.get("candidate_s"), ".3f"), base))
    return rows


def _short_words(r: dict) -> list[Row]:
    s = r.get("summary", {})
    if "lists" not in s:
        return []
    def triple(p: dict) -> str:
        return (f"{_fmt(p.get('stop_words_stopped_pct'), '.1f')} / {_fmt(p.get('backchannels_ridden_over_pct'), '.1f')}"
                f" / {_fmt(p.get('right_pct'), '.1f')}")

    rows = [("short_words", "short barge-ins: stop words stopped / backchannels ridden over / right, %",
             triple(s["lists"]), f"every barge-in stops: {triple(s.get('off', {}))}")]
    if "spotter" in s:
        rows.append(("short_words", f"the same with the short-word spotter (p_ride < {r.get('threshold')} stops), %",
                     triple(s["spotter"]), f"word lists: {triple(s['lists'])}"))
    return rows


def _agent(a: dict) -> list[Row]:
    if "error" in a:
        return [("agent", "running agent", "failed", "")]
    return [("agent", "peak memory, MB", _fmt(a.get("peak_rss_mb"), ".0f"), ""),
            ("agent", "listening load, share of one core", _fmt(a.get("listening_load"), ".1%"), "")]


PICKERS = {"aec": _aec, "res": _res, "onnx_step": _onnx_step, "vad": _vad, "asr": _asr, "tts": _tts, "tts_compare": _tts_compare,
           "room": _room, "short_words": _short_words}


def key_numbers(results: dict) -> list[Row]:
    """Rows of the summary for the merged ``bench`` results (benchmarks that failed are skipped)."""
    rows: list[Row] = []
    for name, r in results.get("benchmarks", {}).items():
        if name in PICKERS and isinstance(r, dict) and "error" not in r:
            rows += PICKERS[name](r)
    if "agent" in results:
        rows += _agent(results["agent"])
    return rows


def summary_table(rows: list[Row]) -> str:
    """A Markdown table of :func:`key_numbers`."""
    lines = ["| benchmark | measure | this project | anchors, same run |", "|---|---|---|---|"]
    lines += [f"| {b} | {m} | {v} | {a} |" for b, m, v, a in rows]
    return "\n".join(lines)
