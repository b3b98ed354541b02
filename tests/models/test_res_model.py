"""The DFSMN residual echo suppressor: size, streaming, ONNX export and runtime, chain integration."""

import numpy as np
import pytest
import torch

from agent.config import AecConfig, build
from models.aec.chain import EchoCanceller, cancel_echo, resolve_res_model
from models.aec.res.dfsmn import ResDfsmn
from models.aec.res.runtime import SHIPPED_MODEL, ResidualEchoSuppressor, ResModelError
from training.res.export import export_onnx, max_difference


def random_model(seed: int = 0) -> ResDfsmn:
    torch.manual_seed(seed)
    model = ResDfsmn()
    for layer in model.layers:  # the memory taps start at zero; give them weight so they are tested
        torch.nn.init.normal_(layer.taps, std=0.1)
    return model.eval()


def test_parameter_count_matches_the_paper():
    assert sum(p.numel() for p in ResDfsmn().parameters()) == 432_770


def test_streaming_equals_whole_sequence():
    model = random_model()
    x = torch.randn(2, 40, 240)
    with torch.no_grad():
        whole = model(x)
        state = model.init_state(2)
        steps = []
        for t in range(40):
            y, state = model.streaming_forward(x[:, t], state)
            steps.append(y)
    assert len(whole) == 3 and whole[0].shape == (2, 40, 642)
    assert torch.allclose(torch.stack(steps, 1), whole[-1], atol=1e-5)


def test_memory_reaches_19_frames_back_and_no_further():
    model = random_model()
    x = torch.randn(1, 40, 240)
    with torch.no_grad():
        base = model(x)[-1]
        x2 = x.clone()
        x2[0, 10] += 5.0
        moved = (model(x2)[-1] - base).abs().amax(-1)[0]
    assert moved[:10].max() == 0  # causal: no look-ahead
    assert moved[10:].max() > 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = random_model(1)
    path = export_onnx(model, tmp_path_factory.mktemp("res") / "res.onnx", {"train_step": 7})
    return model, path


def test_onnx_matches_torch_and_carries_its_contract(exported):
    model, path = exported
    assert max_difference(model, path, frames=40) <= 1e-4
    rt = ResidualEchoSuppressor(path)
    assert rt.state_shape == (9, 19, 128)
    assert rt.metadata["hop"] == "320" and rt.metadata["train_step"] == "7"
    assert path.stat().st_size < 2_000_000


def test_an_unfused_export_is_read_back_and_reexported_in_the_fused_form(tmp_path, exported):
    import onnx

    from models.aec.res.dfsmn import split_masks
    from models.onnx_export import export_step
    from training.res.__main__ import main
    from training.res.export import model_from_unfused_onnx

    model, fused_path = exported

    class Unfused(torch.nn.Module):  # how files were exported before the fused step: streaming_forward as it is
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, features, state):  # noqa: ANN001, ANN202
            masks, new = self.model.streaming_forward(features, state)
            return (*split_masks(masks), new)

    meta = {p.key: p.value for p in onnx.load(str(fused_path)).metadata_props}
    old = export_step(Unfused(), (torch.zeros(1, 240), model.init_state(1)), ["features", "state"],
                      ["mask_x", "mask_r", "state_out"], tmp_path / "old.onnx", meta)
    back, back_meta = model_from_unfused_onnx(old)
    for name, value in model.state_dict().items():
        assert torch.allclose(back.state_dict()[name], value), name
    assert back_meta["train_step"] == "7"
    assert main(["export", "--from-onnx", str(old), "--out", str(tmp_path / "new.onnx")]) == 0
    assert len(onnx.load(str(tmp_path / "new.onnx")).graph.node) < 0.8 * len(onnx.load(str(old)).graph.node)
    assert max_difference(model, tmp_path / "new.onnx", frames=30) <= 1e-4
    assert main(["export", "--from-onnx", str(fused_path), "--out", str(tmp_path / "x.onnx")]) == 1  # already fused


def test_runtime_keeps_state_and_resets(exported):
    _, path = exported
    rt = ResidualEchoSuppressor(path)
    rng = np.random.default_rng(0)
    frames = [tuple(rng.standard_normal(321) + 1j * rng.standard_normal(321) for _ in range(3)) for _ in range(5)]
    first = [rt.process(*f)[0] for f in frames]
    assert not np.allclose(rt.process(*frames[0])[0], first[0])  # state carried over
    rt.reset()
    assert np.allclose(rt.process(*frames[0])[0], first[0])
    assert all(((m >= 0) & (m <= 1)).all() for m in first)


