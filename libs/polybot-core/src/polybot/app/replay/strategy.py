"""``polybot replay --strategy spread``: the quoter's own SpreadQuoter decides over the replayed books. Pure.

``QuoteReplay.decide`` is called by ``ReplayRun`` after every frame that held an event of the market (and once
more at the end if expiring the pending hash checks changed a book), with the recording's clock as ``now_ms``:
the same file gives the same decisions. It hands the SpreadQuoter what the quoter service would see:

* **the tokens**: the market's assets in the order the recording first names them; the first is taken as YES
  (a recording does not say which outcome a token is; the decisions are the same mirrored);
* **the books**: a token's ``QuoteBook`` (``polybot.domain.quote_books``) once the recording gave it a book;
  its state is the replay's verification (``live`` only once its hash verified; ``unverified`` while a hash
  is pending; ``resyncing`` after a mismatch, a gap or a tick change), its age the recording's clock less
  the book's last venue timestamp. A token without a book of its own is the **mirror** of the other (the
  venue serves the two as one book), with the other's state;
* **the market**: ``--tick-size`` unless both books stand on another tick (a ``tick_size_change``, a book
  carrying its tick), ``--min-order-size`` and ``--neg-risk``; open, no end date, no rewards;
* **our state**: nothing held, nothing resting (a fresh quoter alone in the market).

Each decision is counted: ``plans`` (quotes and pulls, what would be published), ``suppressed`` (holds by
reason) and ``crossed``: targets that cross or lock the books they were made from, or themselves, in the YES
frame (``quote_books.target_crosses``, apart from the quoter's own checks; it must stay 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from polybot.domain.book_effects import BookState
from polybot.domain.book_sync import BookSync
from polybot.domain.book_verify import MarketMeta, venue_number
from polybot.domain.market_books import MarketBooks
from polybot.domain.quote_books import agreed_tick, mirrored, quote_book, target_crosses
from polybot.domain.quote_inputs import Decision, OurState, QuoteBook, QuoteMarket, TargetOrder
from polybot.domain.quoting import SpreadQuoter

# Stand-ins for a token the recording never names: its book is the mirror of the other's.
UNNAMED_YES, UNNAMED_NO = "unnamed-yes-token", "unnamed-no-token"
# What a consumer of the feed would see of the replayed book, by the book machine's state.
_FEED_STATE = {BookState.LIVE: "live", BookState.UNVERIFIED: "unverified"}
_NOTHING = OurState()


@dataclass(frozen=True, slots=True)
class ReplayDecision:
    ts_ms: int
    decision: Decision
    yes_token: str


def feed_book(sync: BookSync | None, asset_id: str, now_ms: int) -> QuoteBook | None:
    """The replayed book of one token as the quoter would be served it, as ``asset_id`` (``None``: no book yet)."""
    if sync is None or not sync.has_book:
        return None
    state = _FEED_STATE.get(sync.state, "resyncing")
    return quote_book(asset_id, state, sync.book, Decimal(sync.meta.tick_size), max(0, now_ms - sync.book_ts_ms),
                      sync.resync_reason)


class QuoteReplay:
    """Runs a SpreadQuoter over one market's replayed books and counts what it decides."""

    def __init__(self, market_id: str, meta: MarketMeta, quoter: SpreadQuoter, *,
                 keep_decisions: bool = False) -> None:
        self.market_id = market_id
        self.meta = meta
        self.quoter = quoter
        self.keep_decisions = keep_decisions
        self.decisions: list[ReplayDecision] = []
        self.plans = 0
        self.suppressed: Counter[str] = Counter()
        self.crossed = 0
        self.tokens: tuple[str | None, str | None] = (None, None)  # the market's assets, as the recording names them
        # The ids the quoter knows the two tokens by, fixed at its first decision: a token the recording names
        # only later keeps its stand-in, or the quoter would see a new market and re-target for nothing.
        self._ids: tuple[str, str] | None = None

    def decide(self, books: MarketBooks, now_ms: int) -> Decision:
        """What the SpreadQuoter decides from the books as they stand at ``now_ms``; counted."""
        market, quoted = self._inputs(books, now_ms)
        decision = self.quoter.decide(market, quoted, _NOTHING, now_ms)
        if decision.action == "hold":
            self.suppressed[decision.reason] += 1
        else:
            self.plans += 1
        if decision.orders:
            yes, no = quoted.get(market.yes_token), quoted.get(market.no_token)
            # A target with no book to stand on is as wrong as one that crosses it.
            if yes is None or no is None or target_crosses(decision.orders, yes, no, market.yes_token):
                self.crossed += 1
        if self.keep_decisions:
            self.decisions.append(ReplayDecision(now_ms, decision, market.yes_token))
        return decision

    def _inputs(self, books: MarketBooks, now_ms: int) -> tuple[QuoteMarket, dict[str, QuoteBook]]:
        assets = books.assets_of(self.market_id)[:2]
        self.tokens = (assets[0] if assets else None, assets[1] if len(assets) > 1 else None)
        if self._ids is None:
            self._ids = (self.tokens[0] or UNNAMED_YES, self.tokens[1] or UNNAMED_NO)
        yes_id, no_id = self._ids
        yes_sync = books.get(self.tokens[0]) if self.tokens[0] is not None else None
        no_sync = books.get(self.tokens[1]) if self.tokens[1] is not None else None
        yes, no = feed_book(yes_sync, yes_id, now_ms), feed_book(no_sync, no_id, now_ms)
        if yes is None and no is not None:
            yes = mirrored(no, yes_id)
        elif no is None and yes is not None:
            no = mirrored(yes, no_id)
        quoted = {b.asset_id: b for b in (yes, no) if b is not None}
        flag_tick = Decimal(self.meta.tick_size)
        tick = agreed_tick(quoted.values(), flag_tick) or flag_tick
        market = QuoteMarket(self.market_id, yes_id, no_id, tick, min_order_size=Decimal(self.meta.min_order_size),
                             neg_risk=self.meta.neg_risk)
        return market, quoted

    def summary(self) -> dict[str, Any]:
        """The keys ``--strategy`` adds to the replay's summary (``decisions`` only when kept)."""
        yes, no = self.tokens
        out: dict[str, Any] = {
            "strategy": "spread",
            "tokens": {"yes": yes, "no": no},
            "plans": self.plans,
            "suppressed": dict(sorted(self.suppressed.items())),
            "crossed": self.crossed,
        }
        if self.keep_decisions:
            out["decisions"] = [decision_row(d) for d in self.decisions]
        return out


def order_text(order: TargetOrder, yes_token: str) -> str:
    """``BUY 10 YES @ 0.48``: side, size, outcome (the token's), price, as the venue writes numbers."""
    outcome = "YES" if order.asset_id == yes_token else "NO"
    return f"{order.side} {venue_number(order.size)} {outcome} @ {venue_number(order.price)}"


def decision_row(d: ReplayDecision) -> dict[str, Any]:
    dec = d.decision
    return {"ts_ms": d.ts_ms, "action": dec.action, "reason": dec.reason,
            "orders": [order_text(o, d.yes_token) for o in dec.orders],
            "fair": None if dec.fair is None else venue_number(dec.fair)}
