"""The short-word spotter: network, runtime, the agent pipeline's use of it, the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.kws.net import SpotterNet
from models.kws.spotter import ShortWordSpotter, SpotterModelError, resolve_spotter_model

REPO = Path(__file__).resolve().parents[2]


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
