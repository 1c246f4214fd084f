"""Reading markets and quotes through Polymarket's unified SDK (``polymarket-client``): the read twin of
``polybot.venue.clob_gateway`` (which holds every order call), for ``polybot market-trade``.

Gamma: an event or a market by slug (``/events/slug/…``, ``/markets/slug/…``) and the public search
(``/public-search``); the CLOB: ``/book``, ``/price`` (both sides), ``/midpoint`` and ``/spread`` of one
token. Works with the SDK's public client (no key: a snapshot) and its secure one alike; polysim serves the
same routes, so the same calls read either. A read the venue refuses (a token without a book has no
``/midpoint``) leaves that quote ``None`` and says why in ``Quotes.problems``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from polymarket.errors import PolymarketError, RequestRejectedError

from polybot.venue.market_lookup import MarketInfo, MarketLookupError, MarketRef, Outcome

if TYPE_CHECKING:
    from polymarket.models import Event, Market

_SEARCH_PAGE = 20  # events of the search's first page; a query needing more is too vague to trade on


class MarketReadError(RuntimeError):
    """The venue could not be read (down, refusing, or answering what the SDK cannot parse)."""


class _Reads(Protocol):  # what AsyncPublicClient and AsyncSecureClient both offer
    async def get_market(self, *, slug: str) -> Market: ...

    async def get_event(self, *, slug: str) -> Event: ...

    def search(self, *, q: str, page_size: int = ...) -> Any: ...

    async def get_order_book(self, *, token_id: str) -> Any: ...

    async def get_price(self, *, token_id: str, side: Any) -> Decimal: ...

    async def get_midpoint(self, *, token_id: str) -> Decimal: ...

    async def get_spread(self, *, token_id: str) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Quotes:
    """One token's quotes. ``price_buy``/``price_sell`` are ``/price`` of each side (the venue answers the
    best bid for BUY and the best ask for SELL); best bid/ask, tick and min size are the CLOB book's."""

    price_buy: Decimal | None = None
    price_sell: Decimal | None = None
    midpoint: Decimal | None = None
    spread: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    neg_risk: bool | None = None
    problems: tuple[str, ...] = field(default=())


def market_info(m: Market, event_slug: str | None = None) -> MarketInfo:
    outcomes = tuple(Outcome(o.label, str(o.token_id)) for o in (m.outcomes.yes, m.outcomes.no) if o.token_id)
    events = [e.slug for e in m.events if e.slug]
    st = m.state
    return MarketInfo(
        slug=m.slug or m.id, question=m.question or "", condition_id=m.condition_id or "",
        event_slug=event_slug or (events[0] if events else None), outcomes=outcomes,
        tick_size=m.trading.minimum_tick_size, min_order_size=m.trading.minimum_order_size,
        accepting_orders=bool(st.accepting_orders) and st.enable_order_book is not False,
        active=st.active is not False, closed=bool(st.closed), neg_risk=bool(st.neg_risk))


def _not_found(exc: PolymarketError) -> bool:
    return isinstance(exc, RequestRejectedError) and exc.status == 404


class MarketReader:
    def __init__(self, client: _Reads, *, timeout_s: float = 10.0) -> None:
        self.client = client
        self.timeout_s = timeout_s

    async def _call(self, what: str, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, self.timeout_s)
        except (PolymarketError, TimeoutError, OSError) as exc:
            if isinstance(exc, PolymarketError) and _not_found(exc):
                raise MarketLookupError(f"{what}: not found") from exc
            raise MarketReadError(f"{what}: {type(exc).__name__}: {exc}") from exc

    async def candidates(self, ref: MarketRef) -> list[MarketInfo]:
        """The market a URL names, or every market of the event it names."""
        if ref.market_slug is not None:
            m: Market = await self._call(f"no market with slug {ref.market_slug!r}",
                                         self.client.get_market(slug=ref.market_slug))
            return [market_info(m)]
        assert ref.event_slug is not None
        e: Event = await self._call(f"no event with slug {ref.event_slug!r}",
                                    self.client.get_event(slug=ref.event_slug))
        return [market_info(m, e.slug or ref.event_slug) for m in e.markets]

    async def search(self, text: str) -> list[MarketInfo]:
        """The open markets of the events Gamma's public search finds for ``text`` (first page)."""
        page = await self._call(f"searching {text!r}", self.client.search(q=text, page_size=_SEARCH_PAGE).first_page())
        found: list[MarketInfo] = []
        for results in page.items:
            for e in results.events:
                found += [market_info(m, e.slug) for m in e.markets if not m.state.closed]
        return list({m.condition_id: m for m in found}.values())

    async def quotes(self, token_id: str) -> Quotes:
        """The token's quotes, read at once; each read that fails is a ``None`` and a problem line."""
        reads = {
            "book": self.client.get_order_book(token_id=token_id),
            "price_buy": self.client.get_price(token_id=token_id, side="BUY"),
            "price_sell": self.client.get_price(token_id=token_id, side="SELL"),
            "midpoint": self.client.get_midpoint(token_id=token_id),
            "spread": self.client.get_spread(token_id=token_id),
        }
        answers = await asyncio.gather(*(asyncio.wait_for(c, self.timeout_s) for c in reads.values()),
                                       return_exceptions=True)
        got: dict[str, Any] = {}
        problems: list[str] = []
        for name, answer in zip(reads, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, PolymarketError | TimeoutError | OSError):
                    raise answer
                problems.append(f"/{name.split('_')[0]}: {type(answer).__name__}: {answer}")
            else:
                got[name] = answer
        book = got.pop("book", None)
        if book is None:
            return Quotes(**got, problems=tuple(problems))
        return Quotes(**got, best_bid=max((lv.price for lv in book.bids), default=None),
                      best_ask=min((lv.price for lv in book.asks), default=None), tick_size=book.tick_size,
                      min_order_size=book.min_order_size, neg_risk=book.neg_risk, problems=tuple(problems))
