"""The ``echo`` responder: says back what it heard, in Bangla."""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent.responders.base import Responder, Turn


class EchoResponder(Responder):
    name = "echo"

    async def reply(self, turn: Turn) -> AsyncIterator[str]:
        yield f"আপনি বললেন: {turn.text.strip()}।"
