"""The responder interface: a finished user turn in, the reply's text out (streamed in pieces).

Writing a responder is one class::

    from agent.responders import Responder, Turn

    class Shout(Responder):
        name = "shout"

        async def reply(self, turn: Turn):
            yield turn.text.upper() + "!"

and ``agent.responder: mypackage.shout:Shout`` in the config. ``reply`` is an async generator: yield
text as it becomes available (a word, a sentence, the whole reply); the agent speaks each sentence as
soon as it is complete. Raise :class:`ResponderError` (or let any exception escape) and the agent
speaks ``agent.apology`` instead; a responder never needs to catch its own errors to keep the agent up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from agent.config import AgentConfig


class ResponderError(RuntimeError):
    """A responder could not answer (bad config, an endpoint that failed or timed out)."""


@dataclass(frozen=True)
class Turn:
    """A finished user turn and the conversation so far."""

    text: str  # the final transcript
    history: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # earlier (user, agent) exchanges
    # True when the user went on speaking after an end of turn and the reply to it was cancelled before any of
    # it was heard: ``text`` is the whole turn so far and this reply takes the place of the cancelled one (a
    # responder that keeps state per reply, such as the rules responder's rotation, should undo the last step)
    continues: bool = False


class Responder(ABC):
    """Base class of every responder; built once per session with the whole config."""

    name: str = "responder"

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    @abstractmethod
    def reply(self, turn: Turn) -> AsyncIterator[str]:
        """Yield the reply's text in pieces (an ``async def`` with ``yield``)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources at the end of the session."""
