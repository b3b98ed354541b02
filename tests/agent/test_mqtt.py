"""MQTT against a real Mosquitto broker started by the test on a free loopback port, with the real
mosquitto_pub/mosquitto_sub clients as the independent peer."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agent.config import AgentConfig, MqttConfig, build, load_config, to_dict
from agent.mqtt.commands import CommandError, Topics, parse_hermes, parse_own
from agent.pipeline import ListeningPipeline, load_models
from agent.responders.echo import EchoResponder
from agent.runner import run_session
from agent.scripted_user import ScriptedUser, UserLine
from agent.session import Session
from agent.speech_out import EspeakEngine
from audio_io.backend import RoomBackend
from audio_io.room import SimulatedRoom
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
                                reason="mosquitto is installed by scripts/setup.sh")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto broker on a free loopback port, with persistence (so a restart keeps sessions)."""

    def __init__(self, folder: Path, password: tuple[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {folder}/",
                 "log_dest none"]
        if os.geteuid() == 0:
            lines.append("user root")  # as root, mosquitto would switch to 'mosquitto', who cannot write the folder
        if password is None:
            lines.append("allow_anonymous true")
        else:
            pw = folder / "passwords"
            subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), *password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: the broker saves its sessions and queued messages
            self.proc.wait(timeout=10)
            self.proc = None

    def pub(self, topic: str, payload: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-t", topic,
                               "-m", payload, *extra], capture_output=True, text=True, timeout=20)


class Subscriber:
    """mosquitto_sub on '#' (persistent session, QoS 1) collecting (topic, payload) pairs."""

    def __init__(self, broker: Broker, name: str, topic: str = "#") -> None:
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-c", "-i", name, "-t", topic,
             "-F", "%t\t%p"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.messages: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        time.sleep(0.3)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition("\t")
            self.messages.append((topic, payload))

    def wait_for(self, predicate, timeout: float = 30.0) -> tuple[str, dict]:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for topic, payload in list(self.messages):
                try:
                    obj = json.loads(payload) if payload else {}
                except ValueError:
                    obj = {}
                if predicate(topic, obj):
                    return topic, obj
            time.sleep(0.05)
        raise AssertionError(f"no matching message in {timeout} s; got {[t for t, _ in self.messages][-30:]}")

    def count(self, topic: str) -> int:
        return sum(1 for t, _ in self.messages if t == topic)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


class AgentThread:
    """A session (real chain, VAD, ASR in the paced simulated room) with its MQTT bridge, on its own loop."""

    def __init__(self, config: AgentConfig, models, user_lines: tuple[UserLine, ...] = ()) -> None:  # noqa: ANN001
        from models.aec.chain import EchoCanceller

        _, vad, asr = models
        vad.reset()
        room = SimulatedRoom(config.room)
        backend = RoomBackend(room, paced=True)
        user = ScriptedUser(room, user_lines) if user_lines else None
        pipeline = ListeningPipeline(config, EchoCanceller(config.aec), vad, asr)
        self.session = Session(config, backend, pipeline, EspeakEngine(config.tts), EchoResponder(config), user)
        self.loop = asyncio.new_event_loop()
        self.summary = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.summary = self.loop.run_until_complete(run_session(self.session, print_line=None, status=False))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.session.request_stop, "test done")
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()


def agent_config(broker: Broker, site: str, **mqtt) -> AgentConfig:  # noqa: ANN003
    cfg = load_config()
    m = build(MqttConfig, {**to_dict(cfg.mqtt), "enabled": True, "port": broker.port, "site_id": site,
                           "reconnect_backoff_s": [0.2, 0.5], "health_interval_s": 1.0, **mqtt})
    agent = dataclasses.replace(cfg.agent, greeting="", scripted_user=False)
    return dataclasses.replace(cfg, mqtt=m, agent=agent)


@pytest.fixture(scope="module")
def models():  # noqa: ANN201
    return load_models(load_config())


@pytest.fixture
def broker(tmp_path: Path):  # noqa: ANN201
    b = Broker(tmp_path)
    yield b
    b.stop()


