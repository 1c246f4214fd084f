"""The Gamma refresh pipeline: fetch → parse → select → enrich from the CLOB → upsert → publish.

A *full* refresh walks Gamma's keyset listing of every open event (``closed=false`` given explicitly, v1 and
v2 markets asked for) with its markets, then explains every market stored as open that the listing no
longer shows: Gamma is asked for those condition ids (open, then closed), what it still knows is updated
(typically: now closed), the rest is marked ``missing_since``. Nothing is ever deleted.

An *incremental* refresh looks only at the newest events (until a page holds nothing new) and re-reads the
markets selected for making, so new markets and changes that matter to the quoter arrive within a minute.

A listing is read to its end before anything of it is written: a walk that fails (its cursor does not
advance, the venue stops answering) fails the refresh with nothing written, never with a half-listed
market set whose unseen markets would then look gone. Then each page is written in one transaction, so a
crash never leaves half a page. Only markets whose Gamma
content or selection changed (and the selected ones) are looked up on the CLOB, whose order parameters win
over Gamma's; an unchanged market costs one hash comparison. See ``publish`` for the bus side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson

from polybot.app.gamma.page import ListingSpool, PageItems, RefreshCounts, parse_events_page, parse_markets_page
from polybot.app.gamma.publish import InfoPublisher, PendingInfo, publish_infos, republish_unacknowledged
from polybot.domain.market_records import MarketRecord, OrderParams, market_info_digest
from polybot.domain.market_selection import SelectionRules, select_for_making
from polybot.runtime import clock
from polybot.runtime.settings import GammaSettings
from polybot.store import gamma_repo
from polybot.venue.gamma_client import GammaClient, GammaClientConfig, GammaError, Listing
from polybot.venue.gamma_schemas import ClobMarket, InvalidItem, parse_clob_market

log = logging.getLogger(__name__)

__all__ = ["GammaRefresher", "RefreshCounts", "client_config", "selection_rules"]


def selection_rules(settings: GammaSettings) -> SelectionRules:
    s = settings.selection
    return SelectionRules(
        condition_ids=frozenset(s.condition_ids), slugs=frozenset(s.slugs), auto=s.auto, tag_ids=frozenset(s.tag_ids),
        min_liquidity=s.min_liquidity, min_volume=s.min_volume, require_accepting_orders=s.require_accepting_orders,
        min_time_to_end_ms=round(s.min_time_to_end_s * 1000), require_rewards=s.require_rewards,
    )


def client_config(settings: GammaSettings) -> GammaClientConfig:
    return GammaClientConfig(
        gamma_url=settings.gamma_url, clob_url=settings.clob_url, timeout_s=settings.request_timeout_s,
        max_retries=settings.max_retries, backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s, events_limit_per_10s=settings.events_limit_per_10s,
        markets_limit_per_10s=settings.markets_limit_per_10s, clob_limit_per_10s=settings.clob_limit_per_10s,
        clob_lanes=settings.clob_concurrency, max_listing_pages=settings.max_listing_pages,
    )


@dataclass
class _Run:
    counts: RefreshCounts
    seen: set[str] = field(default_factory=set)


class GammaRefresher:
    """Runs full and incremental refreshes of the market set into PostgreSQL and onto the bus."""

    def __init__(self, client: GammaClient, pool: asyncpg.Pool, bus: InfoPublisher, settings: GammaSettings,
                 *, now_ms: Callable[[], int] = clock.now_ms) -> None:
        self.client = client
        self.pool = pool
        self.bus = bus
        self.settings = settings
        self.rules = selection_rules(settings)
        self.now_ms = now_ms
        self._clob_gate = asyncio.Semaphore(settings.clob_concurrency)

    # --- entry points ------------------------------------------------------------------------------------
    async def full(self) -> RefreshCounts:
        """Refresh every open event and market; explain the stored markets that are no longer listed."""
        run = _Run(RefreshCounts("full"))
        started = time.monotonic()
        s = self.settings
        # oldest first: events created during the walk sort after the cursor, so they are listed, once
        listing = Listing(closed=False, active=True, order="id", ascending=True, versions=s.versions)
        with ListingSpool() as spool:
            async for page in self.client.iter_events(listing, page_size=s.events_page_size):
                spool.add(page.items)
            for items in spool:
                await self._apply(run, parse_events_page(items))
        await self._explain_unlisted(run)
        run.counts.published += await republish_unacknowledged(self.bus, self.pool, self.now_ms())
        run.counts.duration_s = time.monotonic() - started
        return run.counts

    async def incremental(self) -> RefreshCounts:
        """Pick up new events (newest first, stop at a page with nothing new) and re-read selected markets."""
        run = _Run(RefreshCounts("incremental"))
        started = time.monotonic()
        s = self.settings
        listing = Listing(closed=False, active=True, order="id", ascending=False, versions=s.versions)
        pages: list[PageItems] = []
        newest_first = self.client.iter_events(listing, page_size=s.events_page_size)
        async with contextlib.aclosing(newest_first) as stream:
            async for page in stream:
                items = parse_events_page(page.items)
                pages.append(items)
                async with self.pool.acquire() as conn:
                    known = await gamma_repo.known_event_ids(conn, [e.record.event_id for e in items.events])
                if len(pages) >= s.incremental_max_pages or all(e.record.event_id in known for e in items.events):
                    break
        for items in pages:
            await self._apply(run, items)
        async with self.pool.acquire() as conn:
            selected = [c for c in await gamma_repo.selected_condition_ids(conn) if c not in run.seen]
        await self._refetch(run, selected)
        run.counts.published += await republish_unacknowledged(self.bus, self.pool, self.now_ms())
        run.counts.duration_s = time.monotonic() - started
        return run.counts

    # --- one page ------------------------------------------------------------------------------------------
    async def _apply(self, run: _Run, items: PageItems) -> None:
        c = run.counts
        c.pages += 1
        c.skipped_invalid += items.invalid
        c.events += len(items.events)
        fresh = []
        for p in items.markets:  # a market listed twice in one run is taken once
            if p.record.condition_id not in run.seen:
                run.seen.add(p.record.condition_id)
                fresh.append(p)
        run.seen.update(items.seen_ids)
        ids = [p.record.condition_id for p in fresh]
        async with self.pool.acquire() as conn:
            stored = await gamma_repo.load_state(conn, ids)
            lacking = {p.record.event_id for p in fresh if p.event_tags is None and p.record.event_id}
            db_tags = await gamma_repo.event_tag_ids(conn, lacking) if lacking else {}
        now = self.now_ms()
        plans = []
        for p in fresh:
            tags = p.event_tags if p.event_tags is not None else db_tags.get(p.record.event_id or "", ())
            sel = select_for_making(p.record, self.rules, now, tags)
            chash = p.record.content_hash()
            st = stored.get(p.record.condition_id)
            changed = (st is None or st.content_hash != chash or st.selected_for_making != sel.selected
                       or st.missing)
            plans.append((p, sel, chash, st, changed))
        wanted = [p.record for p, sel, _, _, changed in plans
                  if self.settings.enrich_from_clob and (changed or sel.selected) and p.record.enable_order_book]
        clob = await self._clob_params(c, wanted)
        writes: list[gamma_repo.MarketWrite] = []
        pending: list[PendingInfo] = []
        for p, sel, chash, st, changed in plans:
            rec = p.record
            if rec.condition_id in clob:
                order, source = _merge(rec.order, clob[rec.condition_id]), "clob"
            elif st is not None and (not changed or st.order_params_source == "clob"):
                order, source = st.order, st.order_params_source  # keep what the CLOB told us before
            else:
                order, source = rec.order, "gamma"
            if source == "clob" and not order.same_as(rec.order):
                c.clob_overrides += 1
            rec = rec.with_order(order)
            info_hash = market_info_digest(rec, selected_for_making=sel.selected, missing=False)
            c.markets += 1
            c.outcomes += len(rec.outcomes)
            c.selected_for_making += sel.selected
            if st is None:
                c.inserted += 1
            elif changed or not order.same_as(st.order) or source != st.order_params_source \
                    or info_hash != st.info_hash:
                c.updated += 1
            else:
                c.unchanged += 1
                if st.published_hash != info_hash:
                    pending.append(PendingInfo(rec, sel.selected, False, info_hash, st.published_hash))
                continue
            writes.append(gamma_repo.MarketWrite(rec, source, chash, info_hash, sel.selected, sel.reason,
                                                 orjson.dumps(p.raw).decode()))
            previous = st.published_hash if st is not None else None
            if previous != info_hash:
                pending.append(PendingInfo(rec, sel.selected, False, info_hash, previous))
        async with self.pool.acquire() as conn, conn.transaction():
            await gamma_repo.upsert_events(conn, items.events)
            await gamma_repo.upsert_markets(conn, writes)
        c.published += await publish_infos(self.bus, self.pool, pending, self.now_ms())

    async def _clob_params(self, counts: RefreshCounts, markets: list[MarketRecord]) -> dict[str, ClobMarket]:
        """The CLOB's market objects for ``markets`` (those it knows and answers for)."""

        async def one(m: MarketRecord) -> tuple[str, ClobMarket | None]:
            async with self._clob_gate:
                try:
                    body = await self.client.clob_market(m.condition_id)
                    return m.condition_id, None if body is None else parse_clob_market(body)
                except (GammaError, InvalidItem) as exc:
                    counts.clob_errors += 1
                    log.warning("CLOB market look-up failed; keeping Gamma's order params",
                                extra={"condition_id": m.condition_id, "error": str(exc)})
                    return m.condition_id, None

        found = dict(await asyncio.gather(*(one(m) for m in markets)))
        counts.clob_enriched += sum(1 for v in found.values() if v is not None)
        return {cid: v for cid, v in found.items() if v is not None}

    # --- markets the listing did not show --------------------------------------------------------------------
    async def _refetch(self, run: _Run, condition_ids: list[str]) -> list[str]:
        """Read ``condition_ids`` from Gamma (open, then closed); return those it lacks.

        Both look-ups finish before anything is written, so a failed one leaves no half-explained set."""
        per = self.settings.condition_ids_per_request
        versions = self.settings.versions
        found_open = await self.client.markets_by_condition_ids(condition_ids, closed=False, versions=versions,
                                                                batch=per) if condition_ids else []
        listed = {m.get("conditionId") for m in found_open if isinstance(m, dict)}
        left = [c for c in condition_ids if c not in listed]
        found_closed = await self.client.markets_by_condition_ids(left, closed=True, versions=versions,
                                                                  batch=per) if left else []
        for found in (found_open, found_closed):
            if found:
                await self._apply(run, parse_markets_page(found))
        return [c for c in condition_ids if c not in run.seen]

    async def _explain_unlisted(self, run: _Run) -> None:
        async with self.pool.acquire() as conn:
            unlisted = sorted(await gamma_repo.open_condition_ids(conn) - run.seen)
        if not unlisted:
            return
        gone = await self._refetch(run, unlisted)
        if not gone:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            records = await gamma_repo.load_records(conn, gone)
            marks = [(cid, market_info_digest(records[cid], selected_for_making=False, missing=True))
                     for cid in gone if cid in records]
            await gamma_repo.mark_missing(conn, marks, datetime.now(UTC))
        run.counts.missing_marked += len(marks)
        log.info("markets no longer listed by Gamma marked missing", extra={"markets": len(marks)})


def _merge(gamma: OrderParams, clob: ClobMarket) -> OrderParams:
    """CLOB values win wherever the CLOB gives one."""
    return OrderParams(
        clob.minimum_tick_size if clob.minimum_tick_size is not None else gamma.tick_size,
        clob.minimum_order_size if clob.minimum_order_size is not None else gamma.min_order_size,
        clob.neg_risk if clob.neg_risk is not None else gamma.neg_risk,
    )
