"""RES training: scenes (the X_laec identity), losses, a short training run, resume and export."""

import csv
import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from audio_io.speech_synth import SynthVoice, synthesize
from models.aec.laec import PbfdkfEchoCanceller
from models.aec.metrics import pesq_wb
from models.aec.res.runtime import ResidualEchoSuppressor
from training.data.corpus import CorpusSpec, build_corpus
from training.res import scenes
from training.res.__main__ import main as res_main
from training.res.data import SceneCrops, istft, list_scenes, stft
from training.res.losses import ModulationLoss, PmsqeLoss, snr_loss
from training.res.scenes import STREAMS, build_scenes, device_profiles, load_utterances, make_scene

SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("res_corpus")
    build_corpus(CorpusSpec(out=str(out), num=24, seed=5, rates=(16000,)), workers=2, progress=False)
    return out


def test_device_profiles_are_many_and_distinct():
    profiles = device_profiles()
    assert len(profiles) >= 100
    assert len({(p.speaker_band_hz, p.mic_band_hz) for p in profiles}) == len(profiles)
    assert 0.5 < np.mean([p.nonlinearity for p in profiles]) < 0.9
    assert device_profiles(seed=1)[0] != profiles[0]  # held-out devices


def test_laec_output_splits_exactly_into_near_end_and_residual(corpus, monkeypatch):
    """X_laec = near + noise + R_laec, where R_laec is the *same* filter trajectory applied to the echo alone."""
    trajectory = []  # the taps and the aligned reference block the scene's LAEC filtered each block with

    class RecordingChain(scenes.EchoCanceller):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            filter_block = self.laec.filter

            def recording_filter(m, r):
                trajectory.append((self.laec._W.copy(), r.copy()))
                return filter_block(m, r)

            self.laec.filter = recording_filter

    monkeypatch.setattr(scenes, "EchoCanceller", RecordingChain)
    utts = load_utterances(corpus, "train")
    streams, meta = make_scene(3, utts, device_profiles(), seconds=4.0,
                               room_overrides={"noise": "pink", "snr_db": 20.0})
    mic, ref, e, near, noise = (streams[k].astype(np.float64) for k in STREAMS)
    echo = mic - near - noise
    assert len(trajectory) == len(mic) // 320
    laec, shadow = PbfdkfEchoCanceller(), PbfdkfEchoCanceller()
    e_mix, e_echo = np.zeros_like(mic), np.zeros_like(mic)
    for (taps, r), i in zip(trajectory, range(0, len(mic), 320), strict=True):
        assert np.max(np.abs(r - ref[i : i + 320])) < 1e-6  # the stored reference is what the LAEC saw
        laec._W, shadow._W = taps.copy(), taps.copy()
        e_mix[i : i + 320], _ = laec.filter(mic[i : i + 320], r)
        e_echo[i : i + 320], _ = shadow.filter(echo[i : i + 320], r)
    assert np.max(np.abs(e_mix - e)) < 1e-5  # the stored X_laec is the LAEC's output on this reference
    assert np.max(np.abs(e_mix - (near + noise + e_echo))) < 1e-9
    residual = e - near - noise
    assert np.max(np.abs(residual - e_echo)) < 1e-5
    # ... and in the STFT domain the RES sees: X_laec = STFT(near + noise) + R_laec.
    X = stft(torch.from_numpy(e[None]))
    parts = stft(torch.from_numpy((near + noise)[None])) + stft(torch.from_numpy(e_echo[None]))
    assert torch.allclose(X, parts, atol=1e-4)
    assert meta["kind"] in ("double", "far_only", "near_only")


def test_scene_crops_shift_the_reference_ahead(tmp_path):
    data = np.stack([(np.arange(6400) + 10000 * k) * 1e-6 for k in range(5)]).astype(np.float32)
    np.save(tmp_path / "0000001.npy", data)
    (tmp_path / "0000001.json").write_text("{}")
    crops = SceneCrops(list_scenes(tmp_path), 1600, ref_shift_max=320, seed=1)
    shifts = set()
    for i in range(20):
        c = crops[i].astype(np.float64) / 1e-6
        assert c.shape == (5, 1600)
        shift = round(c[1, 0] - 10000 - c[0, 0])
        assert 0 <= shift <= 320
        shifts.add(shift)
    assert len(shifts) > 5


def test_scene_crops_turn_loud_captures_down_linearly(tmp_path, rng):
    near, noise, res = (rng.standard_normal(3200) for _ in range(3))
    ref = 0.5 * rng.standard_normal(3200)
    e = near + noise + res
    mic = e + 3 * rng.standard_normal(3200)
    np.save(tmp_path / "0000001.npy", np.stack([mic, ref, e, near, noise]).astype(np.float32))
    (tmp_path / "0000001.json").write_text("{}")
    c = SceneCrops(list_scenes(tmp_path), 3200)[0].astype(np.float64)
    assert np.abs(c[0]).max() == pytest.approx(0.99, abs=1e-6)
    assert np.allclose(c[1], ref, atol=1e-6)  # the reference (what was played) is untouched
    g = c[3, 0] / near[0]
    assert np.allclose(c[2] - c[3] - c[4], g * res, atol=1e-5)


def test_istft_inverts_stft():
    x = torch.randn(2, 6400)
    assert torch.allclose(istft(stft(x))[:, :-320], x[:, :-320], atol=1e-5)


@pytest.fixture(scope="module")
def speech():
    x = synthesize("আমি আজ বাজারে যাব, তারপর বাড়ি ফিরে রান্না করব।", SynthVoice("espeak-ng", "bn", "bn", 160, 50))
    return x.astype(np.float64) / np.abs(x).max() * 0.5


