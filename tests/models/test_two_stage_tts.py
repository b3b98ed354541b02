"""The two-stage TTS: AlignTTS's alignment, shapes, the vocoders, ONNX parity, and the two-stage Voice runtime."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.tts.aligntts import AlignTts, size_config
from models.tts.aligntts.alignment import best_durations, forward_log_likelihood, gaussian_log_likelihood
from models.tts.aligntts.export import export_acoustic
from models.tts.aligntts.export import max_difference as acoustic_difference
from models.tts.vocoders import size_config as vocoder_size
from models.tts.vocoders import vocoder_from_config
from models.tts.vocoders.export import export_vocoder
from models.tts.vocoders.export import max_difference as vocoder_difference
from models.tts.vocoders.univnet import location_variable_conv
from models.tts.voice import Voice, VoiceError

TINY = {"hidden": 32, "filter_channels": 64, "encoder_layers": 1, "decoder_layers": 1, "dp_channels": 32,
        "mdn_hidden": 32}


def _synthetic(durations: list[int], dims: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mel frames drawn around one mean per character, held for the given durations: (mel, mu, log_sigma)."""
    g = torch.Generator().manual_seed(seed)
    mu = 3 * torch.randn(len(durations), dims, generator=g)
    frames = torch.cat([mu[i].repeat(d, 1) for i, d in enumerate(durations)])
    mel = (frames + 0.3 * torch.randn(frames.shape, generator=g)).T.unsqueeze(0)
    return mel, mu.unsqueeze(0), torch.full((1, len(durations), dims), math.log(0.3))


def test_alignment_recovers_known_durations() -> None:
    durations = [3, 1, 5, 2, 7, 4, 1, 6]
    mel, mu, log_sigma = _synthetic(durations)
    loglik = gaussian_log_likelihood(mel, mu, log_sigma)
    assert loglik.shape == (1, sum(durations), len(durations))
    got = best_durations(loglik, torch.tensor([sum(durations)]), torch.tensor([len(durations)]))
    assert got[0].tolist() == durations


def test_forward_algorithm_sums_every_monotonic_alignment() -> None:
    """Brute force over all alignments of 6 frames to 3 characters (each at least one frame)."""
    mel, mu, log_sigma = _synthetic([2, 1, 3], seed=3)
    mu = mu + 0.5 * torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))  # not a perfect fit
    loglik = gaussian_log_likelihood(mel, mu, log_sigma)[0]
    terms = []
    for cuts in itertools.combinations(range(1, 6), 2):
        bounds = [0, *cuts, 6]
        terms.append(sum(loglik[j, i] for i in range(3) for j in range(bounds[i], bounds[i + 1])))
    want = torch.logsumexp(torch.stack(terms), 0)
    got = forward_log_likelihood(loglik.unsqueeze(0), torch.tensor([6]), torch.tensor([3]))
    assert torch.allclose(got[0], want, atol=1e-3)
    # padding: the same item padded to 9 frames and 5 characters gives the same value
    padded = F.pad(loglik, (0, 2, 0, 3), value=-3.0).unsqueeze(0)
    assert torch.allclose(forward_log_likelihood(padded, torch.tensor([6]), torch.tensor([3]))[0], want, atol=1e-3)


def test_gaussian_log_likelihood_matches_torch_distributions() -> None:
    mel, mu, log_sigma = _synthetic([2, 3], dims=4)
    log_sigma = log_sigma + 0.2 * torch.randn(log_sigma.shape)
    got = gaussian_log_likelihood(mel, mu, log_sigma)[0]
    normal = torch.distributions.Normal(mu[0].unsqueeze(0), torch.exp(log_sigma[0]).unsqueeze(0))
    want = normal.log_prob(mel[0].T.unsqueeze(1)).sum(-1)
    assert torch.allclose(got, want, atol=1e-4)


def test_aligntts_shapes_and_length_scale() -> None:
    torch.manual_seed(0)
    model = AlignTts(size_config("small", **TINY))
    ids, lengths = torch.randint(1, 80, (2, 12)), torch.tensor([12, 9])
    mel, frames = torch.randn(2, 80, 40), torch.tensor([40, 30])
    out = model(ids, lengths, mel, frames)
    assert out["mel"].shape == (2, 80, 40)
    assert out["durations"].sum(1).tolist() == [40, 30]
    assert (out["durations"][1, 9:] == 0).all() and (out["durations"][1, :9] >= 1).all()
    assert torch.all(out["mel"][1, :, 30:] == 0)  # padding frames masked
    model.eval()
    short = model.infer(ids[:1], lengths[:1], 1.0)
    slow = model.infer(ids[:1], lengths[:1], 2.0)
    assert short.shape[:2] == (1, 80) and slow.shape[2] >= 2 * short.shape[2] - 12