# --- payload validation (no broker) -----------------------------------------------------------------


def test_own_commands_are_validated_field_by_field() -> None:
    assert parse_own("say", b'{"text": "hi", "id": "7", "version": 1}', 100).id == "7"
    assert parse_own("stop", b"", 100).kind == "stop"
    assert parse_own("set", b'{"key": "tts.length_scale", "value": 2}', 100).value == 2.0
    for name, payload, reason in [
        ("say", b'{"text": 5}', "'text' must be a string"),
        ("say", b'{"text": "  "}', "'text' is empty"),
        ("say", b'{"text": "x", "colour": 1}', r"unknown field\(s\) \['colour'\]"),
        ("say", b'{"text": "' + b"x" * 101 + b'"}', "101 characters; at most 100"),
        ("say", b'[1, 2]', "must be a JSON object"),
        ("say", b'{"text": "x", "version": 2}', "unsupported version 2"),
        ("say", b"\xff\xfe", "not UTF-8"),
        ("say", b'{"text": ', "not JSON"),
        ("fly", b"{}", "unknown command 'fly'"),
        ("set", b'{"key": "audio.backend", "value": 1}', "cannot be changed at run time"),
        ("set", b'{"key": "vad.barge_in_threshold", "value": 3}', r"within \[0.0, 1.0\]"),
        ("set", b'{"key": "vad.barge_in_threshold", "value": true}', "needs a number"),
    ]:
        with pytest.raises(CommandError, match=reason):
            parse_own(name, payload, 100)


def test_hermes_commands_use_hermes_fields_and_ignore_other_sites() -> None:
    t = Topics("duplex", "kitchen")
    say = parse_hermes("hermes/tts/say", b'{"text": "hello", "siteId": "kitchen", "id": "a", "sessionId": "s", '
                                         b'"lang": null, "volume": 1.0}', t, 100)
    assert (say.kind, say.text, say.id, say.session_id, say.hermes) == ("say", "hello", "a", "s", True)
    assert parse_hermes("hermes/tts/say", b'{"text": "hello", "siteId": "garage"}', t, 100) is None
    assert parse_hermes("hermes/asr/stopListening", b'{"siteId": "kitchen"}', t, 100).kind == "stop_listening"
    assert parse_hermes("hermes/audioServer/kitchen/stopPlaying", b"", t, 100).kind == "stop"
    with pytest.raises(CommandError, match="'siteId' must be a string"):
        parse_hermes("hermes/tts/say", b'{"text": "x", "siteId": 3}', t, 100)


# --- against the broker ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_say_speaks_in_the_room_and_say_finished_follows_the_real_end_of_playback(broker: Broker, models) -> None:  # noqa: ANN001
    sub = Subscriber(broker, "peer-say")
    agent = AgentThread(agent_config(broker, "kitchen", ha_discovery=True), models)
    try:
        sub.wait_for(lambda t, o: t == "duplex/kitchen/status" and o.get("state") == "online")
        hermes = {"text": "নমস্কার। আজ আবহাওয়া ভালো।", "siteId": "kitchen", "id": "h-1", "sessionId": "s-1"}
        assert broker.pub("hermes/tts/say", json.dumps(hermes, ensure_ascii=False)).returncode == 0
        assert broker.pub("duplex/kitchen/command/say", '{"text": "দ্বিতীয় কথা।", "id": "own-2"}').returncode == 0
        _, finished = sub.wait_for(lambda t, o: t == "hermes/tts/sayFinished")
        assert finished == {"id": "h-1", "siteId": "kitchen", "sessionId": "s-1"}
        _, done2 = sub.wait_for(lambda t, o: t == "duplex/kitchen/event/reply_done" and o.get("id") == "own-2")
        assert done2["cancelled"] is False and done2["version"] == 1
        # The two says were spoken one after the other, each to the end.
        events = list(agent.session.events)
        audio = [e for e in events if e.kind == "reply_audio"]
        done = [e for e in events if e.kind == "reply_done"]
        assert len(audio) == 2 and len(done) == 2 and done[0].sample <= audio[1].sample
        # sayFinished came when playback ended: at least the spoken duration after the first audio.
        played_s = (done[0].sample - audio[0].sample) / 16000
        assert played_s > 1.0
        sub.wait_for(lambda t, o: t == "hermes/audioServer/kitchen/playFinished" and o.get("id") == "h-1")
        sub.wait_for(lambda t, o: t == "duplex/kitchen/health" and "load" in o and o["state"])
        sub.wait_for(lambda t, o: t == "homeassistant/text/duplex_kitchen/say/config" and o["command_topic"]
                     == "duplex/kitchen/command/say")
    finally:
        agent.stop()
    sub.wait_for(lambda t, o: t == "duplex/kitchen/status" and o.get("state") == "offline")
    sub.close()


