"""Responders (echo, rules, http against a local server, plugins) and the streamed-text sentence splitter."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.config import AgentConfig, load_config
from agent.responders import ResponderError, Turn, build_responder, responder_class
from agent.responders.rules import RulesResponder
from agent.speech_out import SentenceSplitter


def with_agent(config: AgentConfig, **changes) -> AgentConfig:  # noqa: ANN003
    return dataclasses.replace(config, agent=dataclasses.replace(config.agent, **changes))


async def collect(responder, turn: Turn) -> str:  # noqa: ANN001
    return "".join([piece async for piece in responder.reply(turn)])


def test_echo_repeats_in_bangla() -> None:
    r = build_responder(load_config())
    assert asyncio.run(collect(r, Turn("আজ কী বার"))) == "আপনি বললেন: আজ কী বার।"


def test_rules_match_bangla_and_english_fill_placeholders_and_fall_back() -> None:
    r = RulesResponder(load_config(), now=lambda: dt.datetime(2026, 11, 21, 15, 5))
    assert r.match("এখন কয়টা বাজে?") == ("time", "এখন 3টা বেজে 5 মিনিট।")
    assert r.match("What TIME is it") == ("time", "এখন 3টা বেজে 5 মিনিট।")
    assert r.match("আজ কত তারিখ")[1] == "আজ 21 নভেম্বর 2026।"
    assert r.match("হ্যালো")[0] == "greeting"
    first, second = r.match("ক খ গ"), r.match("ক খ গ")
    assert first[0] == second[0] == "fallback" and first[1] != second[1]  # fallbacks in turn


def test_rules_a_continued_turn_gets_the_reply_the_cancelled_one_would_have_had(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text("intents:\n  - name: weather\n    patterns: [বৃষ্টি]\n    replies: [W1, W2]\n"
                 "fallback: [F1, F2, F3]\n", encoding="utf-8")
    r = RulesResponder(with_agent(load_config(), rules_file=str(f)))
    say = lambda text, continues=False: asyncio.run(collect(r, Turn(text, (), continues)))  # noqa: E731
    assert say("একটু দাঁড়াও") == "F1"
    assert say("একটু দাঁড়াও, আজ কি বৃষ্টি হবে", continues=True) == "W1"  # F1 was never heard: undone
    assert say("আর কিছু") == "F1"
    assert say("আর কিছু, কাল", continues=True) == "F1"  # the same turn again: the same reply
    assert say("কাল কি বৃষ্টি হবে") == "W2"
    assert say("ঠিক আছে") == "F2"


@pytest.mark.parametrize("content, message", [
    ("intents: [", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping with an 'intents' list"),
    ("intents:\n  - name: x\n    patterns: ['(']\n    replies: [a]\n", r"intent 'x': pattern '\(' is not a regular"),
    ("intents:\n  - name: x\n    patterns: [a]\n    replies: []\n", "replies: expected a non-empty list"),
    ("intents:\n  - name: x\n    patterns: [a]\n    replies: ['{who}']\n", "unknown placeholder"),
    ("intents: []\nextra: 1\n", "unknown keys"),
])
def test_bad_rules_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "intents.yaml"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ResponderError, match=message):
        RulesResponder(with_agent(load_config(), rules_file=str(f)))
    with pytest.raises(ResponderError, match="does not exist"):
        RulesResponder(with_agent(load_config(), rules_file=str(tmp_path / "none.yaml")))


def test_plugin_responders_by_class_path() -> None:
    assert responder_class("agent.responders.echo:EchoResponder").name == "echo"
    for bad, message in [("nosuch", "use one of echo, rules, http"), ("no.such.module:X", "cannot import"),
                         ("agent.responders.echo:Missing", "not a Responder subclass")]:
        with pytest.raises(ResponderError, match=message):
            responder_class(bad)


def test_sentence_splitter_streams_whole_sentences() -> None:
    s = SentenceSplitter()
    assert s.push("আজ আবহাওয়া ভা") == []
    assert s.push("লো। দাম 3.5 টা") == ["আজ আবহাওয়া ভালো।"]  # 3.5 is not a sentence end
    assert s.push("কা! Yes. ") == ["দাম 3.5 টাকা!", "Yes."]
    assert s.push("শেষ অংশ") == [] and s.flush() == ["শেষ অংশ"] and s.flush() == []
    bounded = SentenceSplitter(max_chars=5)
    assert bounded.push("১২৩৪৫৬৭৮। ") == [] and bounded.flush() == ["১২৩৪৫"]


# --- http: a small local OpenAI-compatible server --------------------------------------------------


class ChatHandler(BaseHTTPRequestHandler):
    mode = "stream"
    requests: list[dict] = []

    def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatHandler.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model overloaded")
            return
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "json":
            payload = json.dumps({"choices": [{"message": {"content": "পুরো উত্তর।"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["আজ ", "রোদ ", "উঠবে।"]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: not json\n\ndata: [DONE]\n\n")


@pytest.fixture
def chat_server():  # noqa: ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ChatHandler.requests = []
    yield server
    server.shutdown()
    server.server_close()


def http_config(server: ThreadingHTTPServer, **changes) -> AgentConfig:  # noqa: ANN003
    cfg = load_config()
    http = dataclasses.replace(cfg.agent.http, url=f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions",
                               api_key_env="TEST_CHAT_KEY", **changes)
    return with_agent(cfg, responder="http", http=http)


def test_http_streams_pieces_with_history_and_key(chat_server, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TEST_CHAT_KEY", "secret")
    ChatHandler.mode = "stream"
    r = build_responder(http_config(chat_server, history_turns=1))

    async def pieces() -> list[str]:
        return [p async for p in r.reply(Turn("আবহাওয়া?", (("এক", "১"), ("দুই", "২"))))]

    assert asyncio.run(pieces()) == ["আজ ", "রোদ ", "উঠবে।"]
    (req,) = ChatHandler.requests
    assert req["auth"] == "Bearer secret" and req["body"]["stream"] is True
    roles = [(m["role"], m["content"]) for m in req["body"]["messages"]]
    assert roles[1:] == [("user", "দুই"), ("assistant", "২"), ("user", "আবহাওয়া?")]  # one earlier exchange


def test_http_accepts_a_plain_json_answer_and_bounds_the_reply(chat_server) -> None:  # noqa: ANN001
    ChatHandler.mode = "json"
    assert asyncio.run(collect(build_responder(http_config(chat_server)), Turn("x"))) == "পুরো উত্তর।"
    ChatHandler.mode = "stream"
    assert asyncio.run(collect(build_responder(http_config(chat_server, max_reply_chars=5)), Turn("x"))) == "আজ রো"


@pytest.mark.parametrize("mode, changes, message", [
    ("error", {}, "HTTP 500 .*model overloaded"),
    ("slow", {"timeout_s": 0.3}, "timed out|no answer"),
])
def test_http_errors_become_responder_errors(chat_server, mode: str, changes: dict, message: str) -> None:  # noqa: ANN001
    ChatHandler.mode = mode
    with pytest.raises(ResponderError, match=message):
        asyncio.run(collect(build_responder(http_config(chat_server, **changes)), Turn("x")))


def test_http_refuses_a_bad_url_and_a_closed_port() -> None:
    cfg = load_config()
    with pytest.raises(ResponderError, match="not an http"):
        build_responder(with_agent(cfg, responder="http", http=dataclasses.replace(cfg.agent.http, url="ftp://x")))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = dataclasses.replace(cfg.agent.http, url=f"http://127.0.0.1:{port}/v1", timeout_s=2)
    with pytest.raises(ResponderError, match="ConnectionRefused"):
        asyncio.run(collect(build_responder(with_agent(cfg, responder="http", http=closed)), Turn("x")))
