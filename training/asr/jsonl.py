"""FunASR's training list format (JSONL) for a corpus: ``python -m training.asr jsonl``.

One line per utterance: ``{"key", "source" (WAV path), "source_len" (10 ms frames), "target",
"target_len" (tokens)}``. Targets are normalised transcripts with word boundaries written as the
``<space>`` symbol, which the model folders of this project declare as one token
(``tokenizer_conf.non_linguistic_symbols``), so FunASR's own trainer keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.asr.tokens import normalize_transcript, text_to_tokens


def jsonl_line(key: str, wav: Path, samples: int, text: str, rate: int = 16000) -> dict:
    """One FunASR training record; ``text`` is normalised here."""
    tokens = text_to_tokens(normalize_transcript(text))
    target = "".join(tokens)  # code points, with <space> between words
    return {"key": key, "source": str(wav), "source_len": int(samples * 100 // rate), "target": target,
            "target_len": len(tokens)}


def write_corpus_jsonl(corpus: Path, split: str, out: Path) -> int:
    """FunASR JSONL of one split of a project corpus (``manifest.jsonl``); returns the number of lines."""
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    lines = []
    for r in rows:
        if split != "all" and r["split"] != split:
            continue
        wav = (corpus / r["files"]["16000"]).resolve()
        lines.append(jsonl_line(r["id"], wav, int(round(r["duration_s"] * 16000)), r["text"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return len(lines)
