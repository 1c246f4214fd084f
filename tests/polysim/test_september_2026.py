"""``SimConfig.september_2026``: the market channel speaks like the venue's September 2026 recordings.

Checked on the engine's own stream (deterministic, no sockets) by ``SeptMirror``, an independent client
model that knows the three habits and nothing of polysim's or polybot's hashing:

(a) frames sharing a timestamp carry, per asset, one hash: the book's after the last of them;
(b) each token's hash carries the last trade in its own terms (``1 − p`` for the other token), announced
    20–80 ms after the books, or never;
(c) post-trade books: event_type first, asks before bids, ``", "`` separators, no tick_size, no ltp.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from polysim.clob_wire import book_json
from polysim.config import SimConfig
from polysim.context import SimContext, build_context
from polysim.market_wire import MarketMessage

T0 = 1_760_000_000_000


def f10(market: str, asset: str, ts: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
        min_size: str, tick: str, neg_risk: bool, ltp: str) -> str:
    payload = {"market": market, "asset_id": asset, "timestamp": ts, "hash": "",
               "bids": [{"price": p, "size": s} for p, s in bids], "asks": [{"price": p, "size": s} for p, s in asks],
               "min_order_size": min_size, "tick_size": tick, "neg_risk": neg_risk, "last_trade_price": ltp}
    return hashlib.sha1(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def ltp3(price: Decimal) -> str:
    return str(price.quantize(Decimal("0.001"))) if price == price.quantize(Decimal("0.001")) else str(price)


class SeptMirror:
    """Books per asset; checks each asset's hash once its timestamp is over, against the book then, with an
    ltp it believes (the last few announced or found, announcements in each token's terms: one trade's books
    may come before the previous trade is announced), else one a changed level implies, else any price of
    the tick grid (a trade never announced)."""

    def __init__(self, meta: dict[str, tuple[str, bool]], pairs: dict[str, str]) -> None:
        self.meta = meta
        self.other = pairs  # asset -> the other token of its market
        self.books: dict[str, dict[str, dict[str, str]]] = {}
        self.market_of: dict[str, str] = {}
        self.tick: dict[str, str] = {}
        self.ltp: dict[str, list[str]] = {}  # recent ltps per asset, newest first
        self.hints: dict[str, list[Decimal]] = {}
        self.group_ts = 0
        self.group: list[tuple[str, str]] = []  # (asset, hash) of the current timestamp
        self.frames = self.checked = self.shared = self.by_hint = self.by_grid = 0
        self.unexplained: list[str] = []
        self.unshared: list[str] = []
        self.announced: dict[tuple[str, str], list[int]] = {}  # (market, ltp) -> when, in both terms
        self.found: set[tuple[str, int, str]] = set()  # (market, ms, ltp) learnt from a hash, not announced yet

    def wire(self, asset: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        side = self.books[asset]
        return (sorted(side["BUY"].items(), key=lambda kv: Decimal(kv[0])),
                sorted(side["SELL"].items(), key=lambda kv: Decimal(kv[0]), reverse=True))

    def feed(self, text: str) -> None:
        data = json.loads(text)
        for event in data if isinstance(data, list) else [data]:
            self.on_event(event)

    def on_event(self, e: dict[str, Any]) -> None:
        kind = e["event_type"]
        if kind in ("book", "price_change"):
            ts = int(e["timestamp"])
            if self.group and ts != self.group_ts:
                self.close()
            self.group_ts = ts
        if kind == "book":
            asset = e["asset_id"]
            self.market_of[asset] = e["market"]
            new = {"BUY": {lv["price"]: lv["size"] for lv in e["bids"]},
                   "SELL": {lv["price"]: lv["size"] for lv in e["asks"]}}
            old = self.books.get(asset, {"BUY": {}, "SELL": {}})
            for side in ("BUY", "SELL"):
                self.hints.setdefault(asset, []).extend(
                    Decimal(p) for p, _ in set(old[side].items()) ^ set(new[side].items()))
            self.books[asset] = new
            if "tick_size" in e:
                self.tick[asset] = e["tick_size"]
            if "last_trade_price" in e:
                self.believe(asset, e["last_trade_price"])
            self._frame(asset, e["hash"])
        elif kind == "price_change":
            for c in e["price_changes"]:
                asset = c["asset_id"]
                side = self.books[asset]["BUY" if c["side"] == "BUY" else "SELL"]
                if Decimal(c["size"]):
                    side[c["price"]] = c["size"]
                else:
                    side.pop(c["price"], None)
                self.hints.setdefault(asset, []).append(Decimal(c["price"]))
                self._frame(asset, c["hash"])
        elif kind == "last_trade_price":
            price = Decimal(e["price"])
            for ltp in (ltp3(price), ltp3(1 - price)):
                self.announced.setdefault((e["market"], ltp), []).append(int(e["timestamp"]))
            self.believe(e["asset_id"], ltp3(price))
            self.believe(self.other[e["asset_id"]], ltp3(1 - price))

    def believe(self, asset: str, ltp: str) -> None:
        recent = [ltp, *(x for x in self.ltp.get(asset, []) if x != ltp)]
        self.ltp[asset] = recent[:4]

    def _frame(self, asset: str, digest: str) -> None:
        self.frames += 1
        self.group.append((asset, digest))

    def close(self) -> None:
        group, self.group = self.group, []
        for asset in dict.fromkeys(a for a, _ in group):
            sent = [d for a, d in group if a == asset]
            if len(set(sent)) > 1:
                self.unshared.append(f"{asset} at {self.group_ts}")
            self.shared += len(sent) > 1
            self._check(asset, sent[-1])

    def _check(self, asset: str, sent: str) -> None:
        self.checked += 1
        bids, asks = self.wire(asset)
        min_size, neg_risk = self.meta[asset]
        tick = self.tick[asset]

        def ok(ltp: str) -> bool:
            return f10(self.market_of[asset], asset, str(self.group_ts), bids, asks, min_size, tick, neg_risk,
                       ltp) == sent

        hints = self.hints.pop(asset, [])
        for ltp in self.ltp.get(asset, [""]):
            if ok(ltp):
                self.believe(asset, ltp)
                return
        for p in hints:
            for ltp in (ltp3(p), ltp3(1 - p)):
                if ok(ltp):
                    self.believe(asset, ltp)
                    self.found.add((self.market_of[asset], self.group_ts, ltp))
                    self.by_hint += 1
                    return
        step = Decimal(tick)
        for k in range(1, int(1 / step)):
            if ok(ltp3(k * step)):
                self.believe(asset, ltp3(k * step))
                self.found.add((self.market_of[asset], self.group_ts, ltp3(k * step)))
                self.by_grid += 1
                return
        self.unexplained.append(f"{asset} at {self.group_ts}: {sent}")


def start(seed: int, **overrides: Any) -> tuple[SimContext, list[MarketMessage]]:
    cfg = SimConfig(seed=seed, n_markets=6, lp_rate_hz=20, taker_rate_hz=6, start_ms=T0, september_2026=True,
                    **overrides)
    ctx = build_context(cfg)
    out: list[MarketMessage] = []
    ctx.engine.wire.sinks.append(out.append)
    return ctx, out


def run(ctx: SimContext, step_ms: int, until_ms: int) -> None:
    for t in range(step_ms, until_ms + 1, step_ms):
        ctx.engine.step(T0 + t)


def mirror_of(ctx: SimContext) -> SeptMirror:
    """A client subscribed to every token at the start: REST metadata, then the initial dump."""
    engine = ctx.engine
    meta: dict[str, tuple[str, bool]] = {}
    pairs: dict[str, str] = {}
    dump = []
    for m in ctx.catalog.markets:
        pairs.update({m.token_ids[0]: m.token_ids[1], m.token_ids[1]: m.token_ids[0]})
        for ti, token in enumerate(m.token_ids):
            book = engine.book(m.condition_id)
            rest = json.loads(book_json(book, ti))
            meta[token] = (rest["min_order_size"], rest["neg_risk"])
            dump.append(engine.wire.book_text(book, ti, book.updated_ms, dump=True))
    mirror = SeptMirror(meta, pairs)
    mirror.feed("[" + ",".join(dump) + "]")
    mirror.close()
    return mirror


def test_every_hash_verifies_once_the_three_habits_are_known() -> None:
    ctx, out = start(5)
    mirror = mirror_of(ctx)
    run(ctx, 50, 30_000)
    for message in out:
        mirror.feed(message.text)
    mirror.close()
    assert mirror.unexplained == [] and mirror.unshared == []
    assert mirror.checked > 2000
    assert mirror.shared > 100  # (a) many timestamps with several frames of one asset
    assert mirror.by_hint > 300  # (b) the ltp ran ahead of the announcements ...
    never = {(market, ms) for market, ms, ltp in mirror.found
             if not any(0 < at - ms <= 100 for at in mirror.announced.get((market, ltp), []))}
    assert len(never) > 20  # ... and some trades were never announced (their price is in no frame)


def test_post_trade_books_are_spelled_as_in_september_and_trades_are_announced_late_or_never() -> None:
    ctx, out = start(6)
    run(ctx, 50, 30_000)
    books = [m for m in out if m.kind == "book"]
    trades = [m for m in out if m.kind == "last_trade_price"]
    assert books and trades
    for m in books:
        assert m.text.startswith('{"event_type": "book", "asset_id": "')
        assert m.text.index('"asks": [') < m.text.index('"bids": [') and '", "' in m.text
        book = json.loads(m.text)
        assert list(book) == ["event_type", "asset_id", "market", "timestamp", "hash", "asks", "bids"]
    trade_ms = {(m.market, m.ts_ms) for m in books}
    announced = 0
    for m in trades:
        delays = [m.ts_ms - ts for market, ts in trade_ms if market == m.market and 20 <= m.ts_ms - ts <= 80]
        assert delays, f"a trade announced without its books 20–80 ms before: {m.text}"
        announced += 1
    assert 0.8 * len(trade_ms) < announced < 0.95 * len(trade_ms)  # one trade in eight is never announced
    # The announcement always comes after the books of its trade, and the other token's book hashed the
    # complement of the price it announces (each token its own terms).
    position = {id(m): i for i, m in enumerate(out)}
    complements = 0
    for m in trades:
        mine = [b for b in books if b.market == m.market and 20 <= m.ts_ms - b.ts_ms <= 80]
        assert position[id(m)] > min(position[id(b)] for b in mine)
        trade = json.loads(m.text)
        market = ctx.catalog.by_condition[m.market]
        tick = str(Decimal(market.tick_units) / 10_000).rstrip("0")
        others = [json.loads(b.text) for b in mine if b.assets != (trade["asset_id"],)]
        complements += any(o["hash"] == f10(m.market, o["asset_id"], o["timestamp"],
                                            [(lv["price"], lv["size"]) for lv in o["bids"]],
                                            [(lv["price"], lv["size"]) for lv in o["asks"]],
                                            str(market.min_order_size), tick, market.neg_risk,
                                            ltp3(1 - Decimal(trade["price"]))) for o in others)
    assert complements == len(trades)


def test_the_stream_is_the_same_however_the_engine_is_stepped() -> None:
    fine_ctx, fine = start(9)
    run(fine_ctx, 7, 20_006)
    coarse_ctx, coarse = start(9)
    run(coarse_ctx, 1000, 21_000)
    cut = T0 + 20_006  # the last fine step (a multiple of 7)
    assert len(fine) > 1000
    assert [m.text for m in fine if m.ts_ms <= cut] == [m.text for m in coarse if m.ts_ms <= cut]


def test_off_by_default_and_on_from_the_command_line() -> None:
    from polysim.cli_args import config_from_args

    assert SimConfig().september_2026 is False
    assert config_from_args([])[0].september_2026 is False
    assert config_from_args(["--september-2026"])[0].september_2026 is True
