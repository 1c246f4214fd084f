"""``polybot migrate``: apply the database migrations of every owner (audit, gamma, ingest, exec), nothing else.

docker-compose.yml runs it as the one-shot ``migrate`` job the services wait for; ``polybot up`` applies the
same migrations itself before it starts them, and every service applies its own at start (under one
advisory lock, so running it again, or beside them, is harmless). Prints each migration it applied and a
summary line, or one JSON object with ``--json``::

    {"applied": ["gamma/0001_markets", ...], "already_applied": 12, "database": "postgresql://u:***@host/db"}

The database is ``--db-url``, else the configured one (``POLYBOT_DATABASE_URL``), else the embedded one of a
running ``polybot up``; the command never starts a server. Exit 0 when the schema is current; 2 when it
cannot be made so (no database, unreachable, or a migration edited after it was applied).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import CliError, describe, redact, scrub


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("migrate", help="apply the database migrations, then exit")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--db-url", default=None, help="postgresql://… (default: settings, then a running `up`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=flags.real(0, 600, above=True), default=10.0,
                   help="seconds to wait for the database to answer (default 10)")
    p.set_defaults(handler=run)


async def _apply(url: str, label: str, timeout_s: float) -> tuple[list[str], int]:
    from polybot.cli.connect import PG_ERRORS, open_pool
    from polybot.store.migrate import MigrationError, apply_migrations, discover

    pool = await open_pool(url, label=label, timeout_s=timeout_s, max_size=1)
    try:
        applied = await apply_migrations(pool)
    except MigrationError as exc:
        raise CliError(f"cannot migrate {redact(url)}: {exc}: a migration must never change once applied; "
                       f"restore it and add a new one") from exc
    except PG_ERRORS as exc:
        raise CliError(f"migrating {redact(url)} failed: {scrub(describe(exc, timeout_s), url)}; "
                       f"run polybot migrate again (what was applied stays applied)") from exc
    finally:
        await pool.close()
    names = [f"{m.owner}/{m.version:04d}_{m.name}" for m in applied]
    return names, len(discover()) - len(names)


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config
    from polybot.runtime import eventloop

    url, label = config.database_url(args)
    applied, before = eventloop.run(_apply(url, label, args.timeout))
    if args.json:
        print(json.dumps({"applied": applied, "already_applied": before, "database": redact(url)}))
        return 0
    for name in applied:
        print(f"applied {name}")
    print(f"{redact(url)}: schema current ({len(applied)} applied now, {before} already applied)")
    return 0