def test_location_variable_conv_is_a_per_frame_convolution() -> None:
    torch.manual_seed(0)
    b, c_in, c_out, k, frames, hop = 2, 3, 4, 3, 5, 8
    x = torch.randn(b, c_in, frames * hop)
    kernels, bias = torch.randn(b, c_in, c_out, k, frames), torch.randn(b, c_out, frames)
    got = location_variable_conv(x, kernels, bias)
    xp = F.pad(x, (1, 1))
    for i in range(b):
        for f in range(frames):
            seg = xp[i : i + 1, :, f * hop : (f + 1) * hop + 2]
            want = F.conv1d(seg, kernels[i, :, :, :, f].permute(1, 0, 2), bias[i, :, f])
            assert torch.allclose(got[i : i + 1, :, f * hop : (f + 1) * hop], want, atol=1e-5)


@pytest.mark.parametrize("kind", ["hifigan", "univnet"])
def test_vocoder_shapes(kind: str) -> None:
    torch.manual_seed(0)
    model = vocoder_from_config(vocoder_size(kind, "small"))
    audio = model(torch.randn(2, 80, 7))
    assert audio.shape == (2, 1, 7 * 256) and audio.abs().max() <= 1


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight AlignTTS with both vocoders next to it, exported as the runtime loads them."""
    folder = tmp_path_factory.mktemp("two_stage")
    torch.manual_seed(0)
    acoustic = AlignTts(size_config("small", **TINY))
    export_acoustic(acoustic, folder / "acoustic.onnx", {"random_weights": True}, vocoder="hifigan.onnx")
    assert acoustic_difference(acoustic, folder / "acoustic.onnx") < 1e-4
    for kind in ("hifigan", "univnet"):
        model = vocoder_from_config(vocoder_size(kind, "small"))
        export_vocoder(model, folder / f"{kind}.onnx")
        assert vocoder_difference(model, folder / f"{kind}.onnx") < 1e-4
    return folder


def test_two_stage_voice_speaks_through_the_voice_interface(two_stage: Path) -> None:
    voice = Voice.load(two_stage / "acoustic.onnx")
    assert voice.vocoder.kind == "hifigan" and voice.sample_rate == 22050
    chunks = list(voice.synthesize("আমি ভালো আছি। তুমি কেমন আছ?"))
    assert len(chunks) == 2 and all(c.dtype == np.float32 and c.size > 256 for c in chunks)
    ids = voice.frontend.ids("আমি ভালো আছি।")
    audio = voice.synthesize_ids(ids)
    mel = voice.session.run(None, {"input": np.asarray([ids]), "input_lengths": np.asarray([len(ids)]),
                                   "scales": np.asarray([0.0, 1.0, 0.0], dtype=np.float32)})[0]
    assert audio.size == mel.shape[2] * 256
    slow = voice.synthesize_ids(ids, voice.settings(length_scale=2.0))
    assert slow.size > 1.5 * audio.size
    other = Voice.load(f"project:{two_stage / 'acoustic.onnx'}", vocoder=two_stage / "univnet.onnx")
    assert other.vocoder.kind == "univnet" and other.synthesize_all("আমি ভালো আছি।").size > 0
    # UnivNet's noise comes from a seeded generator: a fresh load says the same thing the same way
    again = Voice.load(two_stage / "acoustic.onnx", vocoder=two_stage / "univnet.onnx")
    assert np.array_equal(again.synthesize_ids(ids), Voice.load(two_stage / "acoustic.onnx",
                                                                vocoder=two_stage / "univnet.onnx").synthesize_ids(ids))


def test_two_stage_errors_are_clear(two_stage: Path, tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="is a vocoder, not a voice"):
        Voice.load(two_stage / "hifigan.onnx")
    with pytest.raises(VoiceError, match="not found"):
        Voice.load(two_stage / "acoustic.onnx", vocoder=tmp_path / "missing.onnx")
    with pytest.raises(VoiceError, match="not a vocoder"):
        Voice.load(two_stage / "acoustic.onnx", vocoder=two_stage / "acoustic.onnx")
    # a vocoder made for other mel settings does not fit
    desc = json.loads((two_stage / "univnet.onnx.json").read_text())
    desc["vocoder"]["n_mels"] = 100
    (tmp_path / "odd.onnx").write_bytes((two_stage / "univnet.onnx").read_bytes())
    (tmp_path / "odd.onnx.json").write_text(json.dumps(desc))
    with pytest.raises(VoiceError, match="n_mels: 80 vs 100"):
        Voice.load(two_stage / "acoustic.onnx", vocoder=tmp_path / "odd.onnx")
    # the default vocoder is missing next to a copied acoustic model
    for suffix in (".onnx", ".onnx.json"):
        (tmp_path / f"alone{suffix}").write_bytes((two_stage / f"acoustic{suffix}").read_bytes())
    with pytest.raises(VoiceError, match="hifigan.onnx"):
        Voice.load(tmp_path / "alone.onnx")


def test_agent_say_and_the_agent_engine_use_a_two_stage_voice(two_stage: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    """`agent say --voice ACOUSTIC --vocoder V` and the conversation's speech engine (tts.voice + tts.vocoder)."""
    import soundfile as sf

    from agent.__main__ import main
    from agent.config import load_config
    from agent.speech_out import build_engine

    out = tmp_path / "two.wav"
    assert main(["say", "আমি ভালো আছি।", "--voice", str(two_stage / "acoustic.onnx"), "--vocoder",
                 str(two_stage / "univnet.onnx"), "--out", str(out)]) == 0
    audio, rate = sf.read(out)
    assert rate == 22050 and len(audio) > 256 and "first audio after" in capsys.readouterr().out
    assert main(["say", "আমি ভালো আছি।", "--voice", str(two_stage / "acoustic.onnx"), "--vocoder",
                 str(two_stage / "nothing.onnx"), "--out", str(out)]) == 1
    assert "vocoder model not found" in capsys.readouterr().err
    cfg = load_config(None, [f"tts.voice={two_stage / 'acoustic.onnx'}", f"tts.vocoder={two_stage / 'hifigan.onnx'}",
                             "tts.engine=vits"])
    engine = build_engine(cfg.tts)
    chunks = list(engine.stream("আমি ভালো আছি। তুমি কেমন আছ?"))
    assert len(chunks) == 2 and all(c.size > 0 for c in chunks)


