"""The MQTT bridge: an aiomqtt client inside the agent's event loop.

Out, under ``<prefix>/<site_id>/`` (JSON with ``version``, ``site_id`` and the event's fields):

- ``status`` (retained, QoS 1): ``{"state": "online"}``; the last will and a clean shutdown set ``offline``;
- ``event/<kind>`` for every session event (:mod:`agent.events`: ``speech_start``, ``speech_end``,
  ``barge_in``, ``playback_stopped`` with ``barge_in_latency_ms``, ``playback_resumed`` (a backchannel),
  ``end_of_turn``, ``partial``, ``final``, ``reply_text``, ``reply_audio``, ``reply_done`` with ``cancelled``,
  ``state``, ``error`` …); replies made for a ``say`` command carry its ``id``. QoS 1 for ``final``,
  ``end_of_turn``, ``barge_in``, ``playback_stopped``, ``playback_resumed``, ``reply_done`` and ``state``; QoS 0 for
  the rest;
- ``health`` every ``mqtt.health_interval_s``: uptime, state, worker load, delay, ERLE, counters;
- ``error``: a command that could not be carried out (``topic``, ``reason``, ``payload`` excerpt).

Hermes out: ``hermes/voiceActivity/<siteId>/vadUp|vadDown``, ``hermes/asr/textCaptured``,
``hermes/tts/sayFinished`` and ``hermes/audioServer/<siteId>/playFinished`` once the audio of a
``hermes/tts/say`` has really finished playing (also when a barge-in cut it).

Reliability: reconnects with ``mqtt.reconnect_backoff_s``; a fixed client id with a persistent session
and QoS 1 subscriptions, so that commands sent while the agent is away are delivered when it is back;
messages published while disconnected wait in a bounded outbox (oldest dropped and counted beyond
``mqtt.outbox_max``); commands are carried out one after the other, ``say`` waiting until the agent is
idle, so nothing is dropped while it is busy (a full command queue refuses with an error event).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiomqtt

from agent.config import AgentConfig
from agent.events import Event
from agent.mqtt.commands import PAYLOAD_VERSION, Command, CommandError, Topics, parse_hermes, parse_own
from agent.session import Session

log = logging.getLogger(__name__)

QOS1_EVENTS = frozenset({"final", "end_of_turn", "barge_in", "playback_stopped", "playback_resumed", "reply_done",
                         "state"})
PAYLOAD_EXCERPT = 200


@dataclasses.dataclass
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttBridge:
    """See the module doc. ``client_factory`` builds the aiomqtt client (tests may wrap it)."""

    def __init__(self, config: AgentConfig, session: Session,
                 client_factory: Callable[..., aiomqtt.Client] = aiomqtt.Client) -> None:
        self.config = config
        self.mqtt = config.mqtt
        self.session = session
        self.topics = Topics(self.mqtt.prefix, self.mqtt.site_id)
        self.client_factory = client_factory
        self.outbox: deque[_Outgoing] = deque()
        self.dropped = 0  # outgoing messages dropped because the outbox was full
        self.errors = 0  # commands refused
        self.connected = False
        self.connections = 0
        self.commands: asyncio.Queue[Command] = asyncio.Queue(maxsize=self.mqtt.command_queue_max)
        self._wake = asyncio.Event()
        self._stopping = False
        self._t0 = time.monotonic()
        self._replies: dict[int, Command] = {}  # reply id -> the say command that made it
        self._tasks: list[asyncio.Task] = []
        session.listeners.append(self.on_event)

    # --- outgoing -----------------------------------------------------------------------------------------

    def publish(self, topic: str, obj: dict[str, Any] | None, qos: int = 0, retain: bool = False) -> None:
        """Queue a message (sent at once when connected, else on reconnect)."""
        payload = b"" if obj is None else json.dumps(obj, ensure_ascii=False).encode("utf-8")
        if len(self.outbox) >= self.mqtt.outbox_max:
            self.outbox.popleft()
            self.dropped += 1
        self.outbox.append(_Outgoing(topic, payload, qos, retain))
        self._wake.set()

    def _own(self, **fields: Any) -> dict[str, Any]:
        return {"version": PAYLOAD_VERSION, "site_id": self.mqtt.site_id, **fields}

    def on_event(self, event: Event) -> None:
        """Session listener: every event out, plus the Hermes messages that answer to it."""
        data = event.as_dict()
        reply_id = data.get("reply_id", -1)
        say = self._replies.pop(reply_id, None) if event.kind == "reply_done" else self._replies.get(reply_id)
        if say is not None:
            data["id"] = say.id
        qos = 1 if event.kind in QOS1_EVENTS else 0
        self.publish(self.topics.event(event.kind), self._own(**data), qos)
        if not self.mqtt.hermes:
            return
        site = self.mqtt.site_id
        if event.kind in ("speech_start", "speech_end"):
            self.publish(self.topics.hermes_vad(event.kind == "speech_start"),
                         {"siteId": site, "signalMs": int(event.sample * 1000 / 16000)})
        elif event.kind == "final" and event.data.get("text"):
            self.publish(self.topics.hermes_text_captured,
                         {"text": event.data["text"], "likelihood": None, "seconds": None, "siteId": site,
                          "sessionId": None, "wakewordId": None, "asrTokens": None}, qos=1)
        elif event.kind == "reply_done" and say is not None and say.hermes:
            finished = {"id": say.id, "siteId": site, "sessionId": say.session_id}
            self.publish(self.topics.hermes_play_finished, finished, qos=1)
            self.publish(self.topics.hermes_say_finished, finished, qos=1)

    def _error(self, topic: str, reason: str, payload: bytes) -> None:
        self.errors += 1
        excerpt = payload[:PAYLOAD_EXCERPT].decode("utf-8", "replace")
        self.publish(self.topics.error, self._own(topic=topic, reason=reason, payload=excerpt), qos=1)

    def health(self) -> dict[str, Any]:
        s = self.session
        stats = s.last_block.stats if s.last_block is not None else None
        delay = None if stats is None or stats.delay_samples is None else round(stats.delay_samples / 16, 1)
        return self._own(
            uptime_s=round(time.monotonic() - self._t0, 1), state=s.state, position_s=round(s.position / 16000, 2),
            load=round(s.load, 3), delay_ms=delay, erle_db=None if stats is None else round(stats.erle_db, 1),
            laec_resets=None if stats is None else stats.laec_resets, muted=s.muted, listening=s.listening,
            backend=s.backend.stats(), outbox=len(self.outbox), outbox_dropped=self.dropped,
            command_errors=self.errors, connections=self.connections)

    # --- the connection -----------------------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        m = self.mqtt
        tls = None
        if m.tls:
            tls = ssl.create_default_context(cafile=m.tls_ca_certs) if m.tls_ca_certs else ssl.create_default_context()
        will = aiomqtt.Will(self.topics.status, json.dumps(self._own(state="offline")), qos=1, retain=True)
        return self.client_factory(m.host, m.port, username=m.username, password=m.password,
                                   identifier=m.client_id or f"duplex-agent-{m.site_id}", clean_session=False,
                                   will=will, keepalive=m.keepalive_s, tls_context=tls, timeout=10)

    async def run(self) -> None:
        """Connect, reconnect, and carry out commands until :meth:`close`."""
        self._tasks = [asyncio.create_task(self._connection_loop(), name="mqtt-connection"),
                       asyncio.create_task(self._command_loop(), name="mqtt-commands"),
                       asyncio.create_task(self._health_loop(), name="mqtt-health")]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)

    async def _connection_loop(self) -> None:
        attempt = 0
        backoff = self.mqtt.reconnect_backoff_s
        while not self._stopping:
            try:
                async with self._client() as client:
                    self.connected, attempt = True, 0
                    self.connections += 1
                    log.info("MQTT: connected to %s:%d as site %s", self.mqtt.host, self.mqtt.port, self.mqtt.site_id)
                    for topic in self.topics.subscriptions(self.mqtt.hermes):
                        await client.subscribe(topic, qos=1)
                    # Status first (ahead of anything queued while away), then discovery.
                    self.outbox.appendleft(_Outgoing(self.topics.status,
                                                     json.dumps(self._own(state="online")).encode(), 1, True))
                    if self.mqtt.ha_discovery:
                        for topic, obj in self.discovery():
                            self.publish(topic, obj, qos=1, retain=True)
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                if not self._stopping:
                    log.warning("MQTT: %s (broker %s:%d); retrying in %.1f s", exc, self.mqtt.host, self.mqtt.port,
                                backoff[min(attempt, len(backoff) - 1)])
            self.connected = False
            if self._stopping:
                return
            await asyncio.sleep(backoff[min(attempt, len(backoff) - 1)])
            attempt += 1

    async def _serve(self, client: aiomqtt.Client) -> None:
        reader = asyncio.create_task(self._read(client))
        sender = asyncio.create_task(self._send(client))
        try:
            done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise the MqttError that ended it
        finally:
            for task in (reader, sender):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await task

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            while self.outbox:
                msg = self.outbox[0]
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                if self.outbox and self.outbox[0] is msg:
                    self.outbox.popleft()
            self._wake.clear()
            await self._wake.wait()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.on_message(str(message.topic), message.payload)

    # --- incoming ---------------------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: Any) -> None:
        """Validate one incoming message and queue its command (errors go to the error topic)."""
        raw = payload if isinstance(payload, bytes) else (str(payload).encode() if payload is not None else b"")
        try:
            if len(raw) > self.mqtt.max_payload_bytes:
                raise CommandError(f"payload of {len(raw)} bytes is over mqtt.max_payload_bytes "
                                   f"({self.mqtt.max_payload_bytes})")
            max_chars = self.config.tts.max_text_chars
            prefix = self.topics.command("")
            if topic.startswith(prefix):
                command: Command | None = parse_own(topic[len(prefix):], raw, max_chars)
            else:
                command = parse_hermes(topic, raw, self.topics, max_chars)
            if command is None:
                return  # Hermes message for another site
            self.commands.put_nowait(command)
        except CommandError as exc:
            self._error(topic, str(exc), raw)
        except asyncio.QueueFull:
            self._error(topic, f"command queue full ({self.mqtt.command_queue_max} waiting); try again later", raw)

    async def _command_loop(self) -> None:
        while True:
            command = await self.commands.get()
            try:
                await self.execute(command)
            except (ValueError, RuntimeError) as exc:
                self._error(self.topics.command(command.kind), str(exc), command.text.encode())

    async def execute(self, command: Command) -> None:
        s = self.session
        if command.kind == "say":
            while True:  # wait until the agent is idle: says are spoken in order, none is dropped
                if s.state == "listening" and not s.is_replying:
                    reply_id = s.say(command.text)
                    if reply_id is not None:
                        self._replies[reply_id] = command
                        return
                await asyncio.sleep(0.02)
        elif command.kind == "stop":
            s.stop_speaking()
        elif command.kind in ("mute", "unmute"):
            s.muted = command.kind == "mute"
        elif command.kind in ("start_listening", "stop_listening"):
            s.set_listening(command.kind == "start_listening")
        elif command.kind == "set":
            s.update_setting(command.key, command.value)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.mqtt.health_interval_s)
            self.publish(self.topics.health, self.health())

    # --- Home Assistant ---------------------------------------------------------------------------------------

    def discovery(self) -> list[tuple[str, dict[str, Any]]]:
        """Home Assistant MQTT discovery messages: a device with state and transcript sensors and a 'say' text."""
        m, t = self.mqtt, self.topics
        node = f"duplex_{m.site_id}"
        device = {"identifiers": [node], "name": f"Duplex agent {m.site_id}", "manufacturer": "duplex-agent"}
        avail = [{"topic": t.status, "value_template": "{{ value_json.state }}"}]
        common = {"device": device, "availability": avail}
        return [
            (f"{m.ha_prefix}/sensor/{node}/state/config",
             {**common, "name": "State", "unique_id": f"{node}_state", "state_topic": t.event("state"),
              "value_template": "{{ value_json.state }}"}),
            (f"{m.ha_prefix}/sensor/{node}/transcript/config",
             {**common, "name": "Last transcript", "unique_id": f"{node}_transcript", "state_topic": t.event("final"),
              "value_template": "{{ value_json.text }}"}),
            (f"{m.ha_prefix}/text/{node}/say/config",
             {**common, "name": "Say", "unique_id": f"{node}_say", "command_topic": t.command("say"),
              "command_template": '{"text": {{ value | tojson }}}', "max": 255}),
        ]

    # --- shutdown ---------------------------------------------------------------------------------------------

    async def close(self, timeout_s: float = 2.0) -> None:
        """Publish ``offline`` (retained), flush what can be flushed within ``timeout_s``, disconnect."""
        self.publish(self.topics.status, self._own(state="offline"), qos=1, retain=True)
        deadline = time.monotonic() + timeout_s
        while self.outbox and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, Exception):
                await task
