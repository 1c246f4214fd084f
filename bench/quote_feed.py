"""The feeder of ``bench/quote.py``, run as its child process: the ingestor's side (books in) and the plans'
subscriber (plans out), so that both ends of a latency are read off one clock.

It publishes every market's ``MarketInfo`` and its books' first snapshots, waits for a first plan of every
market, then feeds book deltas at the rate asked (a market event is both tokens' deltas, one batch) and times
each ``quote`` plan from the move that caused it. It talks to the bench on stdout: ``ready``, ``quoting``,
``measuring``, then ``done <json>``. ``Book`` (how the bench moves a recorded book) and the recorded books are
shared with the pure-decision part of ``quote.py``.

    python bench/quote_feed.py --nats URL --run-id N --markets 100 --rate 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg

from polybot.bus import subjects
from polybot.bus.client import Bus, Outgoing
from polybot.bus.codec import decode, encode_book_delta
from polybot.bus.messages import BookLevel, BookSnapshot, BookStatus, MarketInfo, OutcomeToken, QuotePlan
from polybot.domain.book import Side
from polybot.domain.quote_inputs import QuoteBook
from polybot.runtime.eventloop import freeze_startup_heap, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import quote_kit  # the tests' reading of the recorded venue books

D = Decimal
ONE = D(1)
REWARDS = {"rewards_max_spread": D("3.5"), "rewards_min_size": D(50)}  # as Gamma's recorded markets pay
Change = tuple[Side, Decimal, Decimal]  # (side, price, new absolute size; 0 removes)


class Book:
    """One market's YES book (price → size) as the bench moves it; the NO book is its mirror."""

    def __init__(self, yes: QuoteBook, tick: Decimal) -> None:
        self.tick = tick
        self.bids = dict(yes.bids)
        self.asks = dict(yes.asks)
        self.taken: list[tuple[Decimal, Decimal]] = []  # the asks a move took, to put back
        self.wiggles = 0

    def move(self) -> list[Change]:
        """Take the best asks until the ask is 2 ticks up (the mid moves ≥ 1 tick), or put them back. Only
        removals, then only re-additions above the bid: neither token's message alone can lock the books."""
        if self.taken:
            back, self.taken = self.taken, []
            self.asks.update(back)
            return [("SELL", p, s) for p, s in back]
        ask = min(self.asks)
        while len(self.asks) > 1 and min(self.asks) < ask + 2 * self.tick:
            p = min(self.asks)
            self.taken.append((p, self.asks.pop(p)))
        return [("SELL", p, D(0)) for p, _ in self.taken]

    def wiggle(self) -> list[Change]:
        """A size change at the touch or up to three levels deep, alternating sides: the prices stay."""
        i = self.wiggles = self.wiggles + 1
        side: Side = "BUY" if i % 2 else "SELL"
        levels = self.bids if side == "BUY" else self.asks
        ordered = sorted(levels, reverse=side == "BUY")
        price = ordered[(i // 2) % min(4, len(ordered))]
        step = ONE if (i // 8) % 2 or levels[price] <= 2 else -ONE
        size = levels[price] = levels[price] + step
        return [(side, price, size)]

    def quote_books(self, yes: str, no: str, age_ms: int = 100) -> dict[str, QuoteBook]:
        bids = tuple(sorted(self.bids.items(), reverse=True))
        asks = tuple(sorted(self.asks.items()))
        book = QuoteBook(yes, "live", bids, asks, self.tick, age_ms)
        return {yes: book, no: quote_kit.mirror(book, no)}

    def best(self) -> tuple[Decimal, Decimal]:
        return max(self.bids), min(self.asks)


def mirror_changes(changes: list[Change]) -> list[Change]:
    """The NO token's side of the same change: a YES bid at p is a NO ask at 1 - p."""
    return [("SELL" if side == "BUY" else "BUY", ONE - p, s) for side, p, s in changes]


def recorded_books() -> Iterator[tuple[str, Decimal, QuoteBook]]:
    for name in quote_kit.RECORDED:
        tick, books = quote_kit.recorded(name)
        yield name, D(tick), books[quote_kit.YES]


def quantiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    if not s:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "mean": float("nan"), "max": float("nan")}

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))]

    return {"n": len(s), "p50": q(0.50), "p99": q(0.99), "mean": sum(s) / len(s), "max": s[-1]}



