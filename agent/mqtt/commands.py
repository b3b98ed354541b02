"""Topics, and the validation of every command payload (the project's own and Hermes').

Own commands, under ``<prefix>/<site_id>/command/``: JSON objects; ``version`` is optional and must be
1 when given; unknown fields, wrong types and oversized text are errors (a :class:`CommandError` with
the reason, published on ``<prefix>/<site_id>/error``).

=================== ===================================================== ======================
topic               payload                                               effect
=================== ===================================================== ======================
``say``             ``{"text": str, "id": str?}``                         speak (queued in order)
``stop``            ``{}`` or empty                                       stop speaking now
``mute``/``unmute`` ``{}`` or empty                                       microphone off / on
``start_listening`` ``{}`` or empty                                       turn taking on
``stop_listening``  ``{}`` or empty                                       turn taking off
``set``             ``{"key": str, "value": any}`` (keys: RUNTIME_KEYS)   change a setting now
=================== ===================================================== ======================

Hermes (Rhasspy) commands are parsed with Hermes' own field names (camelCase, ``siteId``,
``sessionId``, ``id``); unknown Hermes fields are ignored (the protocol has many optional ones), and
messages for another ``siteId`` are not for this agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PAYLOAD_VERSION = 1
MAX_ID_CHARS = 128
OWN_COMMANDS = ("say", "stop", "mute", "unmute", "start_listening", "stop_listening", "set")
# Settings that may change while the agent runs: key -> (type, min, max).
RUNTIME_KEYS: dict[str, tuple[type, float, float]] = {
    "tts.length_scale": (float, 0.25, 4.0),
    "tts.noise_scale": (float, 0.0, 2.0),
    "tts.noise_scale_w": (float, 0.0, 2.0),
    "vad.speech_threshold": (float, 0.0, 1.0),
    "vad.barge_in_threshold": (float, 0.0, 1.0),
    "vad.end_of_turn_threshold": (float, 0.0, 1.0),
}


class CommandError(ValueError):
    """A command payload that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Command:
    kind: str  # one of OWN_COMMANDS
    text: str = ""  # say
    id: str | None = None  # say: the caller's id, echoed in the reply events (Hermes: the say id)
    session_id: str | None = None  # Hermes sessionId
    hermes: bool = False  # came from a Hermes topic (answer with Hermes messages)
    key: str = ""  # set
    value: Any = None  # set
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Topic names of one agent (``prefix``/``site_id``) and of the Hermes protocol."""

    prefix: str
    site_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site_id}"

    def command(self, name: str = "+") -> str:
        return f"{self.base}/command/{name}"

    def event(self, kind: str) -> str:
        return f"{self.base}/event/{kind}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    # Hermes
    hermes_say = "hermes/tts/say"
    hermes_say_finished = "hermes/tts/sayFinished"
    hermes_text_captured = "hermes/asr/textCaptured"
    hermes_start_listening = "hermes/asr/startListening"
    hermes_stop_listening = "hermes/asr/stopListening"

    def hermes_vad(self, up: bool) -> str:
        return f"hermes/voiceActivity/{self.site_id}/{'vadUp' if up else 'vadDown'}"

    @property
    def hermes_play_finished(self) -> str:
        return f"hermes/audioServer/{self.site_id}/playFinished"

    @property
    def hermes_stop_playing(self) -> str:
        """Extension (Hermes has no stop command): stop the agent's playback now."""
        return f"hermes/audioServer/{self.site_id}/stopPlaying"

    def subscriptions(self, hermes: bool) -> list[str]:
        subs = [self.command()]
        if hermes:
            subs += [self.hermes_say, self.hermes_start_listening, self.hermes_stop_listening, self.hermes_stop_playing]
        return subs


def _object(payload: bytes, allow_empty: bool) -> dict[str, Any]:
    if allow_empty and not payload.strip():
        return {}
    try:
        obj = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    except ValueError as exc:
        raise CommandError(f"payload is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(obj, dict):
        raise CommandError(f"payload must be a JSON object, got {type(obj).__name__}")
    return obj


def _string(obj: dict[str, Any], name: str, required: bool, max_chars: int) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise CommandError(f"field '{name}' is required")
        return None
    if not isinstance(value, str):
        raise CommandError(f"field '{name}' must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise CommandError(f"field '{name}' has {len(value)} characters; at most {max_chars} are accepted")
    return value


def parse_own(name: str, payload: bytes, max_text_chars: int) -> Command:
    """A command from ``<prefix>/<site_id>/command/<name>``."""
    if name not in OWN_COMMANDS:
        raise CommandError(f"unknown command '{name}'; known: {', '.join(OWN_COMMANDS)}")
    obj = _object(payload, allow_empty=name != "say" and name != "set")
    allowed = {"version", "id"} | {"say": {"text"}, "set": {"key", "value"}}.get(name, set())
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CommandError(f"unknown field(s) {unknown} for '{name}'; allowed: {sorted(allowed)}")
    version = obj.get("version", PAYLOAD_VERSION)
    if version != PAYLOAD_VERSION or isinstance(version, bool):
        raise CommandError(f"unsupported version {version!r}; this agent speaks version {PAYLOAD_VERSION}")
    cid = _string(obj, "id", False, MAX_ID_CHARS)
    if name == "say":
        text = _string(obj, "text", True, max_text_chars) or ""
        if not text.strip():
            raise CommandError("field 'text' is empty")
        return Command("say", text=text, id=cid)
    if name == "set":
        key = _string(obj, "key", True, 100) or ""
        if key not in RUNTIME_KEYS:
            raise CommandError(f"'{key}' cannot be changed at run time; these can: {', '.join(RUNTIME_KEYS)}")
        if "value" not in obj:
            raise CommandError("field 'value' is required")
        tp, lo, hi = RUNTIME_KEYS[key]
        value = obj["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CommandError(f"'{key}' needs a number, got {type(value).__name__}")
        if not lo <= value <= hi:
            raise CommandError(f"'{key}' must be within [{lo}, {hi}], got {value}")
        return Command("set", key=key, value=tp(value), id=cid)
    return Command(name, id=cid)


def parse_hermes(topic: str, payload: bytes, topics: Topics, max_text_chars: int) -> Command | None:
    """A Hermes command, or None when it is for another site."""
    obj = _object(payload, allow_empty=topic == topics.hermes_stop_playing)
    site = obj.get("siteId", "default")
    if not isinstance(site, str):
        raise CommandError(f"field 'siteId' must be a string, got {type(site).__name__}")
    if site != topics.site_id and topic != topics.hermes_stop_playing:  # stopPlaying names the site in its topic
        return None
    session_id = _string(obj, "sessionId", False, MAX_ID_CHARS)
    hid = _string(obj, "id", False, MAX_ID_CHARS)
    if topic == topics.hermes_say:
        text = _string(obj, "text", True, max_text_chars) or ""
        if not text.strip():
            raise CommandError("field 'text' is empty")
        return Command("say", text=text, id=hid, session_id=session_id, hermes=True)
    if topic == topics.hermes_start_listening:
        return Command("start_listening", session_id=session_id, hermes=True)
    if topic == topics.hermes_stop_listening:
        return Command("stop_listening", session_id=session_id, hermes=True)
    if topic == topics.hermes_stop_playing:
        return Command("stop", id=hid, session_id=session_id, hermes=True)
    raise CommandError(f"no Hermes command on topic {topic}")
