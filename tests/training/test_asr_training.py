"""ASR training: spoken-only corpus, examples through the echo chain, a smoke run with resume, export."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from training.asr.data import fbank_lfr, sentence_heldout
from training.data.corpus import load_sentences, spoken_sentences

REPO = Path(__file__).resolve().parents[2]


def test_spoken_sentences_have_no_digits_or_symbols() -> None:
    for lang in ("bn", "en"):
        spoken = spoken_sentences(lang)
        assert 0 < len(spoken) < len(load_sentences(lang))
        for _, s in spoken:
            assert not any(c.isdigit() for c in s) and "%" not in s and "৳" not in s


def test_sentence_holdout_is_stable_and_about_the_requested_share() -> None:
    sentences = [s for _, s in spoken_sentences("bn")]
    held = [s for s in sentences if sentence_heldout(s, 0.1)]
    assert 0.04 < len(held) / len(sentences) < 0.18
    assert held == [s for s in sentences if sentence_heldout(s + " ", 0.1)]  # normalised text decides
    assert not any(sentence_heldout(s, 0.0) for s in sentences)


@pytest.mark.parametrize("lfr_n", [6, 3])
def test_features_match_funasr_streaming_frontend(lfr_n: int) -> None:
    from funasr.frontends.wav_frontend import WavFrontendOnline

    from training.asr.folder import paraformer_config

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16000 * 2) * 0.05).astype(np.float32)
    offline = fbank_lfr(audio, lfr_n)
    assert abs(offline.shape[0] - 200 / lfr_n) <= 1  # one vector per lfr_n × 10 ms
    online = WavFrontendOnline(**paraformer_config(lfr_n=lfr_n)["frontend_conf"])
    cache: dict = {}
    parts = []
    for start in range(0, audio.shape[0], 9600):
        seg = torch.from_numpy(audio[start : start + 9600].copy())[None]
        f, _ = online(seg, torch.tensor([seg.shape[1]]), cache=cache, is_final=start + 9600 >= audio.shape[0])
        parts.append(f[0].numpy())
    streamed = np.concatenate(parts)
    n = min(len(streamed), len(offline))
    assert offline.shape[1] == 560 and n >= offline.shape[0] - 1
    np.testing.assert_allclose(streamed[:n], offline[:n], atol=1e-4)


def test_feature_store_computes_another_lfr_hop_from_the_examples_audio(tmp_path: Path) -> None:
    """Examples built at 60 ms (no lfr_n in the file): a 30 ms model gets its features from the clean WAV and the
    stored audio."""
    from audio_io.wav import write_wav
    from training.asr.train import FeatureStore

    rng = np.random.default_rng(1)
    clean, room, echo = ((rng.standard_normal(16000 * 2) * g).astype(np.float32) for g in (0.05, 0.1, 0.2))
    write_wav(tmp_path / "u.wav", clean, 16000)
    np.savez(tmp_path / "u.npz", clean=fbank_lfr(clean).astype(np.float16), room=fbank_lfr(room).astype(np.float16),
             echo=fbank_lfr(echo).astype(np.float16), room_audio=(room * 32767).astype(np.int16),
             echo_audio=(echo * 32767).astype(np.int16))
    row = {"id": "u", "clean_wav": "u.wav", "path": str(tmp_path / "u.npz")}
    stored, fine = FeatureStore(tmp_path), FeatureStore(tmp_path, lfr_n=3)
    assert fine.frame_s == pytest.approx(0.03) and stored.frame_s == pytest.approx(0.06)
    for version, audio in (("clean", clean), ("room", room), ("echo", echo)):
        want = fbank_lfr(audio, 3)
        got = fine.get(row, version).astype(np.float32)
        assert got.shape == want.shape and abs(got.shape[0] - 2 * stored.get(row, version).shape[0]) <= 1
        np.testing.assert_allclose(got, want, atol=0.02)  # float16 storage, int16 audio
    # an example built at the model's hop (its file says lfr_n 3) is read as stored, not computed again
    marked = {v: np.full((7, 560), i, np.float16) for i, v in enumerate(("clean", "room", "echo"))}
    np.savez(tmp_path / "v.npz", **marked, lfr_n=np.int16(3))
    row_v = {"id": "v", "clean_wav": "missing.wav", "path": str(tmp_path / "v.npz")}
    assert all(np.array_equal(fine.get(row_v, v), marked[v]) for v in marked)


@pytest.mark.slow
def test_asr_training_smoke_resume_and_export(tmp_path: Path, python: str) -> None:
    overrides = [
        f"data.corpus_dir={tmp_path / 'corpus'}", "data.corpus_utterances=40", "data.corpus_seed=3",
        f"data.examples_dir={tmp_path / 'examples'}", "data.workers=2", "data.heldout_sentences=0.0",
        "model.dim=64", "model.encoder_blocks=2", "model.decoder_blocks=1", "model.heads=2", "model.ffn=128",
        "model.dropout=0.0", f"train.out_dir={tmp_path / 'run'}", "train.batch_s=30",
        "train.lr=0.003", "train.warmup=5", "train.valid_every=30", "train.valid_utterances=3",
        "train.checkpoint_every=10", "train.log_every=5", "train.threads=1",
    ]

    def command(steps: int) -> list[str]:
        sets = [*overrides, f"train.steps={steps}"]
        return [python, "-m", "training.asr", "--no-progress"] + [a for o in sets for a in ("--set", o)]

    # the data alone ('prepare'), then training on what is there (--no-build), as when both run side by side
    sets = [a for o in overrides for a in ("--set", o)]
    res = subprocess.run([python, "-m", "training.asr", "prepare", "--no-progress", *sets], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("40 examples in "), res.stdout
    assert not (tmp_path / "run").exists()
    res = subprocess.run([*command(30), "--no-build"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "run"
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20, 25, 30]
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < losses[0] * 0.9, losses  # it learns
    valid = [json.loads(line) for line in (run / "valid.jsonl").open()]
    assert [v["step"] for v in valid] == [30] and 0 <= valid[0]["cer_clean"]
    assert {"cer_room", "wer_room", "cer_echo"} <= set(valid[0])  # the room version is validated too (reported)
    examples = sorted((tmp_path / "examples").glob("*.npz"))
    assert len(examples) == 40
    with np.load(examples[0]) as z:
        assert {"clean", "room", "echo", "room_audio", "echo_audio"} <= set(z.files)
        assert z["clean"].shape[1] == 560 and z["echo_audio"].dtype == np.int16
        assert int(z["lfr_n"]) == 3  # built at the recipe's hop (model.lfr_n), read back as stored

    # resume: ten more steps continue the log instead of starting over
    res = subprocess.run(command(40), cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming from step 30" in res.stderr
    steps = [int(r["step"]) for r in csv.DictReader((run / "log.csv").open())]
    assert steps == [5, 10, 15, 20, 25, 30, 35, 40]

    # export: the best checkpoint as a FunASR folder that the runtime loads, weights equal (float16)
    out = tmp_path / "exported"
    res = subprocess.run([python, "-m", "training.asr", "export", "--checkpoint", str(run / "best.pt"),
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    best = torch.load(run / "best.pt", map_location="cpu", weights_only=True)["model"]
    shipped = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert shipped.keys() == best.keys()
    for k, v in best.items():
        if v.is_floating_point():
            assert torch.allclose(shipped[k].float(), v, atol=1e-2, rtol=1e-2), k
    from models.asr.paraformer import ParaformerRecognizer

    rec = ParaformerRecognizer(out)
    loaded = dict(rec.model.state_dict())
    assert torch.equal(loaded["decoder.output_layer.weight"], shipped["decoder.output_layer.weight"].float())
    audio = np.zeros(16000, np.float32)
    assert isinstance(rec.transcribe(audio), str)

    # warm start: a new run from the exported folder starts where the first left off, not from random weights
    warm = [o for o in overrides if not o.startswith("train.out_dir")] + [f"train.out_dir={tmp_path / 'warm'}",
                                                                          f"train.init_from={out}"]
    sets = [*warm, "train.steps=5", "train.valid_every=1000"]
    res = subprocess.run([python, "-m", "training.asr", "--no-progress"] + [a for o in sets for a in ("--set", o)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "warm start from" in res.stderr
    warm_loss = float(next(csv.DictReader((tmp_path / "warm" / "log.csv").open()))["loss"])
    assert warm_loss < 0.9 * losses[0], (warm_loss, losses)
    with np.load(tmp_path / "warm" / "cmvn.npz") as z:  # the folder's normalisation, which its weights expect
        from training.asr.folder import read_cmvn

        assert np.allclose(z["mean"], read_cmvn(out / "am.mvn")[0])
    # another network: a clear error naming a weight, exit code 2
    other = [o for o in warm if not o.startswith(("model.dim", "train.out_dir"))] + [
        "model.dim=32", f"train.out_dir={tmp_path / 'other'}", "train.steps=5"]
    res = subprocess.run([python, "-m", "training.asr", "--no-progress"] + [a for o in other for a in ("--set", o)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 2 and "another network" in res.stderr, res.stderr[-2000:]

    # another feature rate from the same weights (lfr_n 6: FunASR's 60 ms vectors, as stored), exported and run
    fine = [o for o in warm if not o.startswith("train.out_dir")] + [f"train.out_dir={tmp_path / 'fine'}",
                                                                     "model.lfr_n=6", "train.steps=5",
                                                                     "train.valid_every=5"]
    res = subprocess.run([python, "-m", "training.asr", "--no-progress"] + [a for o in fine for a in ("--set", o)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "warm start from" in res.stderr
    assert [v["step"] for v in map(json.loads, (tmp_path / "fine" / "valid.jsonl").open())] == [5]
    res = subprocess.run([python, "-m", "training.asr", "export", "--checkpoint", str(tmp_path / "fine" / "best.pt"),
                          "--out", str(tmp_path / "fine_model")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    fine_rec = ParaformerRecognizer(tmp_path / "fine_model")
    assert rec.hop_samples == 480  # the default, lfr_n 3
    assert fine_rec.hop_samples == 960 and isinstance(fine_rec.transcribe(audio), str)


def test_funasr_jsonl_lines_keep_word_boundaries(tmp_path: Path) -> None:
    from training.asr.jsonl import jsonl_line

    line = jsonl_line("u1", tmp_path / "a.wav", 32000, "আমি ভাত খাব।")
    assert line == {"key": "u1", "source": str(tmp_path / "a.wav"), "source_len": 200,
                    "target": "আমি<space>ভাত<space>খাব", "target_len": 11}


def test_examples_of_held_out_voices_are_built_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import training.asr.data as data

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    splits = ["train", "test", "train", "valid", "train", "valid"]
    rows = [{"id": f"00000-{i:04d}", "split": sp, "files": {"16000": f"wavs_16k/{i}.wav"}} for i, sp in enumerate(splits)]
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen: list[str] = []
    monkeypatch.setattr(data, "run_jobs", lambda work, jobs, *a: seen.extend(j[0]["id"] for j in jobs) or [])
    assert data.build_examples(corpus, tmp_path / "ex", (-15, 5), 0.1, 1, progress=False) == []
    assert seen == ["00000-0003", "00000-0005", "00000-0001", "00000-0000", "00000-0002", "00000-0004"]


def test_no_build_without_a_corpus_is_a_clear_error(tmp_path: Path, python: str) -> None:
    res = subprocess.run([python, "-m", "training.asr", "--no-progress", "--no-build", "--set",
                          f"data.corpus_dir={tmp_path / 'none'}", "--set", f"train.out_dir={tmp_path / 'run'}"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "corpus manifest not found" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "run").exists()
