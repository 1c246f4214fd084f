"""Which messages of a refused batch are poison: refused for good, so retrying them would block the rest.

JetStream answers each message of a batch on its own. A refusal that says nothing about the message (no
stream listens on the subject: the server's state, fixed by creating the stream) is retried forever, like a
timeout. A refusal about the message itself (too large for the stream, …) is retried ``after`` times in all
and then given up: the caller dead-letters it and publishes the rest.
"""

from __future__ import annotations

from polybot.bus.acks import PublishError
from polybot.bus.client import Outgoing


class PoisonFilter:
    """Counts, per message id, the refusals about the message; ``sift`` splits a failed batch."""

    def __init__(self, after: int) -> None:
        self.after = after
        self._refusals: dict[str, int] = {}

    def sift(self, batch: list[Outgoing], exc: Exception) -> tuple[list[Outgoing], list[tuple[Outgoing, str]]]:
        """(messages to retry, in order; poison messages with the reason)."""
        if not isinstance(exc, PublishError):
            return batch, []
        retry: list[Outgoing] = []
        poison: list[tuple[Outgoing, str]] = []
        for i, out in enumerate(batch):
            refusal = exc.refused.get(i)
            if refusal is not None and not refusal.transient:
                times = self._refusals[out.msg_id] = self._refusals.get(out.msg_id, 0) + 1
                if times >= self.after:
                    del self._refusals[out.msg_id]
                    poison.append((out, refusal.reason))
                    continue
            retry.append(out)
        return retry, poison
