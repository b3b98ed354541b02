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


def test_main_without_subcommand_explains_the_backend(python):
    out = run_agent(python).stdout
    assert "audio:" in out and "devices" in out and "room" in out
    # This machine has no sound card: the fallback must be said.
    assert "simulated room" in out


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