def test_shipped_two_stage_models_match_their_card_and_are_understood() -> None:
    """The shipped AlignTTS + HiFi-GAN / UnivNet: the card describes exactly these files (sha256) with the commands
    and measured metrics, they are small, and the shipped ASR understands a sentence they speak far better than
    chance."""
    import hashlib

    from audio_io.resample import resample
    from models.asr.metrics import error_rate
    from models.asr.paraformer import SHIPPED_MODEL, ParaformerRecognizer
    from models.asr.tokens import normalize_transcript
    from models.tts.voice import WEIGHTS

    card = json.loads((WEIGHTS / "tts_bn_two_stage.card.json").read_text(encoding="utf-8"))
    for name, digest in card["sha256"].items():
        assert hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest() == digest
    assert sum((WEIGHTS / name).stat().st_size for name in card["sha256"]) < 40e6
    assert all(card["training"][k]["command"].startswith("python -m training.tts") for k in ("aligntts", "hifigan", "univnet"))
    assert card["metrics"]["comparison"]["utterances"] == 49
    recognizer = ParaformerRecognizer(SHIPPED_MODEL)
    text = "আপনার বাড়ি কোথায়?"
    for vocoder, kind in ((None, "hifigan"), (WEIGHTS / "tts_bn_univnet.onnx", "univnet")):
        voice = Voice.load(WEIGHTS / "tts_bn_aligntts.onnx", vocoder=vocoder)
        assert voice.vocoder.kind == kind
        audio = voice.synthesize_all(text)
        assert 0.6 < audio.shape[0] / voice.sample_rate < 3.0  # a short question, not silence or babble
        heard = recognizer.transcribe(np.concatenate([np.zeros(4000, np.float32), resample(audio, voice.sample_rate, 16000),
                                                      np.zeros(8000, np.float32)]))
        # 0.50 (HiFi-GAN) and 0.64 (UnivNet) here, the same on every run (no sampling in AlignTTS, UnivNet's noise
        # seeded); chance is about 1
        assert error_rate([(normalize_transcript(text), heard)], "bn") < 0.7, (kind, heard)
