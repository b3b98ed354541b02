"""VAD training data (turns, labels, examples) and a training smoke run through the command line."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from models.vad.features import file_features
from training.vad.examples import check_recipe, delay_jumps, example_res_model, frame_labels, kind_shares
from training.vad.train import change_level
from training.vad.turns import build_turn, split_clauses

SR = 16000


def test_split_clauses_keeps_punctuation_and_ends_sentences() -> None:
    rng = random.Random(0)
    assert split_clauses("আমি ভাবছিলাম, মানে, কাল যাব।", rng, "bn") == ["আমি ভাবছিলাম,", "মানে,", "কাল যাব।"]
    assert split_clauses("We will go, then eat", rng, "en") == ["We will go,", "then eat."]
    # a sentence without commas is sometimes cut at a word (a hesitation), never at its first or last word
    cuts = [split_clauses("one two three four five six", random.Random(i), "en") for i in range(40)]
    hesitations = [c for c in cuts if len(c) == 2]
    assert 0 < len(hesitations) < 40
    for first, second in hesitations:
        assert first.endswith(",") and second.endswith(".") and len(first.split()) >= 2 and len(second.split()) >= 1


def test_turn_boundaries_match_the_audio(tmp_path: Path) -> None:
    from audio_io.wav import read_wav

    rec = None
    for index in range(20):  # find a turn with a pause inside a sentence
        rec = build_turn(tmp_path, "valid", index)
        if rec["clause_pauses"]:
            break
    assert rec is not None and rec["clause_pauses"]
    audio = read_wav(tmp_path / rec["file"], SR)
    assert abs(len(audio) / SR - rec["duration_s"]) < 1e-3

    def rms(a: float, b: float) -> float:
        seg = audio[int(a * SR) : int(b * SR)]
        return float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0

    for a, b in rec["speech"]:
        assert rms(a, b) > 0.01
    for a, b in rec["clause_pauses"] + rec["sentence_gaps"]:
        assert rms(a + 0.005, b - 0.005) == 0.0
        assert 0.14 <= b - a <= 0.71
    assert rec["end_s"] == rec["speech"][-1][1]
    assert rms(rec["end_s"] + 0.005, rec["duration_s"]) == 0.0


def test_frame_labels() -> None:
    turn = {"speech": [[0.5, 1.0], [1.2, 1.6], [2.0, 2.4]], "clause_pauses": [[1.0, 1.2]],
            "sentence_gaps": [[1.6, 2.0]], "end_s": 2.4}
    speech, eot = frame_labels(250, [(SR, turn)])  # placed 1 s in
    f = lambda t: int(round(t * 50))  # noqa: E731  (frames of 20 ms)
    assert speech[f(1.6) : f(2.0)].all() and not speech[f(2.0) : f(2.2)].any()
    assert (eot[: f(1.5)] == -1).all()  # before the turn: ignored
    assert (eot[f(1.5) : f(2.6)] == 0).all()  # speech and the pause inside the sentence: not an end
    assert (eot[f(2.6) : f(3.0)] == -1).all()  # gap between sentences: ignored
    assert (eot[f(3.0) : f(3.4)] == 0).all()
    assert (eot[f(3.4) : f(5.4)] == 1).all() and (eot[f(5.4) :] == -1).all()  # 2 s after the end


def test_recipe_shares_and_delay_jumps(tmp_path: Path) -> None:
    assert kind_shares(0.15) == pytest.approx((0.4, 0.45, 0.15))  # the first recipes
    listen, double, echo_only = kind_shares(0.25)
    assert echo_only == 0.25 and listen + double == pytest.approx(0.75) and listen / double == pytest.approx(40 / 45)
    with pytest.raises(ValueError, match="echo_only_share"):
        kind_shares(1.5)
    assert all(delay_jumps(s, 100.0, 16.0, 0.0) == [] for s in range(50))
    jumps = [delay_jumps(s, 100.0, 16.0, 0.3) for s in range(400)]
    assert 0.2 < sum(map(bool, jumps)) / 400 < 0.4
    for s in range(100):
        (jump,) = delay_jumps(s, 100.0, 16.0, 1.0)
        assert 1.0 <= jump["at_s"] <= 15.0 and 0 <= jump["delay_ms"] <= 400
        assert 30 <= abs(jump["delay_ms"] - 100.0) <= 200
        assert delay_jumps(s, 100.0, 16.0, 1.0) == [jump]  # its own seeded stream
    # a folder keeps its recipe; examples from before recipe.json count as the first recipe
    (tmp_path / "0000000.json").write_text("{}")
    with pytest.raises(ValueError, match="built with"):
        check_recipe(tmp_path, {"echo_only_share": 0.25, "delay_jump_share": 0.3})
    check_recipe(tmp_path, {"echo_only_share": 0.15, "delay_jump_share": 0.0})
    assert json.loads((tmp_path / "recipe.json").read_text())["delay_jump_share"] == 0.0
    # keys added later count as what older folders used: the classical masks and no agent voice
    check_recipe(tmp_path, {"echo_only_share": 0.15, "delay_jump_share": 0.0, "res_model": None,
                            "agent_voice_share": 0.0})
    with pytest.raises(ValueError, match="built with"):
        check_recipe(tmp_path, {"echo_only_share": 0.15, "delay_jump_share": 0.0, "res_model": "shipped"})
    with pytest.raises(ValueError, match="built with"):
        check_recipe(tmp_path, {"echo_only_share": 0.15, "delay_jump_share": 0.0, "agent_voice_share": 0.3})
    with pytest.raises(ValueError, match="built with"):
        check_recipe(tmp_path, {"echo_only_share": 0.15, "delay_jump_share": 0.0, "res_share": 0.5})


def test_res_share_mixes_the_mask_sources_from_its_own_stream() -> None:
    assert all(example_res_model(s, None, 0.5) is None for s in range(50))  # classical: no share applies
    assert all(example_res_model(s, "shipped", 1.0) == "shipped" for s in range(50))  # earlier recipes
    assert all(example_res_model(s, "shipped", 0.0) is None for s in range(50))
    drawn = [example_res_model(s, "x.onnx", 0.5) for s in range(400)]
    assert set(drawn) == {"x.onnx", None} and 0.4 < drawn.count("x.onnx") / 400 < 0.6
    assert drawn == [example_res_model(s, "x.onnx", 0.5) for s in range(400)]  # seeded per example
    with pytest.raises(ValueError, match="res_share"):
        example_res_model(0, "shipped", 1.5)


def test_agent_voice_text_is_never_a_listed_sentence() -> None:
    from training.data.corpus import spoken_sentences
    from training.vad.agent_voice import recombined_sentences

    listed = {" ".join(t.split()) for _, t in spoken_sentences("bn")}
    texts = recombined_sentences(300)
    assert len(texts) == 300 and not set(texts) & listed
    assert all(len(t.split()) >= 2 for t in texts)
    assert recombined_sentences(300) == texts and recombined_sentences(300, seed=1) != texts
    with pytest.raises(ValueError, match="count"):
        recombined_sentences(0)


def test_examples_draw_the_agent_voice_from_their_own_stream(tmp_path: Path) -> None:
    from audio_io.wav import write_wav
    from training.vad.examples import agent_speech, make_example

    turns = [build_turn(tmp_path / "turns", "valid", i) for i in range(3)]
    rng = np.random.default_rng(0)
    own = []
    for i in range(2):  # stand-ins for the agent's voice: tone bursts no turn voice sounds like
        t = np.arange(SR) / SR
        own.append(write_wav(tmp_path / "own" / f"{i}.wav", 0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)
                             * (rng.random(SR) > 0.01), SR))
    utts = agent_speech(turns, tmp_path / "turns")
    common = dict(turns=turns, turn_dir=tmp_path / "turns", agent_utts=utts, seconds=4.0, kind="echo_only")
    a, meta_a = make_example(3, **common)
    b, meta_b = make_example(3, **common, own_voice=own, agent_voice_share=0.0)
    assert np.array_equal(a["far"], b["far"]) and not meta_b["agent_voice"]  # share 0: earlier recipes' examples
    c, meta_c = make_example(3, **common, own_voice=own, agent_voice_share=1.0)
    assert meta_c["agent_voice"] and not np.array_equal(a["far"], c["far"])
    power = np.abs(np.fft.rfft(c["far"])) ** 2
    hz = np.fft.rfftfreq(c["far"].shape[0], 1 / SR)
    assert power[(hz > 250) & (hz < 450)].sum() > 0.5 * power.sum()  # its far end is the tones
    listen, meta_l = make_example(3, **{**common, "kind": "listen"}, own_voice=own, agent_voice_share=1.0)
    assert not meta_l["agent_voice"] and not listen["far"].any()
    with pytest.raises(ValueError, match="agent voice"):
        make_example(3, **common, agent_voice_share=1.0)


def test_weight_average_follows_the_weights_slowly() -> None:
    from training.common.loop import WeightAverage

    model = torch.nn.Linear(2, 1)
    model.register_buffer("stat", torch.zeros(1))
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.stat.fill_(5.0)
    ema.update()  # warm-up: decay min(0.9, 2/11)
    assert torch.allclose(ema.state_dict()["weight"], torch.full((1, 2), 1 - 2 / 11))
    assert float(ema.state_dict()["stat"]) == 5.0  # buffers are copied, not averaged
    for _ in range(200):
        ema.update()
    assert torch.allclose(ema.state_dict()["weight"], torch.ones(1, 2), atol=1e-6)
    again = WeightAverage(model, decay=0.9)
    again.load(ema.state_dict(), ema.updates)
    assert again.updates == 201 and torch.equal(again.state_dict()["weight"], ema.state_dict()["weight"])
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, decay=1.0)


def test_change_level_equals_features_of_scaled_audio() -> None:
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(SR) * 0.01
    f = torch.from_numpy(file_features(audio))
    louder = torch.from_numpy(file_features(audio * 10 ** (9 / 20)))
    assert torch.allclose(change_level(f, torch.tensor(9.0)), louder, atol=1e-3)


def test_crops_change_the_level_of_the_log_powers_only() -> None:
    from training.vad.train import Crops

    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.uniform(-20, -5, (300, 80)), rng.uniform(-1, 1, (300, 3))], axis=1).astype(np.float32)
    ex = {"features": feats, "speech": np.zeros(300, np.int8), "eot": np.zeros(300, np.int8),
          "far_active": np.zeros(300, np.int8)}
    x = Crops([ex], 100, gain_db=12.0, seed=1, level_features=80).batch(4)[0].numpy()
    starts = [int(np.flatnonzero(feats[:, -1] == row[0, -1])[0]) for row in x]
    for row, a in zip(x, starts, strict=True):
        np.testing.assert_array_equal(row[:, 80:], feats[a : a + 100, 80:])  # the pitch features untouched
        assert np.abs(row[:, :80] - feats[a : a + 100, :80]).max() > 0.01  # the log powers moved


def test_vad_training_smoke_resume_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.vad.__main__ import main

    d = tmp_path
    base = [f"data.turns_dir={d / 'turns'}",
            "data.train_turns=4", "data.valid_turns=3", f"data.train_dir={d / 'ex_train'}",
            f"data.valid_dir={d / 'ex_valid'}", "data.train_examples=6", "data.valid_examples=2",
            "data.example_s=6", "data.workers=1", f"train.out_dir={d / 'run'}", "train.batch=8",
            "train.crop_s=4", "train.valid_every=20", "train.checkpoint_every=20", "train.log_every=5",
            "train.threads=1", "data.res_model=null", "data.agent_voice_share=0"]
    args = [x for kv in base for x in ("--set", kv)]
    assert main([*args, "--set", "train.steps=40", "--no-progress"]) == 0
    run = d / "run"
    rows = list(csv.DictReader((run / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.8 * losses[0]
    assert (run / "vad_dfsmn.onnx").exists() and (run / "curves.png").exists()
    vals = [json.loads(line) for line in (run / "valid.jsonl").read_text().splitlines()]
    assert [v["step"] for v in vals] == [20, 40] and all(0 <= v["dcf"] <= 1 for v in vals)
    # every validation's weights are kept, and any of them exports
    kept = sorted(p.name for p in run.glob("valid_step_*.pt"))
    assert kept == ["valid_step_00020.pt", "valid_step_00040.pt"]
    assert main(["export", "--checkpoint", str(run / kept[0]), "--out", str(d / "step20.onnx")]) == 0
    assert (d / "step20.onnx").stat().st_size > 0
    # resume: 10 more steps continue from the checkpoint at step 40
    assert main([*args, "--set", "train.steps=50", "--no-progress"]) == 0
    steps = [int(r["step"]) for r in csv.DictReader((run / "log.csv").open())]
    assert steps[-1] == 50 and steps.count(40) == 1
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 50
    metas = [json.loads(p.read_text()) for p in (d / "ex_train").glob("0*.json")]
    assert len(metas) == 6 and all("delay_jumps" in m and m["res_model"] is None for m in metas)
    # an end-of-turn branch trained alone on the exported model: the speech probability stays the same, bit for bit
    check_eot_branch(main, args, d)
    # the recipe with the neural RES and the agent's own voice: the voice is synthesised first, the chain uses the RES
    from training.vad.config import load_vad_config
    from training.vad.prepare import prepare_data

    cfg = load_vad_config(None, [*base, f"data.train_dir={d / 'ex_res'}", f"data.valid_dir={d / 'ex_res_valid'}",
                                 "data.train_examples=3", "data.valid_examples=1", "data.res_model=shipped", "data.res_share=1",
                                 "data.agent_voice_share=1.0", "data.agent_voice_utterances=2",
                                 f"data.agent_voice_dir={d / 'agent_voice'}"])
    train_paths, _ = prepare_data(cfg, progress=False)
    assert len(list((d / "agent_voice").glob("*.wav"))) == 2
    metas = [json.loads(p.with_suffix(".json").read_text()) for p in train_paths]
    assert len(metas) == 3 and all(m["res_model"] == "shipped" for m in metas)
    assert all(m["agent_voice"] == (m["kind"] != "listen") for m in metas)
    # the example folders keep their recipe: another one is refused with a clear error
    assert main([*args, "--set", "data.delay_jump_share=0.9", "--no-progress"]) == 2
    # a prosody- and LAEC-aware model from the same examples (they carry the pitch and the LAEC output's features):
    # it trains, exports, and the runtime feeds it the pitch of its input and the linear canceller's output
    from models.vad.runtime import SemanticVad
    from training.vad.train import load_model

    assert main([*args, "--set", "train.pitch_input=true", "--set", "train.laec_input=true",
                 "--set", f"train.out_dir={d / 'run_pitch'}", "--set", "train.steps=20", "--no-progress"]) == 0
    vad = SemanticVad(d / "run_pitch" / "vad_dfsmn.onnx")
    assert vad.pitch_aware and vad.echo_aware and vad.laec_aware
    loaded = load_model(d / "run_pitch" / "valid_step_00020.pt")  # the checkpoint names its inputs
    assert (loaded.echo_input, loaded.laec_input, loaded.pitch_input) == (True, True, True)
    # the end-of-turn threshold sweep on the validation examples: a lower threshold never ends turns later
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from vad_eot_sweep import main as sweep_main

    out = d / "sweep.json"
    assert sweep_main(["--checkpoint", str(d / "run_pitch" / "valid_step_00020.pt"), "--valid-dir",
                       str(d / "ex_valid"), "--turns-dir", str(d / "turns" / "valid"), "--thresholds", "0.1,0.99",
                       "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["sweeps"][str(d / "run_pitch" / "valid_step_00020.pt")]
    assert [r["threshold"] for r in rows] == [0.1, 0.99]
    assert all(set(r) >= {"eot_latency_median_ms", "premature_rate"} for r in rows)
    lat = [r["eot_latency_median_ms"] for r in rows]
    assert not lat[0] > lat[1]  # NaN (no end decided) compares False
    assert sweep_main(["--checkpoint", str(d / "run_pitch" / "valid_step_00020.pt"), "--valid-dir", str(d)]) == 2
    # the exported model (best = the only validation, step 20) run step by step in onnxruntime gives the same rows
    from vad_eot_sweep import sweep

    onnx_rows = sweep(d / "run_pitch" / "vad_dfsmn.onnx", d / "ex_valid", d / "turns" / "valid", (0.1, 0.99))
    np.testing.assert_allclose([[r[k] for k in sorted(r)] for r in onnx_rows],
                               [[r[k] for k in sorted(r)] for r in rows], atol=1e-6)
    # examples without the pitch array (an older build) are refused for it, with the way out named
    from training.vad.train import load_examples

    old = d / "old" / "0000000"
    old.parent.mkdir()
    with np.load(d / "ex_train" / "0000000.npz") as z:
        np.savez(old.with_suffix(".npz"), **{k: z[k] for k in z.files if k != "pitch"})
    old.with_suffix(".json").write_text((d / "ex_train" / "0000000.json").read_text())
    assert load_examples([old], pitch_input=False)[0]["features"].shape[1] == 80
    assert load_examples([old], pitch_input=False, laec_input=True)[0]["features"].shape[1] == 120
    with pytest.raises(ValueError, match="no pitch .*new folder"):
        load_examples([old], pitch_input=True)
    np.savez(old.with_suffix(".npz"), **{k: z for k, z in np.load(d / "ex_train" / "0000000.npz").items()
                                         if k != "laec_features"})
    with pytest.raises(ValueError, match="no laec_features .*new folder"):
        load_examples([old], laec_input=True)


def test_bad_config_and_bad_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from training.vad.__main__ import main

    assert main(["--set", "train.stepz=3"]) == 2
    assert "stepz" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert main(["export", "--checkpoint", str(bad), "--out", str(tmp_path / "x.onnx")]) == 1
    assert "not a VAD checkpoint" in capsys.readouterr().err


def test_pause_weight_weighs_the_silent_frames_of_pauses_inside_sentences() -> None:
    from training.vad.train import vad_loss

    speech = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    eot = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0]])  # frames 2-3: a pause inside a sentence
    logits = torch.zeros(1, 8, 2)
    logits[..., 0] = torch.where(speech > 0, 5.0, -5.0)
    logits[0, :, 1] = torch.tensor([-5.0, -5.0, 3.0, 3.0, -5.0, 5.0, 5.0, 0.0])  # wrong only in the pause

    def model(_: torch.Tensor) -> torch.Tensor:
        return logits

    eots = [vad_loss(model, torch.zeros(1, 8, 80), speech, eot, torch.zeros(1, 8), 1.0, 1.0, w)[1]["eot"]
            for w in (1.0, 4.0)]
    assert eots[1] > 1.5 * eots[0]  # the pause's errors count more
    logits[0, 2:4, 1] = -5.0  # right in the pause too: the weight changes (almost) nothing
    eots = [vad_loss(model, torch.zeros(1, 8, 80), speech, eot, torch.zeros(1, 8), 1.0, 1.0, w)[1]["eot"]
            for w in (1.0, 4.0)]
    assert abs(eots[1] - eots[0]) < 0.01


def check_eot_branch(main, args: list[str], d: Path) -> None:  # noqa: ANN001 (training.vad.__main__.main)
    """``train.eot_layers`` with ``train.init_from`` (the exported .onnx of the smoke run) and ``freeze_trunk``."""
    from models.vad.runtime import SemanticVad
    from training.vad.export import model_from_fused_onnx
    from training.vad.train import load_model

    source = d / "run" / "vad_dfsmn.onnx"
    branch = [*args, "--set", f"train.out_dir={d / 'run_eot'}", "--set", "train.steps=20", "--set", "train.eot_layers=2",
              "--set", f"train.init_from={source}", "--set", "train.freeze_trunk=true", "--no-progress"]
    assert main(branch) == 0
    trunk, _ = model_from_fused_onnx(source)
    trained = load_model(d / "run_eot" / "checkpoint.pt")
    assert len(trained.eot_layers) == 2 and float(trained.eot_output.weight.detach().abs().sum()) > 0  # the branch learnt
    fixed = trunk.state_dict()
    for name, value in trained.state_dict().items():
        if not name.startswith(("eot_layers.", "eot_output.")):
            assert torch.equal(value, fixed[name]), name  # the trunk did not move
    old, new = SemanticVad(source), SemanticVad(d / "run_eot" / "vad_dfsmn.onnx")
    assert new.state_shape == (8, 36, 64) and new.metadata["eot_layers"] == "2"
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(SR * 2) * 0.05
    audio[SR // 2 : SR] += 0.3 * np.sin(2 * np.pi * 150 * np.arange(SR // 2) / SR)
    echo = rng.standard_normal(SR * 2) * 0.01
    a = np.array([old.process(audio[i : i + 320], echo[i : i + 320]) for i in range(0, SR * 2, 320)])
    b = np.array([new.process(audio[i : i + 320], echo[i : i + 320]) for i in range(0, SR * 2, 320)])
    np.testing.assert_allclose(b[:, 0], a[:, 0], atol=1e-6)  # speech: the same (folding may differ in the last bit)
    assert np.abs(b[:, 1] - a[:, 1]).max() > 1e-4  # end of turn: the branch's
    # a frozen trunk needs a trained model to start from, and the model must fit it
    assert main([*args, "--set", f"train.out_dir={d / 'run_bad'}", "--set", "train.eot_layers=1",
                 "--set", "train.freeze_trunk=true", "--no-progress"]) == 2
    assert main([*args, "--set", f"train.out_dir={d / 'run_bad2'}", "--set", "train.pitch_input=true",
                 "--set", f"train.init_from={source}", "--no-progress"]) == 2
    assert main([*args, "--set", f"train.out_dir={d / 'run_bad3'}", "--set", f"train.init_from={d / 'none.onnx'}",
                 "--no-progress"]) == 2
