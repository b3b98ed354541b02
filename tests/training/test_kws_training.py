"""Short-word spotter training: its examples (voice splits, words, noises) and a training smoke run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.kws.net import SpotterNet
from models.kws.spotter import CLASSES, ShortWordSpotter

REPO = Path(__file__).resolve().parents[2]
AGENT_VOICE = REPO / "cache" / "vad" / "agent_voice"


def test_voice_splits_are_disjoint_and_leave_out_the_benchmark_voices():
    from training.kws.examples import BENCHMARK_VARIANTS, split_variants

    train, valid = set(split_variants("train")), set(split_variants("valid"))
    assert train and valid and not train & valid
    assert not (train | valid) & set(BENCHMARK_VARIANTS)
    with pytest.raises(ValueError, match="split"):
        split_variants("test")


def test_other_phrases_hold_no_listed_word_and_noise_bursts_are_short_and_scaled():
    from training.kws.examples import BACKCHANNEL, STOP, noise_burst, other_phrases

    listed = {w.casefold() for lang in ("bn", "en") for p in STOP[lang] + BACKCHANNEL[lang] for w in p.split()}
    for lang in ("bn", "en"):
        phrases = other_phrases(lang)
        assert len(phrases) > 100
        assert not any(w.casefold() in listed for p in phrases for w in p.split())
        assert all(1 <= len(p.split()) <= 2 for p in phrases)
    rng = np.random.default_rng(0)
    for _ in range(12):
        x = noise_burst(rng)
        assert x.dtype == np.float32 and 0.04 * 16000 < x.shape[0] < 0.9 * 16000
        assert abs(float(np.max(np.abs(x))) - 0.3) < 1e-4


def test_training_smoke_loss_falls_checkpoint_round_trips_and_export_matches_torch(tmp_path):
    """Two scenes of each split through the real chain, a few steps on them: the training loss falls, the best
    checkpoint loads back to the same logits, the ONNX export agrees with torch and the runtime reads it."""
    from training.kws.config import load_kws_config
    from training.kws.examples import build_examples, load_shards
    from training.kws.export import export_onnx, max_difference
    from training.kws.train import evaluate, load_model, select, train

    files = sorted(AGENT_VOICE.glob("*.wav"))
    if len(files) < 2:
        from training.vad.agent_voice import build_agent_voice

        files = build_agent_voice(tmp_path / "voice", 3, progress=False)
    for split, scenes in (("train", 2), ("valid", 1)):
        assert build_examples(tmp_path / split, split, scenes, files, workers=1, scenes_per_shard=1,
                              progress=False) == []
    data = load_shards(tmp_path / "train")
    assert len(data["labels"]) == 6 and all(f.shape[1] == 40 for f in data["features"])
    assert len(load_shards(tmp_path / "valid")["audio"]) == 3  # validation keeps the windows' audio
    cfg = load_kws_config(None, [f"train.out_dir={tmp_path / 'run'}", "train.steps=40", "train.valid_every=20",
                                 "train.channels=16", "train.lr=0.01", "train.gain_db=0", "train.crop_frames=0",
                                 "train.threads=1", "train.inputs=[output,echo,laec]", "train.min_vad_peak=0",
                                 "train.valid_min_vad_peak=0"])
    inputs = ("output", "echo", "laec")
    feats, labels = select(data, 0.0, inputs)
    assert feats[0].shape[1] == 120 and labels == data["labels"]
    assert len(select(data, 1.01)[1]) == 0  # no sound reaches a VAD peak above 1
    torch.manual_seed(0)
    untrained = SpotterNet(16, 3, inputs=inputs)
    allf = np.concatenate(feats)
    untrained.mean.copy_(torch.from_numpy(allf.mean(0)))
    untrained.std.copy_(torch.from_numpy(allf.std(0) + 1e-3))
    before = evaluate(untrained, feats, labels)["loss"]
    best = train(cfg, tmp_path / "train", tmp_path / "valid", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "valid.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40]
    final = load_model(tmp_path / "run" / "checkpoint.pt")
    assert evaluate(final, feats, labels)["loss"] < 0.5 * before
    model = load_model(best)
    onnx_path = export_onnx(model, tmp_path / "kws.onnx")
    assert max_difference(model, onnx_path) < 1e-4
    spotter = ShortWordSpotter(onnx_path)
    assert spotter.inputs == inputs and spotter.echo_aware and spotter.laec_aware
    assert set(spotter.words) == {"stop", "backchannel"} and "থামো" in spotter.words["stop"]["bn"]
    probs = spotter.classify(np.zeros(8000, np.float32) + 1e-3)
    assert set(probs) == set(CLASSES) and abs(sum(probs.values()) - 1) < 1e-5
    with pytest.raises(ValueError, match="mono"):
        spotter.classify(np.zeros((2, 8000), np.float32))
    with pytest.raises(ValueError, match="samples"):
        spotter.classify(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="echo signal has"):
        spotter.classify(np.zeros(8000, np.float32), np.zeros(4000, np.float32))
    x = np.random.default_rng(0).standard_normal(8000) * 1e-2
    # no echo given = nothing played; no LAEC output given = the output itself
    assert spotter.p_ride(x) == pytest.approx(spotter.p_ride(x, np.zeros(8000), x))
    assert spotter.p_ride(x) != pytest.approx(spotter.p_ride(x, x, x), abs=1e-9)
    with pytest.raises(ValueError, match="not a short-word spotter checkpoint"):
        (tmp_path / "junk.pt").write_bytes(b"junk")
        load_model(tmp_path / "junk.pt")
