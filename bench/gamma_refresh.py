"""Full Gamma refresh of 5,000 markets in 1,000 events against polysim, timed end to end.

Starts ``python -m polysim`` as its own process (like a remote venue: server and client get their own core;
``--in-process`` serves it from this process instead), embedded NATS and PostgreSQL in a temporary
directory, then runs the real pipeline (``GammaRefresher.full``) with default settings:

1. cold: every market is new: parsed, looked up on the CLOB, inserted, published (the ≤ 20 s budget);
2. warm: nothing changed: nothing is written or published;
3. one market patched through polysim's admin route: one update, one publish.

    uv run python bench/gamma_refresh.py [--markets 5000] [--events 1000] [--in-process] [--budget-s 20]

The listings are Gamma's keyset walks (``/events/keyset``, at most 100 events a page), under the client's
token buckets sized below the venue's documented limits. It prints the ingest bench's yardstick (one
pydantic decode of a price_change) so figures from two machines can be compared as ratios.
Exit code 1 when the cold refresh exceeds the budget.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from polybot.app.gamma.refresh import GammaRefresher, RefreshCounts, client_config
from polybot.bus.client import Bus
from polybot.runtime import eventloop
from polybot.runtime.infra import resolve_infra
from polybot.runtime.settings import GammaSettings
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool
from polybot.venue.gamma_client import GammaClient
from polysim.harness import SimProcess, running_sim

sys.path.insert(0, str(Path(__file__).parent))
from ingest import decode_us, make_frames  # the shared yardstick lives in the ingest bench


@contextlib.asynccontextmanager
async def _sim(args: argparse.Namespace, seed: int) -> AsyncIterator[Any]:
    if args.in_process:
        async with running_sim(seed=seed, n_markets=args.markets, n_events=args.events) as sim:
            yield sim
    else:
        async with SimProcess(["--seed", str(seed), "--markets", str(args.markets), "--events",
                               str(args.events)]) as sim:
            yield sim


def _line(label: str, seconds: float, cpu_s: float, counts: RefreshCounts) -> str:
    c = counts
    return (f"{label:<8} {seconds:7.2f} s  (this process {cpu_s:5.2f} s CPU)  markets={c.markets} "
            f"inserted={c.inserted} updated={c.updated} unchanged={c.unchanged} published={c.published} "
            f"clob_lookups={c.clob_enriched} skipped_invalid={c.skipped_invalid}")


async def _run(args: argparse.Namespace, state: Path) -> float:
    infra = resolve_infra(None, None, state, share=False, durable=False)
    try:
        pool = await create_pool(infra.database_url)
        await apply_migrations(pool, ("gamma",))
        bus = await Bus.connect(infra.nats_url, name="bench-gamma")
        await bus.ensure_streams()
        seed = random.randrange(1, 10**9)
        where = "in this process" if args.in_process else "as its own process"
        print(f"polysim {where}: {args.markets} markets in {args.events} events (seed {seed})", flush=True)
        cold = 0.0
        try:
            async with _sim(args, seed) as sim:
                settings = GammaSettings(gamma_url=sim.gamma_url, clob_url=sim.url)
                for label in ("cold", "warm", "patched"):
                    if label == "patched":
                        async with httpx.AsyncClient() as http:
                            page = (await http.get(f"{sim.gamma_url}/markets/keyset", params={"limit": 1})).json()
                            cid = page["markets"][0]["conditionId"]
                            await http.post(f"{sim.url}/_sim/markets/{cid}", json={"orderMinSize": 25})
                    async with GammaClient(client_config(settings)) as client:
                        t0, c0 = time.monotonic(), time.process_time()
                        counts = await GammaRefresher(client, pool, bus, settings).full()
                        took, cpu = time.monotonic() - t0, time.process_time() - c0
                    print(_line(label, took, cpu, counts) + f"  pages={counts.pages} gamma_requests={client.requests}",
                          flush=True)
                    if label == "cold":
                        cold = took
        finally:
            await bus.close()
            await pool.close()
        return cold
    finally:
        infra.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--markets", type=int, default=5000)
    p.add_argument("--events", type=int, default=1000)
    p.add_argument("--in-process", action="store_true", help="serve polysim from this process (one core)")
    p.add_argument("--budget-s", type=float, default=20.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gamma-") as tmp:
        cold = eventloop.run(_run(args, Path(tmp)))
    _, _, frames = make_frames(1, 2)
    print(f"this machine: one pydantic decode of a price_change {decode_us(frames[0]):.2f} µs (yardstick)")
    verdict = "within" if cold <= args.budget_s else "OVER"
    print(f"full refresh of {args.markets} markets: {cold:.2f} s ({verdict} the {args.budget_s:.0f} s budget)")
    sys.exit(0 if cold <= args.budget_s else 1)


if __name__ == "__main__":
    main()
