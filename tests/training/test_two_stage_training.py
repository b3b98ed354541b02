"""Two-stage TTS training: AlignTTS and both vocoders learn on a fixed batch, and the CLI trains, resumes, exports
(ONNX matching torch) and chains the exports into a voice."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from models.tts.aligntts import AlignTts, size_config
from models.tts.vocoders import size_config as vocoder_size
from models.tts.vocoders import vocoder_from_config
from tests.models.test_two_stage_tts import TINY
from training.tts.aligntts_train import losses, mel_batch, usable
from training.tts.config import load_aligntts_config, load_vocoder_config
from training.tts.data import load_utterances, prepare_features
from training.tts.discriminators import Discriminator
from training.tts.teacher import build_teacher
from training.tts.vocoder_train import segments, step_losses


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    teacher = tmp_path_factory.mktemp("teacher")
    build_teacher(teacher, limit=3, workers=1, progress=False)
    feats = tmp_path_factory.mktemp("features")
    prepare_features(teacher, feats, workers=1, progress=False)
    return teacher, feats


def test_aligntts_loss_falls_on_a_fixed_batch(features: tuple[Path, Path]) -> None:
    utts = usable(load_utterances(features[1], 0.0, "train"))
    assert len(utts) == 3
    batch = mel_batch(utts)
    torch.manual_seed(0)
    cfg = load_aligntts_config(None)
    model = AlignTts(size_config("small", **TINY))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    history = []
    for step in range(16):
        parts = losses(model, batch, step >= 8, cfg)
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in parts.items()})
    assert history[7]["align"] < history[0]["align"]  # phase 1: the alignment loss falls
    assert history[-1]["mel"] < history[8]["mel"]  # phase 2: the decoder learns the mels


@pytest.mark.parametrize("kind", ["hifigan", "univnet"])
def test_vocoder_loss_falls_on_a_fixed_batch(features: tuple[Path, Path], kind: str) -> None:
    utts = load_utterances(features[1], 0.0, "train")
    torch.manual_seed(0)
    mel, real = segments(utts, 8, random.Random(0), None)
    assert mel.shape == (3, 80, 8) and real.shape == (3, 1, 8 * 256)
    cfg = load_vocoder_config(None, [f"model.kind={kind}"])
    model, disc = vocoder_from_config(vocoder_size(kind, "small")), Discriminator(0.1, kind)
    opt_g = torch.optim.AdamW(model.parameters(), 1e-3, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), 1e-3, betas=(0.8, 0.99))
    rows = [step_losses(model, disc, opt_g, opt_d, mel, real, cfg, adversarial=i >= 10) for i in range(12)]
    assert all(np.isfinite(v) for r in rows for v in r.values())
    assert np.mean([r["mel"] for r in rows[-3:]]) < np.mean([r["mel"] for r in rows[:3]])
    assert rows[-1]["loss_d"] > 0 and rows[0]["loss_d"] == 0  # the discriminators join at adversarial_from


def test_cli_trains_resumes_exports_and_chains_the_stages(features: tuple[Path, Path], tmp_path: Path) -> None:
    from models.tts.voice import Voice
    from training.tts.__main__ import main

    teacher, feats = features
    data = [f"--set=data.dataset={teacher}", f"--set=data.features_dir={feats}", "--set=data.valid_fraction=0.0",
            "--set=data.workers=1", "--no-progress", "--set=train.batch=2", "--set=train.checkpoint_every=2"]
    acoustic = ["aligntts", *data, f"--set=train.out_dir={tmp_path / 'aligntts'}", "--set=train.align_steps=1"]
    assert main([*acoustic, "--set=train.steps=2"]) == 0
    assert main([*acoustic, "--set=train.steps=3"]) == 0  # resumes at step 2
    ckpt = tmp_path / "aligntts" / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["step"] == 3
    rows = [int(r.split(",")[0]) for r in (tmp_path / "aligntts" / "log.csv").read_text().splitlines()[1:]]
    assert rows == [2, 3]
    for kind in ("hifigan", "univnet"):
        vocoder = ["vocoder", *data, f"--set=model.kind={kind}", f"--set=train.out_dir={tmp_path / '{kind}'}",
                   "--set=train.segment_frames=8", "--set=model.discriminator_width=0.1",
                   "--set=train.adversarial_from=1", "--set=train.steps=2"]
        assert main(vocoder) == 0
        assert (tmp_path / kind / "samples" / "step_000002.wav").exists()
        assert (tmp_path / kind / f"{kind}.onnx").exists()
    # fine-tuning on AlignTTS output: one more step from the acoustic checkpoint's mels
    assert main(["vocoder", *data, f"--set=train.out_dir={tmp_path / 'hifigan'}", "--set=train.segment_frames=8",
                 "--set=model.discriminator_width=0.1", "--set=train.steps=3",
                 f"--set=train.acoustic_checkpoint={ckpt}"]) == 0
    out = tmp_path / "voice" / "aligntts.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out), "--vocoder", "hifigan.onnx"]) == 0
    assert main(["export", "--checkpoint", str(tmp_path / "univnet" / "checkpoint.pt"),
                 "--out", str(tmp_path / "voice" / "univnet.onnx")]) == 0
    (tmp_path / "voice" / "hifigan.onnx").write_bytes((tmp_path / "hifigan" / "hifigan.onnx").read_bytes())
    (tmp_path / "voice" / "hifigan.onnx.json").write_bytes((tmp_path / "hifigan" / "hifigan.onnx.json").read_bytes())
    assert Voice.load(out).synthesize_all("আমি ভালো আছি।").size > 0
    assert Voice.load(out, vocoder=tmp_path / "voice" / "univnet.onnx").synthesize_all("আমি ভালো আছি।").size > 0
    import json

    scores = tmp_path / "copy.json"
    assert main(["evaluate", *data, "--set=data.valid_fraction=0.5", "--vocoder", str(tmp_path / "voice" / "hifigan.onnx"),
                 "--limit", "1", "--no-asr", "--json", str(scores)]) == 0  # copy synthesis through the vocoder alone
    result = json.loads(scores.read_text(encoding="utf-8"))
    assert result["utterances"] == 1 and result["mcd_db"] > 0 and result["cer"] is None
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["export", "--checkpoint", str(bad), "--out", str(tmp_path / "x.onnx")]) == 1


def test_loss_log_averages_between_writes_and_refuses_non_finite_losses(tmp_path: Path) -> None:
    from training.common.loop import LossLog

    log = LossLog(tmp_path, ("a", "b", "lr"), resumed=False)
    log.add({"a": 1.0, "b": 4.0}, 0)
    log.add({"a": 3.0, "b": 2.0}, 1)
    assert log.write(2, lr=0.5) == {"a": 2.0, "b": 3.0, "lr": 0.5}
    log.add({"a": 5.0}, 2)
    log.write(3)
    assert (tmp_path / "log.csv").read_text().splitlines() == ["step,a,b,lr", "2,2,3,0.5", "3,5,0,0"]
    with pytest.raises(FloatingPointError, match="step 7"):
        log.add({"a": float("nan")}, 7)
    LossLog(tmp_path, ("a",), resumed=True)  # a resumed run keeps the rows
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3
