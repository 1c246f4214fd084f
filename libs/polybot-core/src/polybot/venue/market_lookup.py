"""From what an operator pastes (a polymarket.com URL, or words) to one market and one outcome token. Pure.

URLs the site uses: ``https://polymarket.com/event/<event-slug>`` (an event: one market, or a group of
them), ``…/event/<event-slug>/<market-slug>`` (one market of a group) and ``…/market/<market-slug>``; with
or without ``www.``, a query string (``?tid=…``) or a trailing slash. Anything else is refused here, before
a request is made. An event or a search that yields several markets is never guessed at: it is
``AmbiguousMarket``, listing each candidate's ``event-slug/market-slug`` so the operator can pick one URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

SITE_HOSTS = ("polymarket.com", "www.polymarket.com")
URL_FORMS = ("https://polymarket.com/event/<event-slug>", "https://polymarket.com/event/<event-slug>/<market-slug>",
             "https://polymarket.com/market/<market-slug>")
_SHOWN = 10  # candidates named in an error line; the rest are counted


class MarketLookupError(ValueError):
    """The text cannot name one market (a bad URL, nothing found, an unknown outcome)."""


class AmbiguousMarket(MarketLookupError):
    def __init__(self, what: str, candidates: list[MarketInfo]) -> None:
        self.candidates = candidates
        names = ", ".join(c.label() for c in candidates[:_SHOWN])
        more = f" and {len(candidates) - _SHOWN} more" if len(candidates) > _SHOWN else ""
        super().__init__(f"{what} matches {len(candidates)} markets: {names}{more}; pick one with "
                         f"--url https://polymarket.com/event/<event-slug>/<market-slug>")


@dataclass(frozen=True, slots=True)
class MarketRef:
    """What a URL names: an event (``market_slug`` None) or one market (``event_slug`` None for /market/)."""

    kind: Literal["event", "market"]
    event_slug: str | None
    market_slug: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    token_id: str


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """A market as Gamma lists it, reduced to what trading it by hand needs."""

    slug: str
    question: str
    condition_id: str
    event_slug: str | None
    outcomes: tuple[Outcome, ...]
    tick_size: Decimal | None
    min_order_size: Decimal | None
    accepting_orders: bool
    active: bool
    closed: bool
    neg_risk: bool

    def label(self) -> str:
        name = f"{self.event_slug}/{self.slug}" if self.event_slug else self.slug
        return f"{name} ({self.question})" if self.question else name


def parse_market_url(url: str) -> MarketRef:
    """The event or market a polymarket.com URL names; ``MarketLookupError`` for anything else."""
    text = url.strip()
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise MarketLookupError(f"{url!r} is not a URL ({exc}): use {' or '.join(URL_FORMS)}") from None
    if parts.scheme.lower() not in ("http", "https") or host not in SITE_HOSTS or port is not None:
        raise MarketLookupError(f"{url!r} is not a polymarket.com URL: use {' or '.join(URL_FORMS)}")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) in (2, 3) and segments[0] == "event":
        return MarketRef("event" if len(segments) == 2 else "market", segments[1],
                         segments[2] if len(segments) == 3 else None)
    if len(segments) == 2 and segments[0] == "market":
        return MarketRef("market", None, segments[1])
    raise MarketLookupError(f"{url!r} names no event or market: use {' or '.join(URL_FORMS)}")


def only_market(what: str, candidates: list[MarketInfo], text: str | None = None) -> MarketInfo:
    """The one market among ``candidates``; with several, the one whose question or slug holds ``text``
    (a search for "outcome 2" in a group of three), else ``AmbiguousMarket``."""
    if not candidates:
        raise MarketLookupError(f"{what} matches no market: check the spelling, or pass --url")
    if len(candidates) == 1:
        return candidates[0]
    if text:
        needle = text.strip().lower()
        named = [c for c in candidates if needle in c.question.lower() or needle in c.slug.lower()]
        if len(named) == 1:
            return named[0]
    raise AmbiguousMarket(what, candidates)


def pick_outcome(market: MarketInfo, name: str | None) -> Outcome:
    """The outcome called ``name`` (any case); without a name the market's first outcome (YES)."""
    if not market.outcomes:
        raise MarketLookupError(f"market {market.slug} lists no outcome tokens: it cannot be traded")
    if name is None:
        return market.outcomes[0]
    wanted = name.strip().lower()
    for outcome in market.outcomes:
        if outcome.label.lower() == wanted:
            return outcome
    labels = ", ".join(o.label for o in market.outcomes)
    raise MarketLookupError(f"market {market.slug} has no outcome {name!r}: its outcomes are {labels}")
