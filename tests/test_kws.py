"""The short-word spotter: its examples, network, training, export and runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.kws.net import SpotterNet
from models.kws.spotter import CLASSES, ShortWordSpotter, SpotterModelError, resolve_spotter_model

REPO = Path(__file__).resolve().parents[1]
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


def test_the_network_takes_its_inputs_in_the_runtime_order_only():
    with pytest.raises(ValueError, match="inputs"):
        SpotterNet(inputs=("echo", "output"))
    with pytest.raises(ValueError, match="inputs"):
        SpotterNet(inputs=("output", "mic"))
    assert SpotterNet(inputs=("output", "laec")).mean.shape == (80,)


def test_the_network_gives_each_example_the_same_logits_alone_or_padded_in_a_batch():
    torch.manual_seed(0)
    net = SpotterNet(channels=8, layers=2).eval()
    a, b = torch.randn(1, 17, 40), torch.randn(1, 30, 40)
    x = torch.zeros(2, 30, 40)
    x[0, :17], x[1] = a[0], b[0]
    mask = torch.zeros(2, 30)
    mask[0, :17], mask[1] = 1, 1
    with torch.no_grad():
        batched = net(x, mask)
        assert torch.allclose(batched[0], net(a)[0], atol=1e-5)
        assert torch.allclose(batched[1], net(b)[0], atol=1e-5)


def test_a_model_file_that_is_missing_corrupt_or_of_another_contract_is_refused(tmp_path):
    assert resolve_spotter_model(None) is None and resolve_spotter_model("off") is None
    assert resolve_spotter_model("shipped").name == "short_word_spotter.onnx"
    with pytest.raises(SpotterModelError, match="not found"):
        ShortWordSpotter(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SpotterModelError, match="not a readable ONNX model"):
        ShortWordSpotter(bad)
    vad = REPO / "models" / "vad" / "vad_dfsmn.onnx"
    with pytest.raises(SpotterModelError, match="metadata"):
        ShortWordSpotter(vad)


def test_the_agent_refuses_a_missing_spotter_with_a_hint(tmp_path):
    from agent.config import load_config
    from agent.pipeline import ModelLoadError, spotter_from_config

    assert spotter_from_config(load_config(None, ["agent.short_word_model=null"])) is None
    with pytest.raises(ModelLoadError, match="training.kws"):
        spotter_from_config(load_config(None, [f"agent.short_word_model={tmp_path / 'none.onnx'}"]))


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


def test_the_pipeline_gives_the_spotter_the_runs_three_signals_from_the_same_samples(tmp_path):
    """agent.short_word_model: the pipeline keeps the chain's ASR output, echo estimate and LAEC output of the
    last seconds side by side, and ``ride_probability(onset)`` classifies them from the ASR pre-roll before
    ``onset`` on, as the spotter does on the same three signals cut from the chain's outputs."""
    from agent.config import load_config
    from agent.pipeline import ListeningPipeline
    from audio_io.frames import DuplexBlock
    from models.aec.chain import EchoCanceller
    from training.kws.export import export_onnx

    torch.manual_seed(0)
    net = SpotterNet(8, 2, inputs=("output", "echo", "laec")).eval()
    path = export_onnx(net, tmp_path / "spotter.onnx")
    cfg = load_config(None, [f"agent.short_word_model={path}", "agent.asr_preroll_ms=300"])
    chain = EchoCanceller(cfg.aec)

    class NoVad:  # the pipeline's VAD and ASR play no part here
        def process(self, *args):  # noqa: ANN002, ANN202
            return 0.0, 0.0

    pipeline = ListeningPipeline(cfg, chain, NoVad(), None)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    far = rng.standard_normal(16000 * 2).astype(np.float32) * 0.1
    mic = (np.roll(far, 800) * 0.3 + rng.standard_normal(far.size) * 0.01).astype(np.float32)
    outs = {"output": [], "echo": [], "laec": []}
    for i in range(0, far.size, 320):
        result = pipeline.process(DuplexBlock(mic[i : i + 320], far[i : i + 320], i))
        if i >= 320:  # the chain's outputs lag one block: the first one is before the session's start
            outs["output"].append(result.audio)
            outs["echo"].append(np.asarray(chain.echo_estimate, np.float32))
            outs["laec"].append(np.asarray(chain.laec_output, np.float32))
    sig = {k: np.concatenate(v) for k, v in outs.items()}
    onset = 16000
    start = onset - 4800
    want = pipeline.spotter.p_ride(sig["output"][start:], sig["echo"][start:], sig["laec"][start:])
    assert pipeline.ride_probability(onset) == pytest.approx(want, abs=1e-6)
    assert pipeline.ride_probability(onset) != pytest.approx(pipeline.spotter.p_ride(sig["output"][start:]),
                                                             abs=1e-9)


@pytest.mark.parametrize("text, voice, rides", [("আচ্ছা", "bn+f3", True), ("ঠিক আছে", "bn+m3", True),
                                                ("থামো", "bn+f3", False), ("না", "bn+m3", False),
                                                ("stop", "en-us+f2", False)])
def test_the_shipped_spotter_tells_commands_from_backchannels_in_voices_it_never_heard(text, voice, rides):
    """Words by the benchmark's voices (in neither training split), alone in near silence: a command gets a low
    p_ride, a backchannel a high one (measured 0.98 / 0.96 against 0.19 / 0.04 / 0.10 when shipped)."""
    from audio_io.speech_synth import SynthVoice, synthesize

    x = synthesize(text, SynthVoice("espeak-ng", voice, voice[:2]), 16000)
    x = x / np.abs(x).max() * 0.05
    noise = np.random.default_rng(0).standard_normal(x.size + 8800) * 1e-4
    p = ShortWordSpotter().p_ride((np.concatenate([np.zeros(4800), x, np.zeros(4000)]) + noise).astype(np.float32))
    assert (p > 0.85) if rides else (p < 0.3), p


def test_the_shipped_spotter_has_a_card_with_its_command_and_measurements():
    from models.kws.spotter import SHIPPED_MODEL
    from training.kws.train import build_model

    card = json.loads(SHIPPED_MODEL.with_name("short_word_spotter.card.json").read_text(encoding="utf-8"))
    assert card["training"]["command"] == "python -m training.kws --config configs/train/kws.yaml"
    net = build_model({"channels": 128, "layers": 3, "kernel": 5, "dilate": True, "inputs": ["output"],
                       "window_norm": True})
    assert card["parameters"] == sum(p.numel() for p in net.parameters())
    assert SHIPPED_MODEL.stat().st_size < 5e6
    assert card["validation"]["chosen_threshold"] == pytest.approx(0.85)
    from agent.config import load_config

    assert load_config(None).agent.short_word_threshold == card["validation"]["chosen_threshold"]
