"""Which quote plan the executor acts on: the newest unexpired target of each market, nothing else.

Plans are targets, so only the newest matters. Per market the inbox holds at most one plan waiting (while
the previous one executes); a newer plan replaces it and the replaced one is ``superseded``; a plan whose
``seq`` is not above the newest seen is ``stale`` (a redelivery or a reordering: it is never acted on),
and one whose TTL has passed when it would be taken is ``expired``. Every plan ends in exactly one
outcome, which the executor audits. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

Dropped = Literal["superseded", "stale", "expired"]


class PlanLike(Protocol):
    @property
    def market(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def created_ts_ms(self) -> int: ...

    @property
    def ttl_ms(self) -> int: ...


P = TypeVar("P", bound=PlanLike)


@dataclass(slots=True)
class PlanInbox(Generic[P]):
    waiting: dict[str, P] = field(default_factory=dict)
    newest_seq: dict[str, int] = field(default_factory=dict)

    def offer(self, plan: P) -> list[tuple[P, Dropped]]:
        """Take in ``plan``; returns the plans this drops (``plan`` itself when stale)."""
        if plan.seq <= self.newest_seq.get(plan.market, -1):
            return [(plan, "stale")]
        self.newest_seq[plan.market] = plan.seq
        replaced = self.waiting.get(plan.market)
        self.waiting[plan.market] = plan
        return [(replaced, "superseded")] if replaced is not None else []

    def take(self, market: str, now_ms: int) -> tuple[P | None, list[tuple[P, Dropped]]]:
        """The plan to execute now for ``market`` (if any), and the ones dropped as expired."""
        plan = self.waiting.pop(market, None)
        if plan is None:
            return None, []
        if now_ms >= plan.created_ts_ms + plan.ttl_ms:
            return None, [(plan, "expired")]
        return plan, []

    def markets(self) -> list[str]:
        return sorted(self.waiting)
