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
import contextlib
import dataclasses
import json
import logging
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from polybot.cli import flags
from polybot.cli.failures import CliError, describe, echo, redact, scrub

if TYPE_CHECKING:  # the refresh machinery is imported when the command runs (see polybot.cli.main)
    from polybot.app.gamma.refresh import RefreshCounts
    from polybot.runtime.infra import Infra
    from polybot.runtime.settings import GammaSettings

GAMMA_EXAMPLE = "https://gamma-api.polymarket.com"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("gamma-refresh", help="run one full Gamma markets refresh now")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--gamma-url", default=None, help="Gamma base URL (default: settings gamma.gamma_url)")
    p.add_argument("--clob-url", default=None, help="CLOB base URL for order params (default: gamma.clob_url)")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.add_argument("--timeout", type=flags.real(0, 600, above=True), default=5.0,
                   help="seconds to wait for PostgreSQL and NATS to answer (default 5)")
    p.set_defaults(handler=run)


def check_http_url(url: str, label: str) -> None:
    """``CliError`` unless ``url`` is an http(s) URL with a host (httpx would fail on it otherwise)."""
    if not url.strip():
        raise CliError(f"{label} is empty: give an http(s) URL such as {GAMMA_EXAMPLE}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise CliError(f"{label} {echo(url)} is not a usable URL ({describe(exc)})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise CliError(f"{label} {echo(url)} is not an http(s) URL: use e.g. {GAMMA_EXAMPLE}")


async def _probe_gamma(settings: GammaSettings) -> None:
    """Fail fast, with a plain message, when Gamma does not answer at all."""
    from polybot.app.gamma.refresh import client_config
    from polybot.venue.gamma_client import GammaClient, GammaError, Listing

    quick = dataclasses.replace(client_config(settings), max_retries=1, timeout_s=5.0)
    try:
        async with GammaClient(quick) as client:
            await client.keyset_page("events", Listing(closed=False), limit=1)
    except GammaError as exc:
        raise CliError(f"cannot reach Gamma at {settings.gamma_url}: {describe(exc)}; check --gamma-url "
                       f"(gamma.gamma_url) and that Gamma, or polysim, is up") from exc


def _label(what: str, setting: str, source: str) -> str:
    if source == "env":
        return f"the {what} URL ({setting} / POLYBOT_{setting.upper()})"
    return f"the {what} URL of the {source} server"


async def _refresh(settings: GammaSettings, infra: Infra, timeout_s: float) -> RefreshCounts:
    import nats.errors

    from polybot.app.gamma.refresh import GammaRefresher, client_config
    from polybot.cli.connect import PG_ERRORS, check_nats_url, connect_bus, open_pool
    from polybot.store.migrate import apply_migrations
    from polybot.venue.gamma_client import GammaClient, GammaError

    db_url, nats_url = infra.database_url, infra.nats_url
    nats_label = _label("NATS", "nats_url", infra.nats_source)
    check_nats_url(nats_url, nats_label)  # both URLs before dialling either
    pool = await open_pool(db_url, label=_label("database", "database_url", infra.database_source),
                           timeout_s=timeout_s)
    try:
        bus = await connect_bus(nats_url, "polybot-cli-gamma-refresh",
                                label=nats_label, timeout_s=timeout_s)
        try:
            await _probe_gamma(settings)
            await apply_migrations(pool, ("gamma",))
            await bus.ensure_streams()
            async with GammaClient(client_config(settings)) as client:
                return await GammaRefresher(client, pool, bus, settings).full()
        except GammaError as exc:
            raise CliError(f"Gamma refresh from {settings.gamma_url} failed: {describe(exc)}; "
                           f"run gamma-refresh again (it is idempotent)") from exc
        except nats.errors.Error as exc:  # before PG_ERRORS: a NATS timeout is an OSError too
            raise CliError(f"NATS at {redact(nats_url)} failed during the refresh: "
                           f"{scrub(describe(exc), nats_url)}; run gamma-refresh again (it is idempotent)") from exc
        except PG_ERRORS as exc:
            raise CliError(f"PostgreSQL at {redact(db_url)} failed during the refresh: "
                           f"{scrub(describe(exc), db_url)}; run gamma-refresh again (it is idempotent)") from exc
        finally:
            with contextlib.suppress(Exception):
                await bus.close()
    finally:
        with contextlib.suppress(Exception):
            await pool.close()


def _print(counts: RefreshCounts, as_json: bool) -> None:
    summary = counts.summary()
    if as_json:
        print(json.dumps(summary))
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")


def _gamma_settings(args: argparse.Namespace, base: GammaSettings) -> GammaSettings:
    overrides = {k: v for k, v in (("gamma_url", args.gamma_url), ("clob_url", args.clob_url)) if v is not None}
    gamma = base.model_copy(update=overrides)
    check_http_url(gamma.gamma_url, "--gamma-url" if args.gamma_url is not None else "gamma.gamma_url")
    check_http_url(gamma.clob_url, "--clob-url" if args.clob_url is not None else "gamma.clob_url")
    return gamma


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config
    from polybot.runtime import eventloop
    from polybot.runtime.infra import resolve_infra

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = config.load(args.config)
    gamma = _gamma_settings(args, settings.gamma)
    try:
        infra = resolve_infra(settings.nats_url, settings.database_url, settings.state_dir)
    except Exception as exc:  # only servers it had to start itself can fail here
        raise CliError(f"cannot start the embedded NATS and PostgreSQL under {settings.state_dir}: "
                       f"{describe(exc)}; set POLYBOT_NATS_URL and POLYBOT_DATABASE_URL to use running servers"
                       ) from exc
    try:
        counts = eventloop.run(_refresh(gamma, infra, args.timeout))
    finally:
        with contextlib.suppress(Exception):
            infra.close()
    _print(counts, args.json)
    return 0
