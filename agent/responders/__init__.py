"""Responders: who answers a finished turn. ``build_responder(config)`` picks one by ``agent.responder``.

Built in: ``echo``, ``rules``, ``http``. Anything else of the form ``package.module:ClassName`` is
imported and must be a :class:`Responder` subclass (see :mod:`agent.responders.base`).
"""

from __future__ import annotations

import importlib

from agent.config import AgentConfig
from agent.responders.base import Responder, ResponderError, Turn
from agent.responders.echo import EchoResponder
from agent.responders.http import HttpResponder
from agent.responders.rules import RulesResponder

BUILT_IN: dict[str, type[Responder]] = {"echo": EchoResponder, "rules": RulesResponder, "http": HttpResponder}


def responder_class(name: str) -> type[Responder]:
    """The class named by ``agent.responder``, or a :class:`ResponderError` that says what is allowed."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    module_name, sep, cls_name = name.partition(":")
    if not sep or not module_name or not cls_name:
        raise ResponderError(f"agent.responder {name!r}: use one of {', '.join(BUILT_IN)} or 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ResponderError(f"agent.responder {name!r}: cannot import {module_name} ({exc})") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Responder)):
        raise ResponderError(f"agent.responder {name!r}: {cls_name} is not a Responder subclass in {module_name}")
    return cls


def build_responder(config: AgentConfig) -> Responder:
    return responder_class(config.agent.responder)(config)


__all__ = ["BUILT_IN", "EchoResponder", "HttpResponder", "Responder", "ResponderError", "RulesResponder", "Turn",
           "build_responder", "responder_class"]
