"""The ``rules`` responder: intents from a YAML file, each a list of patterns and replies.

File format (``agent.rules_file``, default ``configs/intents.yaml``)::

    fallback: ["দুঃখিত, বুঝতে পারিনি। আর একবার বলবেন?"]
    intents:
      - name: time
        patterns: ["কয়টা বাজে", "সময় কত", "what time"]   # regular expressions, case-insensitive
        replies: ["এখন {time}।"]

The first intent with a pattern found anywhere in the transcript answers; its replies are used in
turn. Replies may use ``{text}`` (what the user said), ``{time}`` and ``{date}`` (now, in Bangla
words-ready form; the TTS front-end reads the digits). No intent → a fallback reply.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from agent.config import REPO_ROOT, AgentConfig
from agent.responders.base import Responder, ResponderError, Turn

MAX_FILE_BYTES = 1_000_000
MONTHS_BN = ("জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট", "সেপ্টেম্বর", "অক্টোবর",
             "নভেম্বর", "ডিসেম্বর")


@dataclass
class Intent:
    name: str
    patterns: list[re.Pattern[str]]
    replies: list[str]
    used: int = 0

    def next_reply(self) -> str:
        reply = self.replies[self.used % len(self.replies)]
        self.used += 1
        return reply


def normalize_for_match(text: str) -> str:
    """NFC, lower case, single spaces: what patterns are matched against."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ResponderError(f"{where}: expected a non-empty list of strings")
    return value


def load_intents(path: str | Path) -> tuple[list[Intent], list[str]]:
    """Intents and fallback replies of a rules file, or a :class:`ResponderError` that names the problem."""
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = REPO_ROOT / p
    if not p.is_file():
        raise ResponderError(f"rules file {p} does not exist (agent.rules_file)")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise ResponderError(f"rules file {p} is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ResponderError(f"rules file {p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("intents"), list):
        raise ResponderError(f"rules file {p}: expected a mapping with an 'intents' list")
    unknown = set(data) - {"intents", "fallback"}
    if unknown:
        raise ResponderError(f"rules file {p}: unknown keys {sorted(unknown)} (allowed: intents, fallback)")
    intents = []
    for i, item in enumerate(data["intents"]):
        where = f"{p}: intents[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ResponderError(f"{where}: expected a mapping with name, patterns and replies")
        where = f"{p}: intent {item['name']!r}"
        patterns = []
        for pat in _strings(item.get("patterns"), f"{where}: patterns"):
            try:
                patterns.append(re.compile(normalize_for_match(pat), re.IGNORECASE))
            except re.error as exc:
                raise ResponderError(f"{where}: pattern {pat!r} is not a regular expression ({exc})") from None
        replies = _strings(item.get("replies"), f"{where}: replies")
        for r in replies:
            _check_placeholders(r, where)
        intents.append(Intent(item["name"], patterns, replies))
    fallback = _strings(data.get("fallback", ["দুঃখিত, বুঝতে পারিনি।"]), f"{p}: fallback")
    for r in fallback:
        _check_placeholders(r, f"{p}: fallback")
    return intents, fallback


def _check_placeholders(reply: str, where: str) -> None:
    try:
        reply.format(text="", time="", date="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ResponderError(f"{where}: reply {reply!r} uses an unknown placeholder ({exc}); "
                             "allowed: {text}, {time}, {date}") from None


def time_words(now: dt.datetime) -> str:
    """'৩টা বেজে ৫ মিনিট' style (digits; the TTS front-end reads them)."""
    hour = now.hour % 12 or 12
    return f"{hour}টা" if now.minute == 0 else f"{hour}টা বেজে {now.minute} মিনিট"


def date_words(now: dt.datetime) -> str:
    return f"{now.day} {MONTHS_BN[now.month - 1]} {now.year}"


class RulesResponder(Responder):
    name = "rules"

    def __init__(self, config: AgentConfig, now: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        super().__init__(config)
        self.intents, self.fallback = load_intents(config.agent.rules_file)
        self._fallback_used = 0
        self._now = now
        self._before_last: tuple[int, list[int]] | None = None  # rotation counters before the last reply

    def match(self, text: str, continues: bool = False) -> tuple[str, str]:
        """(intent name or 'fallback', the reply with placeholders filled). Each match moves that intent's (or
        the fallback's) rotation on by one; ``continues`` (see :class:`Turn`) first undoes the last match's step,
        so a turn that the user went on with gets the reply the cancelled one would have had, not the next."""
        if continues and self._before_last is not None:
            self._fallback_used, used = self._before_last
            for intent, n in zip(self.intents, used, strict=True):
                intent.used = n
        self._before_last = (self._fallback_used, [i.used for i in self.intents])
        norm = normalize_for_match(text)
        now = self._now()
        fill = {"text": text.strip(), "time": time_words(now), "date": date_words(now)}
        for intent in self.intents:
            if any(p.search(norm) for p in intent.patterns):
                return intent.name, intent.next_reply().format(**fill)
        reply = self.fallback[self._fallback_used % len(self.fallback)]
        self._fallback_used += 1
        return "fallback", reply.format(**fill)

    async def reply(self, turn: Turn) -> AsyncIterator[str]:
        yield self.match(turn.text, turn.continues)[1]
