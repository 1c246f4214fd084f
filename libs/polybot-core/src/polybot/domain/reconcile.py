"""Reconcile a quote target against the orders resting now: what to cancel, what to place, what to keep.

A plan is a target (``polybot.domain.quote_inputs``): the orders that should rest. The executor owns the
truth about live orders and turns the newest target into actions with ``reconcile``; applying them leaves
exactly the target resting, so a lost, repeated or late plan cannot leave orders behind.

The cancel/replace threshold is the quoter's policy, carried in the plan as ``Tolerance``: a live order on
the same asset and side is *kept* for a target when its price is within ``keep_ticks`` ticks and its
remaining size within ``keep_size_frac`` of the target's size. Keeping an order keeps its queue position
and its reward time (the venue counts only orders that rested ≥ 3.5 s); replacing it costs both.

Matching is deterministic: targets are taken best price first per (asset, side); each takes the closest
unmatched live order within tolerance (nearest price, then nearest size, then order id). Every live order
not kept is cancelled (duplicates included); every target not matched is placed. With ``max_open`` the
places are cut so that kept + placed never exceeds it, keeping the targets listed first (the quoter lists
them in priority order), and the cut ones are reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from polybot.domain.quote_inputs import OurOrder, TargetOrder

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Tolerance:
    tick_size: Decimal
    keep_ticks: int = 0
    keep_size_frac: Decimal = _ZERO

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.keep_ticks < 0 or self.keep_size_frac < 0:
            raise ValueError("tick_size must be positive; keep_ticks and keep_size_frac not negative")

    def keeps(self, live: OurOrder, target: TargetOrder) -> bool:
        """Whether ``live`` may stand for ``target``."""
        return (live.asset_id == target.asset_id and live.side == target.side
                and abs(live.price - target.price) <= self.keep_ticks * self.tick_size
                and abs(live.size - target.size) <= self.keep_size_frac * target.size)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    cancels: tuple[OurOrder, ...]
    places: tuple[TargetOrder, ...]
    kept: tuple[tuple[OurOrder, TargetOrder], ...]
    dropped: tuple[TargetOrder, ...] = ()  # targets not placed because of ``max_open``

    @property
    def idle(self) -> bool:
        return not (self.cancels or self.places)


def _best_first(orders: Iterable[TargetOrder]) -> list[TargetOrder]:
    # bids best = highest price, asks best = lowest; ties by size then asset for determinism
    return sorted(orders, key=lambda t: (t.asset_id, t.side, -t.price if t.side == "BUY" else t.price, -t.size))


def reconcile(targets: Sequence[TargetOrder], live: Sequence[OurOrder], tolerance: Tolerance, *,
              max_open: int | None = None) -> Reconciliation:
    """The cancels and places that turn ``live`` into ``targets`` (see the module docstring)."""
    unmatched = sorted(live, key=lambda o: o.order_id)
    kept: list[tuple[OurOrder, TargetOrder]] = []
    wanted: list[TargetOrder] = []
    for target in _best_first(targets):
        candidates = [o for o in unmatched if tolerance.keeps(o, target)]
        if not candidates:
            wanted.append(target)
            continue
        best = min(candidates, key=lambda o: (abs(o.price - target.price), abs(o.size - target.size), o.order_id))
        unmatched.remove(best)
        kept.append((best, target))
    priority = {id(t): i for i, t in enumerate(targets)}
    wanted.sort(key=lambda t: priority[id(t)])
    places: Sequence[TargetOrder] = wanted
    dropped: Sequence[TargetOrder] = ()
    if max_open is not None:
        room = max(0, max_open - len(kept))
        places, dropped = wanted[:room], wanted[room:]
    return Reconciliation(tuple(unmatched), tuple(places), tuple(kept), tuple(dropped))
