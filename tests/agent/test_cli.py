import json
import subprocess

import numpy as np
import soundfile as sf

from tests.conftest import REPO


def run_agent(python, *args, check=True):
    proc = subprocess.run([python, "-m", "agent", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_main_without_subcommand_runs_the_scripted_conversation_in_the_room(python, tmp_path):
    summary_path, log = tmp_path / "summary.json", tmp_path / "events.jsonl"
    # The voice's sampled noise is seeded (tts.seed, default 0), so the agent says the same thing in every run.
    out = run_agent(python, "--summary", str(summary_path), "--event-log", str(log)).stdout
    # This machine has no sound card: the fallback must be said, and the whole loop must run.
    assert "no sound card found: using the simulated room" in out
    assert "barge-in: playback stopped" in out and "agent: আপনি বললেন" in out
    assert "session ended: script finished" in out
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["turns"] and summary["barge_ins"] >= 1 and summary["stop_reason"] == "script finished"
    kinds = [json.loads(line)["kind"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end" and "final" in kinds


def test_devices_explains_no_sound_card(python):
    out = run_agent(python, "devices").stdout
    assert "No audio devices" in out and "simulated room" in out
    data = json.loads(run_agent(python, "devices", "--json").stdout)
    assert data["devices"] == [] and data["duplex"] is False


def test_bad_override_is_a_clear_error(python):
    proc = run_agent(python, "--set", "room.rt60_s=9", "devices", check=False)
    assert proc.returncode == 2
    assert "room.rt60_s: 9.0 is out of range" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_docs_and_effective_config(python):
    out = run_agent(python, "--set", "room.volume=1.0", "config").stdout
    assert "volume: 1.0" in out
    assert "| `room.rt60_s` |" in run_agent(python, "config", "--docs").stdout
    # configs/agent.yaml is the generated template (every key, its doc, its default).
    assert run_agent(python, "config", "--template").stdout == (REPO / "configs" / "agent.yaml").read_text(encoding="utf-8")


def test_room_writes_a_scripted_scene(python, tmp_path):
    out = tmp_path / "scene"
    proc = run_agent(python, "--set", "room.noise=pink", "room", "--out", str(out), "--duration", "6")
    assert "wrote" in proc.stdout
    sig = {}
    for name in ("mic", "ref", "echo", "near", "noise"):
        x, rate = sf.read(out / f"{name}.wav", dtype="float64")
        assert rate == 16000 and x.shape == (6 * 16000,)
        sig[name] = x
    # mic = echo + near + noise (up to 16-bit quantisation of each file)
    assert np.max(np.abs(sig["mic"] - sig["echo"] - sig["near"] - sig["noise"])) < 4 / 32768
    # the agent's speech was played from 0.5 s and the user talks from 3.0 s (defaults)
    assert np.abs(sig["ref"][: 7000]).max() == 0 and np.abs(sig["ref"][9000:]).max() > 0.1
    assert np.abs(sig["near"][: 3 * 16000 - 100]).max() < 1e-6 and np.abs(sig["near"]).max() > 0.005
    truth = json.loads((out / "truth.json").read_text())
    assert truth["room"]["noise"] == "pink" and truth["ser_db"] < 0
    assert (out / "echo_path_ir.npy").exists()


def test_room_reports_unreadable_input(python, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file")
    proc = run_agent(python, "room", "--out", str(tmp_path / "o"), "--far-wav", str(bad), check=False)
    assert proc.returncode == 1
    assert "not a readable audio file" in proc.stderr and "Traceback" not in proc.stderr


def test_aec_cancels_the_echo_of_a_room_scene(python, tmp_path):
    scene = tmp_path / "scene"
    run_agent(python, "room", "--out", str(scene), "--duration", "8", "--near-at", "6",
              "--set", "room.nonlinearity=false")
    # the reference at 48 kHz stereo: it must be resampled and mixed down, with warnings
    ref16, _ = sf.read(scene / "ref.wav", dtype="float32")
    import soxr

    ref48 = soxr.resample(ref16, 16000, 48000)
    sf.write(tmp_path / "ref48.wav", np.stack([ref48, ref48], axis=1), 48000)
    proc = run_agent(python, "aec", "--mic", str(scene / "mic.wav"), "--ref", str(tmp_path / "ref48.wav"),
                     "--out-asr", str(tmp_path / "asr.wav"), "--out-vad", str(tmp_path / "vad.wav"),
                     "--stats", str(tmp_path / "stats.json"))
    assert "resampled from 48000 Hz" in proc.stderr and "mixed down" in proc.stderr
    assert "outputs aligned with the input" in proc.stdout
    mic, _ = sf.read(scene / "mic.wav", dtype="float64")
    vad, rate = sf.read(tmp_path / "vad.wav", dtype="float64")
    assert rate == 16000 and vad.shape == mic.shape
    echo_only = slice(3 * 16000, 6 * 16000)  # far end playing, user not yet talking
    erle = 10 * np.log10(np.sum(mic[echo_only] ** 2) / np.sum(vad[echo_only] ** 2))
    assert erle > 20, erle
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["per_second"][-1]["delay_samples"] is not None


def test_aec_input_errors(python, tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "ok.wav", np.zeros(1600), 16000)
    proc = run_agent(python, "aec", "--mic", str(tmp_path / "empty.wav"), "--ref", str(tmp_path / "ok.wav"),
                     "--out-asr", str(tmp_path / "o.wav"), check=False)
    assert proc.returncode == 1 and "holds no samples" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_agent(python, "aec", "--mic", str(tmp_path / "ok.wav"), "--ref", str(tmp_path / "missing.wav"),
                     "--out-asr", str(tmp_path / "o.wav"), check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(800), 16000)
    proc = run_agent(python, "aec", "--mic", str(tmp_path / "ok.wav"), "--ref", str(short),
                     "--out-asr", str(tmp_path / "o.wav"))
    assert "zero-padded" in proc.stderr
    assert sf.info(tmp_path / "o.wav").frames == 1600


def test_aec_with_a_bad_res_model_is_a_one_line_error(python, tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(1600), 16000)
    bad = tmp_path / "res.onnx"
    bad.write_bytes(b"garbage")
    for value, message in ((str(tmp_path / "missing.onnx"), "RES model not found"), (str(bad), "not a readable ONNX")):
        proc = run_agent(python, "aec", "--mic", str(tmp_path / "ok.wav"), "--ref", str(tmp_path / "ok.wav"),
                         "--out-asr", str(tmp_path / "o.wav"), "--set", f"aec.res_model={value}", check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_vad_finds_the_speech_of_a_room_scene(python, tmp_path):
    """The near-end talker of a scripted room scene (no playback), through `agent vad --json`."""
    run_agent(python, "room", "--out", str(tmp_path), "--near-at", "1.0", "--duration", "6",
              "--set", "room.volume=0.0", "--set", "room.noise=pink")
    truth = json.loads((tmp_path / "truth.json").read_text())
    out = run_agent(python, "vad", str(tmp_path / "mic.wav"), "--json", str(tmp_path / "vad.json"),
                    "--probabilities", str(tmp_path / "p.csv"))
    assert "speech segments" in out.stdout
    report = json.loads((tmp_path / "vad.json").read_text())
    assert set(report) == {"segments", "end_of_turn"} and report["segments"]
    near, _ = sf.read(tmp_path / "near.wav")
    active = np.flatnonzero(np.abs(near) > 0.01 * np.abs(near).max())
    start_s, end_s = active[0] / 16000, active[-1] / 16000
    assert abs(report["segments"][0][0] - start_s) < 0.3, (report, start_s, truth)
    assert report["segments"][-1][1] > end_s - 0.5 and all(t > start_s for t in report["end_of_turn"])
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "time_s,speech,end_of_turn" and len(rows) == 1 + 6 * 50


def test_vad_input_errors(python, tmp_path):
    missing = run_agent(python, "vad", str(tmp_path / "none.wav"), check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "none.wav" in missing.stderr
    sf.write(tmp_path / "x.wav", np.zeros(16000), 16000)
    bad_model = run_agent(python, "vad", str(tmp_path / "x.wav"), "--set", f"vad.model={tmp_path / 'm.onnx'}",
                          check=False)
    assert bad_model.returncode == 1 and "VAD model not found" in bad_model.stderr


def test_transcribe_writes_text_and_partials(python, tmp_path, asr_model_folder):
    """`agent transcribe` with a FunASR model folder (random weights: the text is noise, the contract is not)."""
    from tests.conftest import speechlike

    sf.write(tmp_path / "in.wav", speechlike(np.random.default_rng(3), 2.5), 16000)
    out = run_agent(python, "transcribe", str(tmp_path / "in.wav"), "--json", str(tmp_path / "t.json"),
                    "--set", f"asr.model_dir={asr_model_folder}")
    report = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert set(report) >= {"text", "partials", "duration_s"} and report["duration_s"] == 2.5
    assert report["text"] and report["text"] in out.stdout
    assert all(report["text"].replace(" ", "").startswith(p.replace(" ", "")) for _, p in report["partials"])
    assert [t for t, _ in report["partials"]] == sorted(t for t, _ in report["partials"])


def test_transcribe_errors_are_one_line(python, tmp_path):
    sf.write(tmp_path / "x.wav", np.zeros(16000), 16000)
    missing = run_agent(python, "transcribe", str(tmp_path / "x.wav"), "--set", f"asr.model_dir={tmp_path / 'no'}",
                        check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "ASR model folder not found" in missing.stderr and "training.asr" in missing.stderr
    bad = run_agent(python, "transcribe", str(tmp_path / "x.wav"), "--set", "asr.chunk_size=[0, 0, 5]", check=False)
    assert bad.returncode == 2 and "chunk_size" in bad.stderr


def test_say_writes_a_wav_of_the_normalised_sentences(python, tmp_path, tts_voice):
    """`agent say` with a random-weight voice: the contract (sentences, WAV, timings), not the sound."""
    out = run_agent(python, "say", "আমি ভালো আছি। দাম ৳১২.৫০।", "--out", str(tmp_path / "s.wav"),
                    "--voice", str(tts_voice[1]), "--json", str(tmp_path / "s.json"))
    assert "দাম বারো টাকা পঞ্চাশ পয়সা।" in out.stdout and "first audio after" in out.stdout
    audio, rate = sf.read(tmp_path / "s.wav")
    report = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert rate == 22050 and report["sentences"] == ["আমি ভালো আছি।", "দাম বারো টাকা পঞ্চাশ পয়সা।"]
    assert abs(len(audio) / rate - report["duration_s"]) < 1e-3
    slow = run_agent(python, "say", "আমি ভালো আছি।", "--out", str(tmp_path / "slow.wav"), "--voice",
                     str(tts_voice[1]), "--speed", "0.5", "--noise-w", "0")
    fast = run_agent(python, "say", "আমি ভালো আছি।", "--out", str(tmp_path / "fast.wav"), "--voice",
                     str(tts_voice[1]), "--speed", "2", "--noise-w", "0")
    assert slow.returncode == fast.returncode == 0
    assert len(sf.read(tmp_path / "slow.wav")[0]) > len(sf.read(tmp_path / "fast.wav")[0])


def test_say_speaks_with_piper_and_mms_voices(python, tmp_path, monkeypatch):
    """`agent say --voice KIND:PATH` with the other formats (random-weight references): audio at their rates."""
    from models.tts.voices.references import build_mms, build_piper

    piper = build_piper(tmp_path / "bn_BD-test-medium.onnx")
    mms = build_mms(tmp_path / "mms-tts-test")
    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(tmp_path / "cache"))
    for spec, rate in ((f"piper:{piper}", 22050), (f"mms:{mms}", 16000), (str(mms), 16000)):
        proc = run_agent(python, "say", "আমি আজ বাজারে যাব। তুমি কেমন আছ?", "--voice", spec, "--out",
                         str(tmp_path / "v.wav"), "--noise-w", "0")
        audio, got_rate = sf.read(tmp_path / "v.wav")
        assert got_rate == rate and len(audio) > 0.2 * rate and spec.split(":")[-1] in proc.stdout
    assert len(list((tmp_path / "cache" / "voices").glob("mms-*/voice.onnx"))) == 1  # converted once
    bad = run_agent(python, "say", "আমি", "--voice", f"coqui:{tmp_path}", "--out", str(tmp_path / "x.wav"), check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "model.pth" in bad.stderr


def test_say_errors_are_one_line(python, tmp_path, tts_voice):
    missing = run_agent(python, "say", "আমি", "--voice", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "x.wav"),
                        check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "not found" in missing.stderr
    nothing = run_agent(python, "say", "Hello world", "--voice", str(tts_voice[1]), "--out", str(tmp_path / "x.wav"))
    assert "nothing to say" in nothing.stdout and not (tmp_path / "x.wav").exists()
    bad_speed = run_agent(python, "say", "আমি", "--voice", str(tts_voice[1]), "--speed", "9", check=False)
    assert bad_speed.returncode == 2 and "--speed" in bad_speed.stderr
    too_long = run_agent(python, "say", "ক" * 50, "--set", "tts.max_text_chars=10", "--voice", str(tts_voice[1]),
                         check=False)
    assert too_long.returncode == 2 and "max_text_chars" in too_long.stderr
    no_speaker = run_agent(python, "say", "আমি", "--voice", str(tts_voice[1]), check=False)  # no sound card here
    assert no_speaker.returncode == 1 and "--out" in no_speaker.stderr and "Traceback" not in no_speaker.stderr


def test_bench_measures_the_running_agent_and_refuses_unknown_names(python, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_agent(python, "bench", "--only", "agent", "--quick", "--json", str(out))
    assert "| agent | peak" in proc.stdout
    agent = json.loads(out.read_text(encoding="utf-8"))["agent"]
    assert 50 < agent["peak_rss_mb"] < 10_000 and agent["audio_s"] > 1
    assert 0 < agent["listening_load"] < agent["cpu_per_audio_s"]
    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    assert [r["measure"] for r in summary] == ["peak memory, MB", "listening load, share of one core"]
    assert summary[0]["value"] == f"{agent['peak_rss_mb']:.0f}" and "| agent | peak memory, MB |" in proc.stdout
    bad = run_agent(python, "bench", "--only", "nope", check=False)
    assert bad.returncode == 2 and "unknown benchmark" in bad.stderr


def test_run_on_a_missing_sound_card_says_so_and_fails(python):
    proc = run_agent(python, "--set", "audio.backend=device", check=False)
    assert proc.returncode == 1
    assert "audio.backend=device, but" in proc.stdout and "Traceback" not in proc.stderr