def test_bad_model_files_give_clear_errors(tmp_path, exported):
    with pytest.raises(ResModelError, match="not found"):
        ResidualEchoSuppressor(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not an onnx model")
    with pytest.raises(ResModelError, match="not a readable ONNX"):
        ResidualEchoSuppressor(bad)
    import onnx

    proto = onnx.load(str(exported[1]))
    for prop in proto.metadata_props:
        if prop.key == "hop":
            prop.value = "160"
    other = tmp_path / "other.onnx"
    onnx.save(proto, str(other))
    with pytest.raises(ResModelError, match="hop"):
        ResidualEchoSuppressor(other)


def test_chain_uses_the_configured_model(exported, rng):
    _, path = exported
    chain = EchoCanceller(build(AecConfig, {"res_model": str(path)}))
    assert chain.mask_source == "neural"
    assert EchoCanceller(build(AecConfig, {"res_model": None})).mask_source == "classical"
    mic = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    ref = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    asr, vad, stats = cancel_echo(mic, ref, build(AecConfig, {"res_model": str(path)}))
    asr2, _, _ = cancel_echo(mic, ref, build(AecConfig, {"res_model": str(path)}))
    assert asr.shape == mic.shape and np.isfinite(asr).all() and np.isfinite(vad).all()
    assert np.array_equal(asr, asr2)  # reproducible, state starts fresh
    with pytest.raises(ResModelError):
        EchoCanceller(build(AecConfig, {"res_model": "/nonexistent/res.onnx"}))


def test_res_model_setting_values(monkeypatch, tmp_path, caplog):
    assert resolve_res_model(None) is None and resolve_res_model("none") is None
    assert resolve_res_model("x.onnx").name == "x.onnx"
    monkeypatch.setattr("models.aec.chain.SHIPPED_MODEL", tmp_path / "gone.onnx")
    assert resolve_res_model("shipped") is None  # falls back to the classical masks, with a warning
    assert "missing" in caplog.text
    assert SHIPPED_MODEL.name == "res_dfsmn.onnx"


def test_neural_chain_streaming_equals_whole_file(exported, rng):
    _, path = exported
    config = build(AecConfig, {"res_model": str(path)})
    mic = (0.05 * rng.standard_normal(9600)).astype(np.float32)
    ref = (0.05 * rng.standard_normal(9600)).astype(np.float32)
    asr, vad, _ = cancel_echo(mic, ref, config)
    chain = EchoCanceller(config)
    outs = [chain.process(mic[i : i + 320], ref[i : i + 320]) for i in range(0, len(mic), 320)]
    lat = EchoCanceller.latency_samples
    np.testing.assert_array_equal(vad[: len(mic) - lat], np.concatenate([o[1] for o in outs])[lat:])


def _nonlinear_scene(seconds: float = 12.0, near_at: float | None = None):
    from agent.config import RoomConfig
    from audio_io.room import SimulatedRoom
    from audio_io.speech_synth import SynthVoice, synthesize

    far = np.concatenate([synthesize(t, SynthVoice("espeak-ng", "bn+m2", "bn", 160, 40)) for t in (
        "আজ সকালে আকাশ মেঘলা ছিল, দুপুরে রোদ উঠেছে।", "তুমি কি আমার সঙ্গে বাজারে যাবে?")])
    far = np.tile(far, int(np.ceil(seconds * 16000 / far.size)))[: int(seconds * 16000)]
    room = SimulatedRoom(build(RoomConfig, {"seed": 7, "volume": 0.8, "nonlinearity": True, "clip_level": 0.5,
                                            "rt60_s": 0.35, "delay_ms": 90}))
    mic, _ = room.run(far)
    return mic, far


def test_shipped_model_loads_and_beats_the_dsp_only_chain():
    """The model in the repository: contract metadata, and more ERLE than the classical masks on a fixed
    nonlinear far-end scene (steady state, VAD output)."""
    from models.aec.metrics import erle_db

    rt = ResidualEchoSuppressor(SHIPPED_MODEL)
    assert rt.metadata["format_version"] == "1" and int(rt.metadata["train_step"]) > 0
    assert SHIPPED_MODEL.stat().st_size < 2_000_000
    mic, far = _nonlinear_scene()
    _, vad_dsp, _ = cancel_echo(mic, far, build(AecConfig, {"res_model": None}))
    _, vad_res, _ = cancel_echo(mic, far, build(AecConfig, {"res_model": "shipped"}))
    steady = slice(5 * 16000, None)
    dsp, res = erle_db(mic[steady], vad_dsp[steady]), erle_db(mic[steady], vad_res[steady])
    assert res > dsp + 10, (dsp, res)
