"""VAD metrics: frame DCF, onset and end-of-turn latency, premature ends of turn, false onsets.

All times are derived from :class:`~models.vad.endpointer.VadEvent` samples (16 kHz) and from turn
records of :mod:`training.vad.turns` placed at sample offsets (``(offset, turn)`` pairs), so every
system (ours and the baselines, all driven through the same endpointer) is scored the same way.
"""

from __future__ import annotations

import numpy as np

from models.vad.endpointer import VadEvent

SR = 16000


def frame_dcf(decisions: np.ndarray, truth: np.ndarray, false_weight: float = 0.75) -> dict[str, float]:
    """DCF = w·P_false + (1 − w)·P_miss over frames (``truth`` 1 = speech); also the reverse weighting.

    P_false: share of non-speech frames called speech; P_miss: share of speech frames called non-speech.
    """
    decisions = np.asarray(decisions, bool)
    truth = np.asarray(truth) > 0
    p_false = float(decisions[~truth].mean()) if (~truth).any() else 0.0
    p_miss = float((~decisions[truth]).mean()) if truth.any() else 0.0
    return {"p_false": p_false, "p_miss": p_miss, "dcf": false_weight * p_false + (1 - false_weight) * p_miss,
            "dcf_reverse": (1 - false_weight) * p_false + false_weight * p_miss}


def speech_mask(events: list[VadEvent], frames: int, hop: int = 320) -> np.ndarray:
    """Per-frame speech decision (bool, ``frames``) from speech_start/speech_end events (segments)."""
    out = np.zeros(frames, dtype=bool)
    start = None
    for ev in events:
        if ev.kind == "speech_start":
            start = ev.sample
        elif ev.kind == "speech_end" and start is not None:
            out[start // hop : ev.sample // hop] = True
            start = None
    if start is not None:
        out[start // hop :] = True
    return out


def turn_metrics(events: list[VadEvent], placed: list[tuple[int, dict]], total_samples: int) -> dict[str, list]:
    """Per-turn and per-pause outcomes of one example (lists, to be pooled over a test set).

    - ``eot_latency_ms``: first end-of-turn decision after a turn's true end (before the next turn starts)
      minus that end; a turn with no decision in that window counts in ``eot_missed``.
    - ``clause_pause_premature``: one 0/1 per pause inside a sentence: 1 when an end of turn was decided
      during it. ``sentence_gap_eot``: the same for gaps between the sentences of one turn.
    - ``onset_latency_ms``: first speech start decided after a turn's first clause began (from 200 ms before
      it, for starts that were back-dated) minus that start.
    """
    eot = [ev.decided_at for ev in events if ev.kind == "end_of_turn"]
    starts = [ev.decided_at for ev in events if ev.kind == "speech_start"]
    out: dict[str, list] = {"eot_latency_ms": [], "eot_missed": [], "clause_pause_premature": [],
                            "sentence_gap_eot": [], "onset_latency_ms": []}
    bounds = sorted((off + int(t["speech"][0][0] * SR), off + int(t["end_s"] * SR), off, t) for off, t in placed)
    for i, (first, end, off, turn) in enumerate(bounds):
        if end > total_samples:
            continue  # the example ends inside this turn
        nxt = bounds[i + 1][0] if i + 1 < len(bounds) else total_samples
        after = [d for d in eot if end <= d < nxt]
        if after:
            out["eot_latency_ms"].append((after[0] - end) * 1000 / SR)
            out["eot_missed"].append(0)
        elif nxt - end >= int(1.5 * SR):  # only judge turns followed by enough silence
            out["eot_missed"].append(1)
        onset = [d for d in starts if first - int(0.2 * SR) <= d < end]
        if onset and first >= 0:
            out["onset_latency_ms"].append(max(0.0, (onset[0] - first) * 1000 / SR))
        for key, pauses in (("clause_pause_premature", turn["clause_pauses"]),
                            ("sentence_gap_eot", turn["sentence_gaps"])):
            for a_s, b_s in pauses:
                a, b = off + int(a_s * SR), off + int(b_s * SR)
                if b <= total_samples:
                    out[key].append(int(any(a <= d <= b for d in eot)))
    return out


def summarize(pooled: dict[str, list]) -> dict[str, float]:
    """Medians and rates of pooled :func:`turn_metrics` lists (NaN where a list is empty)."""
    def med(key: str) -> float:
        return float(np.median(pooled[key])) if pooled[key] else float("nan")

    def rate(key: str) -> float:
        return float(np.mean(pooled[key])) if pooled[key] else float("nan")

    return {"eot_latency_median_ms": med("eot_latency_ms"),
            "eot_latency_p90_ms": float(np.percentile(pooled["eot_latency_ms"], 90)) if pooled["eot_latency_ms"]
            else float("nan"),
            "eot_missed_rate": rate("eot_missed"), "premature_rate": rate("clause_pause_premature"),
            "sentence_gap_eot_rate": rate("sentence_gap_eot"), "onset_latency_median_ms": med("onset_latency_ms"),
            "turns": len(pooled["eot_missed"]), "clause_pauses": len(pooled["clause_pause_premature"])}


def playing_frames(far_active: np.ndarray, tail_frames: int) -> np.ndarray:
    """(frames,) bool: the barge-in rules are in force: far-end activity in this frame or the ``tail_frames``
    before it (the echo path's delay and reverberation), as the agent's pipeline decides it."""
    far = np.asarray(far_active, dtype=bool)
    if not far.any():
        return far.copy()
    last = np.where(far, np.arange(far.shape[0]), -(10**9))
    return np.arange(far.shape[0]) - np.maximum.accumulate(last) <= tail_frames


def barge_in_metrics(events: list[VadEvent], placed: list[tuple[int, dict]], playing: np.ndarray,
                     total_samples: int, hop: int = 320) -> dict[str, list]:
    """Barge-in outcomes of the user turns that begin while the agent plays (``playing`` per frame).

    - ``barge_in_latency_ms``: first barge-in decided from 200 ms before the turn's first clause to the turn's
      end, minus that clause's start; ``barge_in_missed``: one 0/1 per such turn (1: none decided).
    """
    decided = [ev.decided_at for ev in events if ev.kind == "barge_in"]
    out: dict[str, list] = {"barge_in_latency_ms": [], "barge_in_missed": []}
    for off, turn in placed:
        first, end = off + int(turn["speech"][0][0] * SR), off + int(turn["end_s"] * SR)
        if first < 0 or end > total_samples or not playing[min(first // hop, playing.shape[0] - 1)]:
            continue
        hits = [d for d in decided if first - int(0.2 * SR) <= d < end]
        out["barge_in_missed"].append(0 if hits else 1)
        if hits:
            out["barge_in_latency_ms"].append(max(0.0, (hits[0] - first) * 1000 / SR))
    return out


def summarize_barge_in(pooled: dict[str, list]) -> dict[str, float]:
    """Median and 90th percentile latency (ms) and missed rate of pooled :func:`barge_in_metrics` lists (NaN
    where a list is empty), and how many turns were judged."""
    lat, missed = pooled["barge_in_latency_ms"], pooled["barge_in_missed"]
    return {"barge_in_latency_median_ms": float(np.median(lat)) if lat else float("nan"),
            "barge_in_latency_p90_ms": float(np.percentile(lat, 90)) if lat else float("nan"),
            "barge_in_missed_rate": float(np.mean(missed)) if missed else float("nan"),
            "barge_in_turns": len(missed)}
