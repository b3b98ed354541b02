"""TTS training: teacher set, preprocessing, loss falls, CLI train → resume → export, QAT → int8 voice."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from models.tts.vits import Vits, size_config
from tests.conftest import TINY_VITS
from training.tts.config import load_tts_config
from training.tts.data import DatasetError, load_utterances, prepare_features, read_metadata
from training.tts.discriminators import Discriminator
from training.tts.teacher import build_teacher
from training.tts.train import collate, optimisers, train_step

TINY = TINY_VITS


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher")
    build_teacher(out, limit=4, workers=1, progress=False)
    return out


def test_teacher_set_is_ljspeech_style(teacher: Path) -> None:
    rows = read_metadata(teacher)
    assert len(rows) == 4
    for name, text in rows:
        assert (teacher / "wavs" / f"{name}.wav").exists() and text.endswith(("।", "?", "!"))


def test_preprocessing_trims_and_maps_text(teacher: Path, tmp_path: Path) -> None:
    assert prepare_features(teacher, tmp_path, workers=1, progress=False) == []
    utts = load_utterances(tmp_path, 0.0, "train")
    assert len(utts) == 4 and load_utterances(tmp_path, 0.0, "valid") == []
    from audio_io.wav import read_wav

    for u in utts:
        assert len(u.ids) == len(u.text) and np.abs(u.audio).max() > 0.9
        source = read_wav(teacher / "wavs" / f"{u.uid}.wav", 22050)
        assert len(u.audio) < len(source) - 0.05 * 22050  # espeak-ng's trailing silence trimmed


def test_bad_metadata_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        read_metadata(tmp_path)
    (tmp_path / "metadata.csv").write_text("no separator here\n")
    with pytest.raises(DatasetError, match="file\\|text"):
        read_metadata(tmp_path)


def test_loss_falls_on_a_fixed_batch(teacher: Path, tmp_path: Path) -> None:
    prepare_features(teacher, tmp_path, workers=1, progress=False)
    batch = collate(load_utterances(tmp_path, 0.0, "train")[:2])
    torch.manual_seed(0)
    cfg = load_tts_config(None, ["train.segment_frames=16"])
    model, disc = Vits(size_config("small", **TINY)), Discriminator(0.1)
    opt_g, opt_d = optimisers(model, disc, cfg, 2e-3)
    losses = [train_step(model, disc, opt_g, opt_d, batch, cfg) for _ in range(12)]
    assert all(np.isfinite(v) for row in losses for v in row.values())
    first = np.mean([r["mel"] + r["kl"] for r in losses[:3]])
    last = np.mean([r["mel"] + r["kl"] for r in losses[-3:]])
    assert last < first


def test_cli_train_resume_export_and_qat(teacher: Path, tmp_path: Path) -> None:
    from models.tts.voice import Voice
    from training.tts.__main__ import main

    common = [f"--set=data.dataset={teacher}", f"--set=data.features_dir={tmp_path / 'feat'}",
              f"--set=train.out_dir={tmp_path / 'run'}", "--set=train.batch=2", "--set=train.segment_frames=8",
              "--set=train.checkpoint_every=2", "--set=data.valid_fraction=0.0", "--set=data.workers=1",
              "--set=model.discriminator_width=0.1", "--no-progress"]
    assert main([*common, "--set=train.steps=2"]) == 0
    ckpt = tmp_path / "run" / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["step"] == 2
    assert main([*common, "--set=train.steps=3"]) == 0  # resumes at step 2
    assert torch.load(ckpt, weights_only=True)["step"] == 3
    log_steps = [int(r.split(",")[0]) for r in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert log_steps == [2, 3]  # the row written after step 2 survives the resume, none is repeated
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["step_000002.wav", "step_000003.wav"]
    voice = Voice.load(tmp_path / "run" / "voice.onnx")
    assert voice.synthesize_all("আমি ভালো আছি।").size > 0

    scores = tmp_path / "scores.json"
    assert main(["evaluate", *common, "--set=data.valid_fraction=0.5", "--voice", str(tmp_path / "run" / "voice.onnx"),
                 "--limit", "1", "--json", str(scores)]) == 0
    import json

    result = json.loads(scores.read_text(encoding="utf-8"))
    assert result["utterances"] == 1 and result["mcd_db"] > 0 and 0 <= result["cer_reference"] <= result["cer"] + 1
    assert main(["evaluate", *common, "--voice", str(tmp_path / "run" / "voice.onnx")]) == 1  # no held-out set

    out = tmp_path / "exported.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert main(["export", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)]) == 1

    assert main(["qat", *common, "--checkpoint", str(ckpt), "--set=qat.steps=2",
                 f"--set=qat.out_dir={tmp_path / 'qat'}"]) == 0
    int8 = tmp_path / "qat" / "voice_int8.onnx"
    import onnx

    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # The decoder's weights are stored as int8 (not float + QuantizeLinear): a smaller file than the float voice.
    assert any(t.data_type == onnx.TensorProto.INT8 for t in onnx.load(str(int8)).graph.initializer)
    assert int8.stat().st_size < out.stat().st_size
    from models.tts.vits.export import max_difference
    from training.tts.qat import load_qat_generator

    assert max_difference(load_qat_generator(tmp_path / "qat" / "checkpoint.pt", "decoder"), int8) < 0.05
    assert Voice.load(int8).synthesize_all("আমি ভালো আছি।").size > 0


def test_random_bucket_batches_cover_every_utterance() -> None:
    from training.tts.data import Utterance
    from training.tts.train import batches

    utts = [Utterance(str(i), np.zeros(1000 * (i + 1), np.float32), np.ones(3, np.int64), "ক") for i in range(10)]
    groups = batches(utts, 3, random.Random(0))
    assert sorted(u.uid for g in groups for u in g) == sorted(u.uid for u in utts)
