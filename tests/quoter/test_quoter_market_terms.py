"""A ``MarketInfo`` update is decided on its new terms at once: a quoted market closed at Gamma is pulled
(``market_closed``) and quotes again when it reopens. The quoter keeps each market's terms between decisions
(rebuilt when the tick it quotes on is another one), so the books here stand on the ingestor's snapshots (the
quoter starts after them: they carry the tick) and the venue is frozen: only the update can tell."""

from __future__ import annotations

import asyncio
import contextlib
import random

from ingest_kit import BUSY, last_snapshot, running_ingestor, settings_for
from quoter_kit import PlanTap, market_info, publish_markets, running_quoter, set_kill, settings

from polybot.bus.client import Bus
from polysim.harness import running_sim


async def _snapshots(bus: Bus, assets: list[str], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    for asset in assets:
        while True:
            with contextlib.suppress(Exception):
                await last_snapshot(bus, asset)
                break
            assert loop.time() < deadline, f"no snapshot of {asset} on the bus"
            await asyncio.sleep(0.05)


async def test_a_market_closed_at_gamma_is_pulled_and_quotes_again_when_it_reopens(bus: Bus) -> None:
    async with running_sim(seed=random.randrange(10**6, 10**9), n_markets=1, fine_ticks=False, **BUSY) as sim, \
            running_ingestor(settings_for(sim), bus=bus):
        cid = sim.condition_ids()[0]
        await _snapshots(bus, sim.token_ids(cid))
        sim.freeze()  # no more trades: the books stand still on their snapshots
        await set_kill(bus, False)  # another test may have left it engaged on PB_CONTROL
        await publish_markets(bus, [market_info(sim, cid)])
        tap = await PlanTap().start(bus)
        try:
            async with running_quoter(bus, sim, settings([cid], stale_after_ms=60_000)):
                await tap.wait(lambda: [p for p in tap.of(cid) if p.orders], 10, "a target")
                mark = max(p.seq for p in tap.of(cid))
                await publish_markets(bus, [market_info(sim, cid, closed=True)])
                pull = await tap.wait(lambda: next((p for p in tap.of(cid) if p.seq > mark and not p.orders), None),
                                      5, "a pull when Gamma closes the market")
                assert pull.reason == "market_closed", pull
                await publish_markets(bus, [market_info(sim, cid)])
                await tap.wait(lambda: [p for p in tap.of(cid) if p.seq > pull.seq and p.orders], 5,
                               "quotes again when it reopens")
        finally:
            await tap.close()
