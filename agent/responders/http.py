"""The ``http`` responder: an OpenAI-compatible chat-completions endpoint, streamed into the TTS.

POSTs ``{"model", "messages", "stream": true}`` to ``agent.http.url`` and reads the server-sent events
(``data: {"choices": [{"delta": {"content": ...}}]}`` … ``data: [DONE]``); a server that answers with
one JSON body (``choices[0].message.content``) works too. The request runs on a thread with the
standard library's ``http.client`` (socket timeout ``agent.http.timeout_s`` on connect and on every
read); pieces reach the event loop as they arrive. Errors and timeouts raise :class:`ResponderError`,
which the agent turns into a spoken apology.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from agent.config import AgentConfig
from agent.responders.base import Responder, ResponderError, Turn

MAX_LINE_BYTES = 1 << 20  # one SSE line
MAX_BODY_BYTES = 4 << 20  # a non-streamed answer


def _content(obj: Any) -> str:
    """The text in one chat-completions chunk or answer ('' when it has none)."""
    try:
        choice = obj["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    for key in ("delta", "message"):
        part = choice.get(key) if isinstance(choice, dict) else None
        if isinstance(part, dict) and isinstance(part.get("content"), str):
            return part["content"]
    return ""


class HttpResponder(Responder):
    name = "http"

    def __init__(self, config: AgentConfig) -> None:
        super().__init__(config)
        self.settings = config.agent.http
        url = urlsplit(self.settings.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ResponderError(f"agent.http.url {self.settings.url!r} is not an http(s) URL")
        self.url = url
        self.path = (url.path or "/") + (f"?{url.query}" if url.query else "")

    def messages(self, turn: Turn) -> list[dict[str, str]]:
        s = self.settings
        msgs = [{"role": "system", "content": s.system_prompt}] if s.system_prompt else []
        history = turn.history[-s.history_turns:] if s.history_turns else ()
        for user, agent in history:
            msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": agent}]
        return [*msgs, {"role": "user", "content": turn.text}]

    async def reply(self, turn: Turn) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        stop = threading.Event()

        def post(kind: str, text: str = "") -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, text))

        body = json.dumps({"model": self.settings.model, "messages": self.messages(turn), "stream": True},
                          ensure_ascii=False).encode("utf-8")
        worker = threading.Thread(target=self._fetch, args=(body, post, stop), name="http-responder", daemon=True)
        worker.start()
        sent = 0
        try:
            while True:
                try:
                    # The thread's socket timeout bounds every read; this is a second guard.
                    kind, text = await asyncio.wait_for(queue.get(), self.settings.timeout_s + 1.0)
                except TimeoutError:
                    raise ResponderError(f"{self.settings.url}: no answer within {self.settings.timeout_s:.0f} s") from None
                if kind == "error":
                    raise ResponderError(text)
                if kind == "done":
                    return
                text = text[: self.settings.max_reply_chars - sent]
                if text:
                    sent += len(text)
                    yield text
                if sent >= self.settings.max_reply_chars:
                    return
        finally:
            stop.set()

    def _fetch(self, body: bytes, post: Callable[[str, str], None], stop: threading.Event) -> None:
        s, url = self.settings, self.url
        conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(url.hostname, url.port, timeout=s.timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        key = os.environ.get(s.api_key_env) if s.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                detail = resp.read(300).decode("utf-8", "replace").strip()
                post("error", f"{s.url}: HTTP {resp.status} {resp.reason} {detail}".strip())
                return
            if "text/event-stream" not in (resp.getheader("Content-Type") or ""):
                data = resp.read(MAX_BODY_BYTES + 1)
                if len(data) > MAX_BODY_BYTES:
                    post("error", f"{s.url}: answer larger than {MAX_BODY_BYTES} bytes")
                    return
                try:
                    post("text", _content(json.loads(data)))
                except ValueError:
                    post("error", f"{s.url}: the answer is not JSON")
                    return
                post("done")
                return
            while not stop.is_set():
                line = resp.readline(MAX_LINE_BYTES)
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                try:
                    text = _content(json.loads(payload))
                except ValueError:
                    continue  # a malformed chunk is skipped, not fatal
                if text:
                    post("text", text)
            post("done")
        except (OSError, http.client.HTTPException) as exc:
            post("error", f"{s.url}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()
