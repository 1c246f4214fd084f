"""Replay mode: drive the books from a recorded market-channel JSONL instead of the random process.

Each line is one frame (a JSON object or an array of them) as the venue sent it. ``book`` snapshots (also
REST-style books without ``event_type``) replace the crowd's liquidity, ``price_change`` entries (current
``price_changes[]`` and the older ``changes[]`` format) set level sizes, ``last_trade_price`` sets the
market's last trade, ``tick_size_change`` changes the tick. Frames are replayed at their recorded spacing
(divided by ``speed``) from the simulator's start, re-stamped with sim time and re-hashed, so every hash the
simulator sends is consistent with its own books.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polysim.catalog import Catalog, SimEvent, SimMarket
from polysim.crowd import change_levels, reset_book
from polysim.market_admin import change_tick
from polysim.units import ONE, price_units, size_micro

if TYPE_CHECKING:
    from polysim.engine import Engine


def read_frames(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(recorded timestamp ms, event) for every event of every line, in file order."""
    out: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            frame = json.loads(line)
        except json.JSONDecodeError as exc:  # the decoder's "line 1" is the frame's, not the file's
            raise ValueError(f"line {line_no} is not JSON ({exc.msg} at column {exc.colno})") from None
        for event in frame if isinstance(frame, list) else [frame]:
            if isinstance(event, dict) and "market" in event:
                out.append((int(event.get("timestamp") or 0), event))
    return out


def _assets_of(event: dict[str, Any]) -> list[str]:
    if "price_changes" in event:
        return [str(c["asset_id"]) for c in event["price_changes"]]
    return [str(event["asset_id"])] if "asset_id" in event else []


def catalog_from_replay(path: Path, min_order_size: Decimal = Decimal(5)) -> Catalog:
    """Markets named by the recording; a token whose complement never appears gets a derived one."""
    assets: dict[str, list[str]] = {}
    ticks: dict[str, str] = {}
    for _, raw in read_frames(path):
        market = str(raw["market"])
        known = assets.setdefault(market, [])
        for a in _assets_of(raw):
            if a not in known:
                known.append(a)
        if raw.get("tick_size") and market not in ticks:
            ticks[market] = str(raw["tick_size"])
        elif raw.get("old_tick_size") and market not in ticks:
            ticks[market] = str(raw["old_tick_size"])
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    for i, (cid, tokens) in enumerate(assets.items()):
        if not tokens:
            continue
        if len(tokens) == 1:
            tokens.append(str(int(hashlib.sha256(tokens[0].encode()).hexdigest(), 16) % 10**77))
        event = SimEvent(index=i, gamma_id=str(80000 + i), slug=f"replay-event-{i}", title=f"Replayed market {i}",
                         neg_risk=False, tags=())
        sim_market = SimMarket(
            index=i, gamma_id=str(800000 + i), condition_id=cid,
            question_id="0x" + hashlib.sha256(cid.encode()).hexdigest(),
            question=f"Replayed market {i}", slug=f"replay-market-{i}", outcomes=("Yes", "No"),
            token_ids=(tokens[0], tokens[1]), tick_units=price_units(Decimal(ticks.get(cid, "0.01"))),
            min_order_size=min_order_size, neg_risk=False, event=event,
        )
        event.markets.append(sim_market)
        events.append(event)
        markets.append(sim_market)
    return Catalog(events, markets)


def _levels(raw: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(price_units(Decimal(str(lv["price"]))), size_micro(Decimal(str(lv["size"])))) for lv in raw]


class ReplayDriver:
    """Feeds recorded events into the engine at their (scaled) recorded times."""

    def __init__(self, engine: Engine, path: Path, start_ms: int, speed: float = 1.0, loop: bool = False) -> None:
        self.engine = engine
        self.frames = read_frames(path)
        self.speed = speed if speed > 0 else 1.0
        self.loop = loop
        self.base_ms = start_ms
        first = next((ts for ts, _ in self.frames if ts), 0)
        self.offsets = [max(0, round((ts - first) / self.speed)) if ts else 0 for ts, _ in self.frames]
        self.span_ms = (max(self.offsets) if self.offsets else 0) + 1000
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.frames) and not self.loop

    def skip_to(self, now_ms: int) -> None:
        if self.pos < len(self.frames):
            lag = now_ms - (self.base_ms + self.offsets[self.pos])
            if lag > 0:
                self.base_ms += lag

    def advance(self, now_ms: int) -> None:
        while self.frames:
            if self.pos >= len(self.frames):
                if not self.loop:
                    return
                self.pos = 0
                self.base_ms += self.span_ms
            due = self.base_ms + self.offsets[self.pos]
            if due > now_ms:
                return
            self._apply(self.frames[self.pos][1], due)
            self.pos += 1

    def _apply(self, event: dict[str, Any], ts: int) -> None:
        engine = self.engine
        market = engine.catalog.by_condition.get(str(event["market"]))
        if market is None:
            return
        kind = event.get("event_type") or ("book" if "bids" in event else "")
        if kind == "book":
            token = engine.catalog.by_token.get(str(event["asset_id"]))
            if token is not None:
                reset_book(engine, market, token.index, _levels(event["bids"]), _levels(event["asks"]), ts)
        elif kind == "price_change":
            raw = event.get("price_changes") or [
                dict(c, asset_id=event.get("asset_id")) for c in event.get("changes", [])
            ]
            changes: list[tuple[bool, int, int]] = []
            for c in raw:
                token = engine.catalog.by_token.get(str(c.get("asset_id")))
                if token is None:
                    continue
                price = price_units(Decimal(str(c["price"])))
                is_buy = str(c["side"]).upper() == "BUY"
                book_bid = is_buy if token.index == 0 else not is_buy
                book_price = price if token.index == 0 else ONE - price
                changes.append((book_bid, book_price, size_micro(Decimal(str(c["size"])))))
            change_levels(engine, market, changes, ts, absolute=True)
        elif kind == "last_trade_price":
            token = engine.catalog.by_token.get(str(event["asset_id"]))
            if token is not None:
                book = engine.book(market.condition_id)
                price = price_units(Decimal(str(event["price"])))
                side = str(event.get("side", "BUY"))
                size = size_micro(Decimal(str(event.get("size", "0"))))
                book.set_ltp(price, token.index, complement=engine.config.september_2026)
                book.last_trade = (token.index, side, price, size)
                book.updated_ms = ts
                engine.wire.trade(book, token.index, side, price, size, engine.config.fee_rate_bps, ts)
        elif kind == "tick_size_change":
            change_tick(engine, market.condition_id, price_units(Decimal(str(event["new_tick_size"]))), ts)