@pytest.mark.slow
def test_a_barge_in_publishes_its_latency_and_vad_up(broker: Broker, models) -> None:  # noqa: ANN001
    sub = Subscriber(broker, "peer-barge")
    cfg = agent_config(broker, "hall")
    cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, greeting=load_config().agent.greeting))
    agent = AgentThread(cfg, models, (UserLine("থামো, আজকের আবহাওয়া কেমন হবে?", "agent_speaking", 2.0),))
    try:
        _, stopped = sub.wait_for(lambda t, o: t == "duplex/hall/event/playback_stopped", timeout=60)
        assert stopped["barge_in_latency_ms"] > 0 and stopped["onset"] == "true"
        sub.wait_for(lambda t, o: t == "duplex/hall/event/barge_in" and "decision_latency_ms" in o)
        _, up = sub.wait_for(lambda t, o: t == "hermes/voiceActivity/hall/vadUp")
        assert up["siteId"] == "hall" and up["signalMs"] > 0
        _, captured = sub.wait_for(lambda t, o: t == "hermes/asr/textCaptured", timeout=60)
        assert captured["text"] and captured["siteId"] == "hall"
    finally:
        agent.stop()
        sub.close()


@pytest.mark.slow
def test_broker_restart_loses_no_command_and_no_final_event(broker: Broker, models) -> None:  # noqa: ANN001
    sub = Subscriber(broker, "peer-restart", "duplex/#")
    agent = AgentThread(agent_config(broker, "porch"), models)
    try:
        sub.wait_for(lambda t, o: t == "duplex/porch/status" and o.get("state") == "online")
        broker.stop()
        time.sleep(0.5)
        # While the broker is away the agent keeps working; its final event waits in the outbox.
        agent.loop.call_soon_threadsafe(lambda: agent.session.emit("final", text="away"))
        time.sleep(0.5)
        broker.start()
        for i in range(3):  # sent at once: the agent may still be reconnecting (its session is kept)
            assert broker.pub("duplex/porch/command/say", json.dumps({"text": f"কথা {i + 1}।", "id": f"r{i}"},
                                                                     ensure_ascii=False)).returncode == 0
        sub.wait_for(lambda t, o: t == "duplex/porch/event/final" and o.get("text") == "away")
        for i in range(3):
            sub.wait_for(lambda t, o, i=i: t == "duplex/porch/event/reply_done" and o.get("id") == f"r{i}", timeout=60)
        assert agent.session.summary.errors == []
    finally:
        agent.stop()
        sub.close()


