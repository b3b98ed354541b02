import json
import re

import numpy as np
import pytest
import soundfile as sf

from training.data.corpus import CorpusSpec, build_corpus, main, voice_split
from training.data.sentences.build_lists import build

SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    spec = CorpusSpec(out=str(out), num=10, seed=3)
    records = build_corpus(spec, workers=2, progress=False)
    return out, spec, records


def frame_db(x, hop=80):
    """Energy of consecutive 5 ms frames, dB."""
    n = len(x) // hop
    return 10 * np.log10(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-20)


def test_durations_match_manifest(corpus):
    out, _, records = corpus
    assert len(records) == 10
    for r in records:
        for rate, rel in r["files"].items():
            info = sf.info(out / rel)
            assert info.samplerate == int(rate) and info.channels == 1
            assert abs(info.frames / info.samplerate - r["duration_s"]) < 0.002


def test_speech_boundaries_are_right_within_20ms(corpus):
    """Speech = 5 ms frames within 45 dB of the sentence's loudest frame (the manifest's definition).
    Each boundary must have speech within 20 ms inside it and none from 20 ms outside it to the neighbour."""
    out, _, records = corpus
    hop = 80
    for r in records:
        x, _ = sf.read(out / r["files"]["16000"], dtype="float32")
        e = frame_db(x, hop)
        edges = [(int(s["start_s"] * SR) // hop, int(s["end_s"] * SR) // hop) for s in r["sentences"]]
        assert r["sentences"][0]["start_s"] == r["speech_start_s"] and r["sentences"][-1]["end_s"] == r["speech_end_s"]
        w = 20 * SR // 1000 // hop  # 20 ms in frames
        for k, (a, b) in enumerate(edges):
            thr = e[a:b].max() - 45
            prev_end = edges[k - 1][1] if k else 0
            next_start = edges[k + 1][0] if k + 1 < len(edges) else len(e)
            # (6 dB of slack inside: the manifest was cut on 22.05 kHz frames, these are 16 kHz frames)
            assert e[a : a + w].max() >= thr - 6 and e[b - w : b].max() >= thr - 6
            assert a - w <= prev_end or e[prev_end + w : a - w].max() < thr
            assert b + w >= next_start or e[b + w : next_start - w].max() < thr
        for (_, e1), (s2, _) in zip(edges, edges[1:], strict=False):
            assert (s2 - e1) * hop / SR >= 0.14  # the planned pause (150 ms and more) separates sentences


def test_manifest_fields_and_splits_are_disjoint_by_voice(corpus):
    out, _, records = corpus
    for r in records:
        assert r["language"] in ("bn", "en") and r["text"] and r["normalized_text"]
        assert r["split"] == voice_split(r["voice_id"], 0.1, 0.1)
        if r["language"] == "bn":
            assert re.search("[\u0980-\u09ff]", r["text"])
    by_split = {}
    for split in ("train", "valid", "test"):
        rows = [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
        by_split[split] = {row["voice_id"] for row in rows}
    assert not (by_split["train"] & by_split["valid"]) and not (by_split["train"] & by_split["test"])
    assert sum(1 for _ in (out / "manifest.jsonl").open()) == 10
    meta = (out / "metadata_bn.csv").read_text().splitlines()
    assert len(meta) == sum(r["language"] == "bn" for r in records)
    assert all(line.startswith("wavs_22k/") and "|" in line for line in meta)


def test_deterministic_and_resumable(corpus, tmp_path):
    out, spec, records = corpus
    # A fresh build with the same seed and another worker count gives the same audio.
    again = build_corpus(CorpusSpec(out=str(tmp_path), num=4, seed=3), workers=1, progress=False)
    for a, b in zip(again, records[:4], strict=True):
        assert a == b
        assert (tmp_path / a["files"]["16000"]).read_bytes() == (out / b["files"]["16000"]).read_bytes()
    # Resume: a missing utterance is rebuilt, the others are kept.
    victim = tmp_path / "meta" / f"{again[2]['id']}.json"
    victim.unlink()
    kept = (tmp_path / "meta" / f"{again[1]['id']}.json").stat().st_mtime_ns
    assert build_corpus(CorpusSpec(out=str(tmp_path), num=4, seed=3), workers=1, progress=False) == again
    assert victim.exists() and (tmp_path / "meta" / f"{again[1]['id']}.json").stat().st_mtime_ns == kept


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["--num", "0"])
    with pytest.raises(SystemExit):
        main(["--rates", "8000"])
    assert "--rates" in capsys.readouterr().err


def test_sentence_lists_are_committed_and_reproducible():
    from training.data.sentences.build_lists import HERE

    for lang, minimum in (("bn", 1000), ("en", 500)):
        lines = (HERE / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        assert len(lines) >= minimum and len(set(lines)) == len(lines)
        assert lines == [f"{k}\t{s}" for k, s in build(lang)], f"{lang}.txt is stale: run build_lists"
        kinds = {line.split("\t")[0] for line in lines}
        assert {"statement", "question", "command", "backchannel"} <= kinds
    bn = (HERE / "bn.txt").read_text(encoding="utf-8")
    assert "\tহুঁ।" in bn and "\tআচ্ছা।" in bn
    sentences = [line.split("\t", 1)[1] for line in bn.splitlines()]
    assert not any(re.search("[A-Za-z]", t) for t in sentences), "Bangla sentences must not contain Latin letters"
    assert re.search("[০-৯]", bn) and re.search("[0-9]", bn)  # both digit systems for the front-end
