"""The VAD network, its ONNX export and runtime, and the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.vad.features import FEATURES, VadFeatures, file_features
from models.vad.net import VadDfsmn
from models.vad.runtime import SHIPPED_MODEL, SemanticVad, VadModelError, detect
from training.vad.export import export_onnx, max_difference

SR = 16000


def random_model(seed: int = 0, echo_input: bool = False, pitch_input: bool = False,
                 laec_input: bool = False) -> VadDfsmn:
    torch.manual_seed(seed)
    model = VadDfsmn(echo_input=echo_input, pitch_input=pitch_input, laec_input=laec_input)
    for layer in model.layers:  # taps start at zero; make the memory matter
        torch.nn.init.normal_(layer.taps, std=0.2)
    return model.eval()


def test_size_and_state_shape() -> None:
    model = VadDfsmn()
    params = sum(p.numel() for p in model.parameters())
    assert params <= 500_000
    assert params == 105_666
    assert model.state_shape == (6, 36, 64)


@pytest.mark.parametrize(("echo_input", "pitch_input"), [(False, False), (True, False), (True, True)])
def test_streaming_equals_whole_sequence_and_is_causal(echo_input: bool, pitch_input: bool) -> None:
    model = random_model(echo_input=echo_input, pitch_input=pitch_input)
    x = torch.randn(2, 80, model.in_features)
    with torch.no_grad():
        whole = torch.sigmoid(model(x))
        state = model.init_state(2)
        steps = []
        for t in range(x.shape[1]):
            p, state = model.streaming_forward(x[:, t], state)
            steps.append(p)
        x2 = x.clone()
        x2[:, 50:] = torch.randn_like(x2[:, 50:])  # change the future only
        changed = torch.sigmoid(model(x2))
    assert torch.allclose(whole, torch.stack(steps, 1), atol=1e-5)
    assert torch.allclose(whole[:, :50], changed[:, :50], atol=1e-6)
    assert not torch.allclose(whole[:, 50:], changed[:, 50:])
    # the memory reaches back 2.8 s (140 frames): a change 100 frames back still matters
    x3 = x.clone()
    x3[:, 0] += 5.0
    with torch.no_grad():
        assert not torch.allclose(torch.sigmoid(model(x3))[:, 79], whole[:, 79])


def test_file_features_equal_streaming_features() -> None:
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(SR) * 0.1
    feats = VadFeatures()
    stream = np.stack([feats.process(audio[i : i + 320]) for i in range(0, SR, 320)])
    assert np.array_equal(stream, file_features(audio))
    assert file_features(audio[:100]).shape == (1, FEATURES)
    # several signals in one object (the runtime's output, echo estimate, LAEC output): each as if alone
    three = rng.standard_normal((3, SR)) * np.array([[0.1], [0.01], [1e-4]])
    batched = VadFeatures(channels=3)
    got = np.stack([batched.process(three[:, i : i + 320]) for i in range(0, SR, 320)], axis=1)
    for k in range(3):
        assert np.array_equal(got[k], file_features(three[k]))
    with pytest.raises(ValueError, match="3 channels"):
        batched.process(three[0, :320])


def test_onnx_export_matches_torch_and_carries_metadata(tmp_path: Path) -> None:
    model = random_model(1)
    path = export_onnx(model, tmp_path / "vad.onnx", {"train_step": 7})
    assert max_difference(model, path) <= 1e-4
    vad = SemanticVad(path)
    assert vad.metadata["train_step"] == "7" and vad.state_shape == (6, 36, 64)
    block = np.random.default_rng(0).standard_normal(320) * 0.1
    first = vad.process(block)
    vad.process(block)
    vad.reset()
    assert vad.process(block) == first  # reset clears the state and the STFT history
    with pytest.raises(ValueError, match="blocks of 320"):
        vad.process(np.zeros(160))
    vad.reset()
    assert not vad.echo_aware and vad.process(block, np.ones(320)) == first  # a plain model ignores the echo


def test_echo_aware_model_exports_and_reads_the_echo_estimate(tmp_path: Path) -> None:
    model = random_model(2, echo_input=True)
    assert sum(p.numel() for p in model.parameters()) == 105_666 + FEATURES * 64
    path = export_onnx(model, tmp_path / "vad_echo.onnx")
    assert max_difference(model, path) <= 1e-4  # random audio and a random echo estimate, state carried
    vad = SemanticVad(path)
    assert vad.echo_aware and vad.metadata["echo_features"] == str(FEATURES)
    rng = np.random.default_rng(0)
    audio, echo = rng.standard_normal(SR // 2) * 0.1, rng.standard_normal(SR // 2) * 0.1

    def run(echo_signal: np.ndarray | None) -> np.ndarray:
        vad.reset()
        return np.array([vad.process(audio[i : i + 320], None if echo_signal is None else echo_signal[i : i + 320])
                         for i in range(0, SR // 2, 320)])

    silent, heard = run(None), run(echo)
    np.testing.assert_array_equal(silent, run(np.zeros_like(echo)))  # None stands for nothing played
    assert np.abs(silent - heard).max() > 1e-3
    with pytest.raises(ValueError, match="echo estimate comes in blocks of 320"):
        vad.process(audio[:320], echo[:100])
    # the features of both inputs are the same transform: the model sees the echo like the output
    with torch.no_grad():
        both = np.concatenate([file_features(audio), file_features(echo)], axis=1)
        whole = torch.sigmoid(model(torch.from_numpy(both)[None]))[0].numpy()
    assert np.abs(whole[: heard.shape[0]] - heard).max() <= 1e-4


def test_fused_export_step_equals_the_streaming_step() -> None:
    from models.dfsmn import FusedStack

    model = random_model(7, echo_input=True)
    with torch.no_grad():
        model.feature_mean.normal_()
        model.feature_std.uniform_(0.5, 2.0)  # the normalisation is folded into the input layer: make it matter
        fused = FusedStack(model.input, model.feature_mean, model.feature_std, model.layers, model.state_shape)
        x = torch.randn(2, 180, model.in_features)  # longer than the memory (140 frames)
        state, fused_state = model.init_state(2), model.init_state(2)
        for t in range(x.shape[1]):
            p, state = model.streaming_forward(x[:, t], state)
            m, fused_state = fused(x[:, t], fused_state)
            assert torch.allclose(torch.sigmoid(model.output(m)), p, atol=1e-5)
        assert torch.allclose(fused_state, state, atol=1e-5)  # the same state layout: old and new files interchange


def test_an_unfused_export_is_read_back_and_reexported_in_the_fused_form(tmp_path: Path) -> None:
    import onnx

    from models.onnx_export import export_step
    from training.vad.__main__ import main
    from training.vad.export import input_names, model_from_unfused_onnx

    model = random_model(8, echo_input=True)
    with torch.no_grad():
        model.feature_mean.normal_()

    class Unfused(torch.nn.Module):  # how files were exported before the fused step: streaming_forward as it is
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor):  # noqa: ANN202
            return self.model.streaming_forward(torch.cat(inputs[:-1], dim=-1), inputs[-1])

    meta = {p.key: p.value for p in onnx.load(str(export_onnx(model, tmp_path / "ref.onnx"))).metadata_props}
    old = export_step(Unfused(), (torch.zeros(1, 40), torch.zeros(1, 40), model.init_state(1)), input_names(model),
                      ["probs", "state_out"], tmp_path / "old.onnx", {**meta, "train_step": "1234"})
    back, back_meta = model_from_unfused_onnx(old)
    for name, value in model.state_dict().items():
        assert torch.allclose(back.state_dict()[name], value), name
    assert back_meta["train_step"] == "1234"
    assert main(["export", "--from-onnx", str(old), "--out", str(tmp_path / "new.onnx")]) == 0
    new_proto = onnx.load(str(tmp_path / "new.onnx"))
    assert len(new_proto.graph.node) < 0.8 * len(onnx.load(str(old)).graph.node)  # fewer nodes: less onnxruntime time
    assert {p.key: p.value for p in new_proto.metadata_props}["train_step"] == "1234"
    rng = np.random.default_rng(3)
    audio, echo = rng.standard_normal(SR) * 0.1, rng.standard_normal(SR) * 0.05
    a, b = SemanticVad(old), SemanticVad(tmp_path / "new.onnx")
    pa = np.array([a.process(audio[i : i + 320], echo[i : i + 320]) for i in range(0, SR, 320)])
    pb = np.array([b.process(audio[i : i + 320], echo[i : i + 320]) for i in range(0, SR, 320)])
    assert np.abs(pa - pb).max() <= 1e-5
    with pytest.raises(ValueError, match="not an unfused export"):
        model_from_unfused_onnx(tmp_path / "new.onnx")
    assert main(["export", "--from-onnx", str(tmp_path / "new.onnx"), "--out", str(tmp_path / "x.onnx")]) == 1


def test_laec_aware_model_exports_and_reads_the_linear_cancellers_output(tmp_path: Path) -> None:
    model = random_model(6, echo_input=True, laec_input=True)
    assert model.in_features == model.level_features == 3 * FEATURES
    assert [name for name, _, _ in model.groups] == ["features", "echo", "laec"]
    path = export_onnx(model, tmp_path / "vad_laec.onnx")
    assert max_difference(model, path) <= 1e-4
    vad = SemanticVad(path)
    assert vad.laec_aware and vad.echo_aware and vad.metadata["laec_features"] == str(FEATURES)
    rng = np.random.default_rng(1)
    audio, echo = rng.standard_normal(SR // 2) * 0.1, rng.standard_normal(SR // 2) * 0.05
    laec = audio + echo

    def run(laec_signal: np.ndarray | None) -> np.ndarray:
        vad.reset()
        return np.array([vad.process(audio[i : i + 320], echo[i : i + 320],
                                     None if laec_signal is None else laec_signal[i : i + 320])
                         for i in range(0, SR // 2, 320)])

    own, heard = run(None), run(laec)
    np.testing.assert_array_equal(own, run(audio))  # None stands for the block itself (nothing played)
    assert np.abs(own - heard).max() > 1e-3  # the third input matters
    with pytest.raises(ValueError, match="LAEC output comes in blocks of 320"):
        vad.process(audio[:320], echo[:320], laec[:100])
    with torch.no_grad():  # the same features as training stores: the output's, the estimate's, the LAEC output's
        x = np.concatenate([file_features(audio), file_features(echo), file_features(laec)], axis=1)
        whole = torch.sigmoid(model(torch.from_numpy(x)[None]))[0].numpy()
    assert np.abs(whole[: heard.shape[0]] - heard).max() <= 1e-4


def test_prosody_aware_model_exports_and_reads_the_pitch_of_its_input(tmp_path: Path) -> None:
    from models.vad.pitch import PITCH_FEATURES, file_pitch

    model = random_model(5, echo_input=True, pitch_input=True)
    assert model.in_features == 2 * FEATURES + PITCH_FEATURES and model.level_features == 2 * FEATURES
    path = export_onnx(model, tmp_path / "vad_pitch.onnx")
    assert max_difference(model, path) <= 1e-4  # a gliding voiced tone in noise: voiced frames reach the model
    vad = SemanticVad(path)
    assert vad.pitch_aware and vad.echo_aware and vad.metadata["pitch_features"] == str(PITCH_FEATURES)
    audio = 0.3 * np.sin(2 * np.pi * np.cumsum(np.linspace(120, 200, SR)) / SR)
    got = np.array([vad.process(audio[i : i + 320]) for i in range(0, SR, 320)])
    with torch.no_grad():  # the runtime computes the pitch features itself, as training stored them
        x = np.concatenate([file_features(audio, model.power_floor), file_features(np.zeros(SR), model.power_floor),
                            file_pitch(audio)], axis=1)
        whole = torch.sigmoid(model(torch.from_numpy(x.astype(np.float32))[None]))[0].numpy()
    assert np.abs(whole - got).max() <= 1e-4
    # without the pitch input the same weights answer differently: the pitch features matter
    zeroed = x.copy()
    zeroed[:, -PITCH_FEATURES:] = 0
    with torch.no_grad():
        seen, blind = (model(torch.from_numpy(v.astype(np.float32))[None])[0].numpy() for v in (x, zeroed))
    assert np.abs(blind - seen).max() > 0.01  # logits (a model blind to pitch: exactly 0)


def test_a_model_with_an_unknown_pitch_contract_is_refused(tmp_path: Path) -> None:
    import onnx

    path = export_onnx(random_model(6, pitch_input=True), tmp_path / "p.onnx")
    m = onnx.load(str(path))
    for prop in m.metadata_props:
        if prop.key == "pitch_features":
            prop.value = "5"
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(VadModelError, match="pitch_features"):
        SemanticVad(tmp_path / "bad.onnx")


def test_a_raised_power_floor_is_exact_and_travels_with_the_model(tmp_path: Path) -> None:
    from models.aec.stft import StftAnalyzer
    from models.vad.features import POWER_FLOOR, vad_mel_matrix
    from models.vad.power_floor import raise_floor

    rng = np.random.default_rng(3)
    audio = rng.standard_normal(SR // 2) * np.repeat(10 ** rng.uniform(-6, -1, 25), 320)  # quiet to loud
    stft, mel = StftAnalyzer(), vad_mel_matrix().T.astype(np.float64)
    power = np.stack([np.abs(stft.process(audio[i : i + 320])) ** 2 @ mel for i in range(0, audio.shape[0], 320)])
    np.testing.assert_allclose(raise_floor(file_features(audio), 1e-5), np.log(power + 1e-5), atol=1e-4)
    # training's stored-feature path and the runtime's direct features agree
    np.testing.assert_allclose(raise_floor(file_features(audio), 1e-5), file_features(audio, 1e-5), atol=1e-4)
    np.testing.assert_array_equal(raise_floor(file_features(audio), POWER_FLOOR), file_features(audio))
    with pytest.raises(ValueError, match="at least"):
        raise_floor(file_features(audio), 1e-12)
    # the floor is the model's: exported in its metadata, applied by the runtime, torch and ONNX agree
    model = random_model(4, echo_input=True)
    model.power_floor = 1e-5
    path = export_onnx(model, tmp_path / "floored.onnx")
    vad = SemanticVad(path)
    assert vad.power_floor == 1e-5 and float(vad.metadata["power_floor"]) == 1e-5
    assert max_difference(model, path) <= 1e-4
    assert SemanticVad(SHIPPED_MODEL).power_floor == 1e-5  # the shipped model's recipe (its card)
    import onnx

    old = onnx.load(str(path))  # a model from before the key: the default floor
    kept = [p for p in old.metadata_props if p.key != "power_floor"]
    del old.metadata_props[:]
    old.metadata_props.extend(kept)
    onnx.save(old, str(tmp_path / "before_the_key.onnx"))
    assert SemanticVad(tmp_path / "before_the_key.onnx").power_floor == POWER_FLOOR
    # sounds far below the floor look like silence to such a model, not to one with the default floor
    whisper = rng.standard_normal(SR // 2) * 10 ** (-95 / 20)
    default = export_onnx(random_model(4, echo_input=True), tmp_path / "default.onnx")

    def spread(p: Path) -> float:
        v = SemanticVad(p)
        quiet = np.array([v.process(whisper[i : i + 320]) for i in range(0, SR // 2, 320)])
        v.reset()
        silent = np.array([v.process(np.zeros(320)) for _ in range(0, SR // 2, 320)])
        return float(np.abs(quiet - silent).max())

    assert spread(path) < 0.1 * spread(default)


def test_bad_model_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(VadModelError, match="not found"):
        SemanticVad(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(VadModelError, match="not a readable ONNX model"):
        SemanticVad(bad)
    from models.aec.res.dfsmn import ResDfsmn
    from training.res.export import export_onnx as export_res

    res = export_res(ResDfsmn(), tmp_path / "res.onnx")
    with pytest.raises(VadModelError, match="metadata"):
        SemanticVad(res)  # a model of another kind


def test_detect_rejects_wrong_rate_and_stereo(tmp_path: Path) -> None:
    path = export_onnx(random_model(), tmp_path / "vad.onnx")
    vad = SemanticVad(path)
    with pytest.raises(ValueError, match="16000 Hz"):
        detect(np.zeros(8000), vad=vad, sample_rate=8000)
    with pytest.raises(ValueError, match="mono"):
        detect(np.zeros((1000, 2)), vad=vad)


def test_shipped_model_separates_speech_from_silence() -> None:
    """A fixed file: 1 s silence, a Bangla sentence (espeak-ng), 2 s silence, at a normal level, light noise."""
    from audio_io.speech_synth import SynthVoice, synthesize
    from training.data.corpus import speech_bounds

    speech = synthesize("আমি আজ বিকেলে বাজারে যাব।", SynthVoice("espeak-ng", "bn", "bn"), SR)
    a, b = speech_bounds(speech, SR)
    speech = speech[a:b]  # without the engine's own edge silences
    speech = speech / np.max(np.abs(speech)) * 0.3
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(SR), speech, np.zeros(2 * SR)]) + rng.standard_normal(SR * 3 + len(speech)) * 1e-3
    result = detect(audio)
    probs = result.probabilities[:, 0]
    speech_frames = slice(SR // 320 + 10, (SR + len(speech)) // 320 - 10)
    assert np.median(probs[speech_frames]) > 0.8
    assert np.median(probs[: SR // 320 - 5]) < 0.2 and np.median(probs[-60:]) < 0.2
    assert len(result.segments) >= 1
    start, end = result.segments[0][0], result.segments[-1][1]
    assert abs(start - 1.0) < 0.15 and abs(end - (1.0 + len(speech) / SR)) < 0.3
    assert len(result.end_of_turn) == 1 and result.end_of_turn[0] > end
    card = json.loads(SHIPPED_MODEL.with_name("vad_dfsmn.card.json").read_text())
    assert card["parameters"] == 108_226 and "command" in card["training"]
    assert SemanticVad().echo_aware  # the shipped model reads the echo estimate