def malformed_payloads(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """Generated bad commands: broken JSON, wrong types, unknown fields, bad versions, unknown commands."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    makers = [
        lambda: ("say", bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))).replace(b"\n", b"x")),
        lambda: ("say", json.dumps({"text": rng.choice([1, 2.5, None, [], {}, True])}).encode()),
        lambda: ("say", json.dumps({"text": "x", f"f{rng.randrange(1000)}": 1}).encode()),
        lambda: ("say", json.dumps({"text": "x", "version": rng.choice([0, 2, "1", 1.5])}).encode()),
        lambda: ("set", json.dumps({"key": rng.choice(["audio.backend", "x", "vad.barge_in_threshold"]),
                                    "value": rng.choice(["high", 5, -1, None])}).encode()),
        lambda: (rng.choice(["fly", "reboot", "Say"]), b"{}"),
        lambda: ("stop", json.dumps(rng.choice([[1], "x", 3])).encode()),
        lambda: ("say", b'{"text": "' + b"\\u0995" * 2 + b'", "id": ' + str(rng.randrange(9)).encode() + b"}"),
    ]
    for i in range(n):
        out.append(makers[i % len(makers)]())
    return out


@pytest.mark.slow
def test_a_thousand_malformed_payloads_each_get_an_error_and_the_agent_keeps_running(broker: Broker, models) -> None:  # noqa: ANN001
    sub = Subscriber(broker, "peer-bad", "duplex/shed/error")
    agent = AgentThread(agent_config(broker, "shed", command_queue_max=2000), models)
    try:
        deadline = time.monotonic() + 20
        while _bridge_connections(agent) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # subscribed
        bad = malformed_payloads(1000)
        by_topic: dict[str, list[bytes]] = {}
        for name, payload in bad:
            by_topic.setdefault(name, []).append(payload)
        for name, payloads in by_topic.items():  # one mosquitto_pub per topic, a message per line
            proc = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t",
                                   f"duplex/shed/command/{name}", "-l"], input=b"\n".join(payloads) + b"\n",
                                  capture_output=True, timeout=60)
            assert proc.returncode == 0
        oversized = json.dumps({"text": "ক" * 70000}).encode()
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t",
                        "duplex/shed/command/say", "-s"], input=oversized, check=True, timeout=20)
        deadline = time.monotonic() + 60
        while sub.count("duplex/shed/error") < 1001 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sub.count("duplex/shed/error") == 1001
        reasons = [json.loads(p)["reason"] for t, p in sub.messages]
        assert any("over mqtt.max_payload_bytes" in r for r in reasons)
        assert any("not JSON" in r for r in reasons) and any("unknown command" in r for r in reasons)
        assert broker.pub("duplex/shed/command/say", '{"text": "ঠিক আছে।", "id": "ok"}').returncode == 0
        deadline = time.monotonic() + 30
        while not any(e.kind == "reply_done" for e in agent.session.events) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(e.kind == "reply_done" for e in agent.session.events)
    finally:
        agent.stop()
        sub.close()


@pytest.mark.slow
def test_password_settings_are_honoured(tmp_path: Path, models) -> None:  # noqa: ANN001
    broker = Broker(tmp_path, password=("agent", "s3cret"))
    try:
        refused = broker.pub("x/y", "1", "-u", "agent", "-P", "wrong")
        assert refused.returncode != 0
        wrong = AgentThread(agent_config(broker, "a1", username="agent", password="wrong"), models)
        time.sleep(2.0)
        bridge_connections = _bridge_connections(wrong)
        wrong.stop()
        assert bridge_connections == 0
        right = AgentThread(agent_config(broker, "a2", username="agent", password="s3cret"), models)
        time.sleep(2.0)
        assert _bridge_connections(right) >= 1
        right.stop()
    finally:
        broker.stop()


def _bridge_connections(agent: AgentThread) -> int:
    from agent.mqtt import MqttBridge

    bridges = [listener.__self__ for listener in agent.session.listeners
               if isinstance(getattr(listener, "__self__", None), MqttBridge)]
    return bridges[0].connections if bridges else -1


@pytest.mark.slow
def test_cli_mqtt_and_site_id_options(broker: Broker, python: str) -> None:
    sub = Subscriber(broker, "peer-cli", "duplex/cli/#")
    proc = subprocess.run([python, "-m", "agent", "--mqtt", f"127.0.0.1:{broker.port}", "--site-id", "cli",
                           "--no-user", "--duration", "4", "--set", "tts.engine=espeak", "--set",
                           "agent.greeting=নমস্কার।"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sub.wait_for(lambda t, o: t == "duplex/cli/event/reply_text" and o.get("text") == "নমস্কার।")
    sub.wait_for(lambda t, o: t == "duplex/cli/status" and o.get("state") == "offline")
    sub.close()