def test_losses_are_zero_for_identical_inputs_and_grow_with_distortion(speech):
    rng = np.random.default_rng(0)
    clean = torch.tensor(speech, dtype=torch.float32)[None]
    pm, mod = PmsqeLoss(), ModulationLoss()
    assert pm(clean, clean).item() < 1e-4
    assert mod(clean, clean).item() == pytest.approx(0.0, abs=1e-6)
    assert snr_loss(clean, clean).item() == pytest.approx(-60.0)
    noise = torch.tensor(rng.standard_normal(speech.size), dtype=torch.float32)[None]
    noise *= clean.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt()
    values = {"pmsqe": [], "mod": [], "snr": []}
    for snr_db in (30, 20, 10, 0):
        noisy = clean + noise * 10 ** (-snr_db / 20)
        values["pmsqe"].append(pm(noisy, clean).item())
        values["mod"].append(mod(noisy, clean).item())
        values["snr"].append(snr_loss(noisy, clean).item())
    for name, v in values.items():
        assert all(a < b for a, b in zip(v, v[1:], strict=False)), (name, v)
    assert values["snr"][0] == pytest.approx(-30, abs=0.5)


def test_pmsqe_ranks_like_pesq(speech):
    """Spearman rank correlation between PMSQE and wide-band PESQ over 50 degraded signals: ≤ −0.8."""
    import scipy.signal

    rng = np.random.default_rng(1)
    other = synthesize("তুমি কাল কখন আসবে? আমি অপেক্ষা করব।", SynthVoice("espeak-ng", "bn+f3", "bn", 170, 60))
    other = np.resize(other.astype(np.float64), speech.size)
    pm = PmsqeLoss()
    pesqs, losses = [], []
    for i in range(50):
        kind, level = i % 5, rng.uniform(0, 1)
        x = speech
        if kind == 0:  # white noise, SNR 0-35 dB
            y = x + np.sqrt(np.mean(x**2) * 10 ** (-35 * level / 10)) * rng.standard_normal(x.size)
        elif kind == 1:  # residual-echo-like interfering speech, SER -5-25 dB
            y = x + other * np.sqrt(np.mean(x**2) / np.mean(other**2) * 10 ** (-(30 * level - 5) / 10))
        elif kind == 2:  # clipping 3-25 dB below the peak
            c = np.abs(x).max() * 10 ** (-(3 + 22 * level) / 20)
            y = np.clip(x, -c, c)
        elif kind == 3:  # low-pass 1-6 kHz
            b, a = scipy.signal.butter(4, 1000 + 5000 * level, fs=SR)
            y = scipy.signal.lfilter(b, a, x)
        else:  # random spectral gains (musical-noise-like mask errors)
            _, _, z = scipy.signal.stft(x, SR, nperseg=512)
            z = z * np.clip(1 + 1.5 * level * rng.standard_normal(z.shape), 0, None)
            y = scipy.signal.istft(z, SR, nperseg=512)[1][: x.size]
        pesqs.append(pesq_wb(x, y))
        losses.append(pm(torch.tensor(y, dtype=torch.float32)[None], torch.tensor(x, dtype=torch.float32)[None]).item())
    rho = spearmanr(pesqs, losses)[0]
    print(f"PMSQE vs PESQ Spearman rho = {rho:.3f}")
    assert rho <= -0.8, rho


def test_short_training_run_learns_resumes_and_exports(corpus, tmp_path):
    scenes = tmp_path / "scenes"
    build_scenes(scenes / "train", corpus, "train", 3, 0, 0, 3.0, workers=1, progress=False)
    build_scenes(scenes / "valid", corpus, "valid", 3, 10**6, 1, 3.0, workers=1, progress=False)
    run = tmp_path / "run"
    common = [f"data.corpus_dir={corpus}", f"data.train_dir={scenes / 'train'}", f"data.valid_dir={scenes / 'valid'}",
              "data.train_scenes=3", "data.valid_scenes=3", "data.scene_s=3", "data.workers=1",
              f"train.out_dir={run}", "train.batch=3", "train.crop_s=2", "train.lr=0.003", "train.lr_final=0.003",
              "train.valid_every=40", "train.checkpoint_every=20", "train.log_every=1", "train.loader_workers=0"]
    args = [a for c in common for a in ("--set", c)]
    assert res_main([*args, "--set", "train.steps=40", "--no-progress"]) == 0
    rows = list(csv.DictReader((run / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 40
    assert np.mean(losses[-8:]) < np.mean(losses[:8]) - 0.5, losses
    valid = [json.loads(line) for line in (run / "valid.jsonl").open()]
    assert valid[-1]["step"] == 40 and set(valid[-1]) >= {"erle_db", "pesq", "stoi"}
    assert np.isfinite(valid[-1]["pesq"]) or np.isfinite(valid[-1]["erle_db"])
    assert (run / "curves.png").stat().st_size > 1000
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 40
    # Resume: continues from step 40 instead of starting over.
    assert res_main([*args, "--set", "train.steps=44", "--no-progress"]) == 0
    assert len(list(csv.DictReader((run / "log.csv").open()))) == 44
    # The exported model runs in the runtime.
    rt = ResidualEchoSuppressor(run / "res_dfsmn.onnx")
    m_x, m_r = rt.process(*(np.ones(321, complex) for _ in range(3)))
    assert m_x.shape == (321,) and np.isfinite(m_r).all()


def test_bad_training_config_is_a_clear_error(capsys):
    assert res_main(["--set", "train.stepz=3"]) == 2
    assert "did you mean 'steps'" in capsys.readouterr().err