MOVE_AT_MS, CYCLE_MS = (0, 800), 3_600


class FedMarket:
    """One market on the bus: its ids, its book, and where its feed stands."""

    def __init__(self, i: int, run_id: int, n_markets: int, name: str, tick: Decimal, yes: QuoteBook) -> None:
        self.cid = f"0x{run_id:012x}{i:052x}"
        self.yes, self.no = f"{run_id}{i:05d}1", f"{run_id}{i:05d}2"
        self.tick = tick
        self.book = Book(yes, tick)
        self.rewards = i % 2 == 1
        self.phase_ms = i * CYCLE_MS // n_markets  # markets move at different moments
        self.moves = 0
        self.seq = {self.yes: 1, self.no: 1}
        self.name = name

    def info(self, ts_ms: int) -> MarketInfo:
        end = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        return MarketInfo(condition_id=self.cid, question=f"bench quote {self.name} #{self.cid[-4:]}?",
                          tokens=(OutcomeToken(token_id=self.yes, outcome="Yes", index=0),
                                  OutcomeToken(token_id=self.no, outcome="No", index=1)),
                          tick_size=self.tick, min_order_size=D(5), end_date=end, selected_for_making=False,
                          ts_ms=ts_ms, **(REWARDS | {"rewards_daily_rate": D(100)} if self.rewards else {}))

    def initial(self, ts_ms: int) -> list[Outgoing]:
        """Each token's state (live) and its verified snapshot at (epoch 1, seq 1), as the ingestor opens."""
        out = []
        books = self.book.quote_books(self.yes, self.no)
        for asset, qb in books.items():
            snap = BookSnapshot(asset_id=asset, market=self.cid, seq=1, ts_ms=ts_ms, tick_size=self.tick,
                                bids=tuple(BookLevel(price=p, size=s) for p, s in qb.bids),
                                asks=tuple(BookLevel(price=p, size=s) for p, s in qb.asks),
                                min_order_size=D(5), reason="bench", epoch=1, verified=True)
            state = BookStatus(asset_id=asset, market=self.cid, state="live", ts_ms=ts_ms, epoch=1, seq=1)
            out.append(Outgoing(subjects.book_state(asset), state, f"{asset}:1:1:state:live:{ts_ms}"))
            out.append(Outgoing(subjects.book_snapshot(asset), snap, f"{asset}:1:1:snapshot:{ts_ms}"))
        return out

    def event(self, t_ms: float, wall_ms: int, dry: bool = False) -> tuple[bool, list[Outgoing]]:
        """The market's next venue change at ``t_ms`` into the run: (a move?, both tokens' deltas); ``dry``:
        only take note of the move points passed."""
        cycle, into = divmod(t_ms + self.phase_ms, CYCLE_MS)
        due = int(cycle) * len(MOVE_AT_MS) + sum(into >= at for at in MOVE_AT_MS)
        is_move = due > self.moves
        self.moves = max(self.moves, due)
        if dry:
            return False, []
        changes = self.book.move() if is_move else self.book.wiggle()
        bid, ask = self.book.best()
        out = []
        for asset, ch, bb, ba in ((self.yes, changes, bid, ask), (self.no, mirror_changes(changes), ONE - ask,
                                                                   ONE - bid)):
            seq = self.seq[asset] = self.seq[asset] + 1
            payload = encode_book_delta(asset, self.cid, seq, wall_ms, wall_ms, ch, None, bb, ba, epoch=1)
            out.append(Outgoing(subjects.book_delta(asset), payload, f"{asset}:1:{seq}"))
        return is_move, out


