"""``polybot gamma-refresh``: run one full Gamma refresh now and print what it did.

The operator's "refresh now", and the runbook's check that markets and outcomes are in the database. It
uses the same settings, database and NATS as the services (embedded ones when no URLs are configured),
applies the gamma migrations if needed, and prints::

    {"events", "markets", "outcomes", "inserted", "updated", "unchanged", "skipped_invalid",
     "selected_for_making", "duration_s"}

Logs (skipped items, retries) go to stderr, so ``--json`` output can be piped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg

from polybot.app.gamma.refresh import GammaRefresher, RefreshCounts, client_config
from polybot.bus.client import Bus
from polybot.cli.main import CliError
from polybot.runtime import eventloop
from polybot.runtime.infra import resolve_infra
from polybot.runtime.settings import GammaSettings, load_settings
from polybot.store.migrate import apply_migrations
from polybot.store.pool import create_pool
from polybot.venue.gamma_client import GammaClient, GammaError, Listing


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("gamma-refresh", help="run one full Gamma markets refresh now")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--gamma-url", default=None, help="Gamma base URL (default: settings gamma.gamma_url)")
    p.add_argument("--clob-url", default=None, help="CLOB base URL for order params (default: gamma.clob_url)")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.set_defaults(handler=run)


def _redact(url: str) -> str:
    u = urlparse(url)
    if u.password:
        u = u._replace(netloc=u.netloc.replace(f":{u.password}@", ":***@"))
    return urlunparse(u)


async def _probe_gamma(settings: GammaSettings) -> None:
    """Fail fast, with a plain message, when Gamma does not answer at all."""
    quick = dataclasses.replace(client_config(settings), max_retries=1, timeout_s=5.0)
    try:
        async with GammaClient(quick) as client:
            await client.keyset_page("events", Listing(closed=False), limit=1)
    except GammaError as exc:
        raise CliError(f"cannot reach Gamma at {settings.gamma_url}: {exc}") from exc


async def _refresh(settings: GammaSettings, nats_url: str, database_url: str) -> RefreshCounts:
    await _probe_gamma(settings)
    try:
        pool = await create_pool(database_url, min_size=1, max_size=4)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise CliError(f"cannot connect to PostgreSQL at {_redact(database_url)}: {exc}") from exc
    try:
        await apply_migrations(pool, ("gamma",))
        try:
            bus = await asyncio.wait_for(Bus.connect(nats_url, name="polybot-cli-gamma-refresh"), timeout=10)
        except Exception as exc:
            raise CliError(f"cannot connect to NATS at {nats_url}: {exc!r}") from exc
        try:
            await bus.ensure_streams()
            async with GammaClient(client_config(settings)) as client:
                try:
                    return await GammaRefresher(client, pool, bus, settings).full()
                except GammaError as exc:
                    raise CliError(f"Gamma refresh from {settings.gamma_url} failed: {exc}") from exc
        finally:
            await bus.close()
    finally:
        await pool.close()


def _print(counts: RefreshCounts, as_json: bool) -> None:
    summary = counts.summary()
    if as_json:
        print(json.dumps(summary))
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    overrides = {k: v for k, v in (("gamma_url", args.gamma_url), ("clob_url", args.clob_url)) if v}
    gamma = settings.gamma.model_copy(update=overrides)
    infra = resolve_infra(settings.nats_url, settings.database_url, settings.state_dir)
    try:
        counts = eventloop.run(_refresh(gamma, infra.nats_url, infra.database_url))
    finally:
        with contextlib.suppress(Exception):
            infra.close()
    _print(counts, args.json)
    return 0