class PlanWatch:
    """The plans of this run's markets as they arrive; a ``quote`` is timed from the move before it."""

    def __init__(self, cids: set[str]) -> None:
        self.cids = cids
        self.seen: set[str] = set()
        self.moved_ns: dict[str, int] = {}  # market → when its last move not yet answered was published
        self.samples_ms: list[float] = []
        self.plans: Counter[str] = Counter()
        self.unattributed = 0
        self.measuring = False

    async def on_msg(self, msg: Msg) -> None:
        at = time.perf_counter_ns()
        cid = msg.subject.rsplit(".", 1)[-1]
        if cid not in self.cids:
            return  # another run's plans on a shared server
        plan = decode(msg.data)
        assert isinstance(plan, QuotePlan)
        self.seen.add(cid)
        if not self.measuring:
            return
        self.plans[plan.reason if plan.orders else f"pull/{plan.reason}"] += 1
        if plan.reason == "quote" and plan.orders:
            moved = self.moved_ns.pop(cid, None)
            if moved is None:
                self.unattributed += 1  # a quote no move of ours explains (a held move the timer released)
            else:
                self.samples_ms.append((at - moved) / 1e6)



async def feed(feeder: Bus, markets: list[FedMarket], rate: float, seconds: float, warmup_s: float,
               watch: PlanWatch, measure: Callable[[], None]) -> float:
    """Publish market events at ``rate / 2`` per second (two book messages each) for ``warmup_s`` and then
    ``seconds`` (``measure`` is called between the two); the rate achieved after the warm-up."""
    per_s = rate / 2
    n_warm, n = int(per_s * warmup_s), int(per_s * (warmup_s + seconds))
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()
    t0 = loop.time()
    for m in markets:  # the first move of each market comes at its next move point, not at once
        m.event(0.0, 0, dry=True)
    t_measured = t0
    for k in range(n):
        delay = t0 + k / per_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if k == n_warm:
            measure()
            t_measured = loop.time()
        m = markets[k % len(markets)]
        is_move, out = m.event((loop.time() - t0) * 1000, time.time_ns() // 1_000_000)
        if is_move:
            watch.moved_ns[m.cid] = time.perf_counter_ns()
        task = asyncio.create_task(feeder.publish_batch(out))
        pending.add(task)
        task.add_done_callback(pending.discard)
    elapsed = loop.time() - t_measured
    await asyncio.gather(*list(pending))
    return 2 * (n - n_warm) / elapsed


async def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def fed_markets(run_id: int, n_markets: int) -> list[FedMarket]:
    books = list(recorded_books())
    return [FedMarket(i, run_id, n_markets, *books[i % len(books)]) for i in range(n_markets)]


async def feeder_main(args: argparse.Namespace) -> None:
    """The feeder process (the ingestor's side, and the plans' subscriber: one clock for both ends). It
    talks to the bench on stdout: ``ready``, ``measuring``, then ``done <json>``."""
    markets = fed_markets(args.run_id, args.markets)
    watch = PlanWatch({m.cid for m in markets})
    bus = await Bus.connect(args.nats, "bench-quote-feed")
    try:
        await bus.ensure_streams()
        now = time.time_ns() // 1_000_000
        await bus.publish_batch([Outgoing(subjects.gamma_market(m.cid), m.info(now), f"bench:{m.cid}:{now}")
                                 for m in markets], timeout_s=30)
        await bus.publish_batch([o for m in markets for o in m.initial(now)], timeout_s=30)
        sub = await bus.nc.subscribe(subjects.QUOTE_PLAN_ALL, cb=watch.on_msg)
        print("ready", flush=True)
        await wait_for(lambda: watch.seen >= watch.cids, 60, "a first plan of every market")
        print("quoting", flush=True)
        freeze_startup_heap()

        def measure() -> None:
            watch.measuring = True
            watch.moved_ns.clear()  # a warm-up move is not timed
            print("measuring", flush=True)

        achieved = await feed(bus, markets, args.rate, args.seconds, CYCLE_MS / 1000, watch, measure)
        await asyncio.sleep(0.3)  # the last plans
        watch.measuring = False
        await sub.unsubscribe()
        print("done " + json.dumps({"rate": achieved, "book_to_plan_ms": quantiles(watch.samples_ms),
                                    "plans": dict(watch.plans), "unattributed_quotes": watch.unattributed}),
              flush=True)
    finally:
        await bus.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--markets", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    run(feeder_main(parser.parse_args()))  # the event loop the services run on (uvloop)
