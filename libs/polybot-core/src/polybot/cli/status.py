"""``polybot status``: per-market ingestion status from the ``market_status`` table, and what is quoted.

For each market (condition id) and each of its assets: state, last_seq, last_update_ts_ms, snapshots,
deltas, freshness (ms since the last update) and resync counts; beside them, from the executor's tables, the
market's last plan age, open orders and PnL (realized/unrealized) and the asset's position
(``polybot.cli.status_exec``), and the executors' risk halts in force. A table by default (a halt is a line
above it), one JSON object with ``--json``: ``markets`` as before (each asset also has ``position``),
``execution`` per market, and ``risk_halts`` (backend, scope, limit, value, threshold, detail, ts_ms). The
database is ``--db-url``, else the configured one, else the embedded one of a running ``polybot up``; the
command never starts servers of its own.

Settings and the database driver are imported when the command runs, not when the parser is built (see
``polybot.cli.main``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from polybot.cli import flags
from polybot.cli.failures import CliError, describe, redact, scrub

if TYPE_CHECKING:
    import asyncpg

    from polybot.store.exec_status import ExecTables

_QUERY = """
SELECT asset_id, market, last_seq, last_update_ts_ms, snapshots, deltas, state,
       resync_first_delta, resync_gap, resync_checksum, resync_tick_size
FROM market_status ORDER BY market, asset_id
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("status", help="per-market ingestion status")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--db-url", default=None, help="postgresql://… (default: settings, then a running `up`)")
    p.add_argument("--market", default=None, type=flags.word(), help="only this condition id")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=flags.real(0, 600, above=True), default=5.0,
                   help="seconds to wait for the database to answer (default 5)")
    p.set_defaults(handler=run)


async def _fetch(url: str, label: str, timeout_s: float) -> tuple[list[asyncpg.Record], ExecTables]:
    import asyncpg

    from polybot.cli.connect import PG_ERRORS, connect_pg
    from polybot.store.exec_status import read_exec_tables

    conn = await connect_pg(url, label=label, timeout_s=timeout_s)
    try:
        rows = list(await conn.fetch(_QUERY, timeout=timeout_s))
        return rows, await read_exec_tables(conn, timeout_s)
    except asyncpg.UndefinedTableError:
        raise CliError("no market_status table: the ingestor has not run against this database yet "
                       "(start it, or point --db-url at the ingestor's database)") from None
    except PG_ERRORS as exc:
        raise CliError(f"reading market_status from {redact(url)} failed: "
                       f"{scrub(describe(exc, timeout_s), url)}") from exc
    finally:
        await conn.close()


def build_report(rows: list[Any], now_ms: int, market: str | None = None,
                 tables: ExecTables | None = None) -> dict[str, Any]:
    """Group rows by market; freshness is ``now_ms - last_update_ts_ms`` (None before any update)."""
    from polybot.cli.status_exec import build_execution
    from polybot.store.exec_status import ExecTables

    execution = build_execution(tables or ExecTables(), now_ms, market)
    markets: dict[str, dict[str, Any]] = {}
    for r in rows:
        if market is not None and r["market"] != market:
            continue
        last = r["last_update_ts_ms"]
        markets.setdefault(r["market"] or "", {})[r["asset_id"]] = {
            "state": r["state"],
            "last_seq": r["last_seq"],
            "last_update_ts_ms": last,
            "freshness_ms": None if last is None else max(0, now_ms - int(last)),
            "snapshots": r["snapshots"],
            "deltas": r["deltas"],
            "resyncs": {
                "first_delta": r["resync_first_delta"],
                "gap": r["resync_gap"],
                "checksum": r["resync_checksum"],
                "tick_size": r["resync_tick_size"],
            },
            "position": _position(execution, r["market"] or "", r["asset_id"]),
        }
    halts = [h for h in (tables.halts if tables is not None else []) if market is None or h["scope"] in ("*", market)]
    return {"now_ms": now_ms, "markets": markets, "execution": execution, "risk_halts": halts}


def _position(execution: dict[str, Any], market: str, asset: str) -> str | None:
    held = execution.get(market, {}).get("positions", {}).get(asset)
    return None if held is None else str(held["size"])


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 7] + "…" + text[-6:]


def render_table(report: dict[str, Any]) -> str:
    from polybot.cli.status_exec import EXEC_HEAD, exec_columns

    head = (f"{'MARKET':<22} {'ASSET':<22} {'STATE':<18} {'LAST_SEQ':>9} {'LAST_UPDATE_TS_MS':>17} "
            f"{'FRESH_MS':>9} {'SNAPS':>6} {'DELTAS':>8} {'RESYNCS f/g/c/t':>16} {EXEC_HEAD}")
    lines = [f"RISK HALT ({h['backend']}): {'every market' if h['scope'] == '*' else 'market ' + h['scope']} - "
             f"{h['limit']} {h['value']} past {h['threshold']}{' (' + h['detail'] + ')' if h['detail'] else ''}; "
             f"clear with `polybot risk --clear`" for h in report.get("risk_halts", [])]
    lines.append(head)
    table_starts = len(lines)
    execution: dict[str, Any] = report.get("execution", {})
    for market in list(report["markets"]) + [m for m in execution if m not in report["markets"]]:
        assets = report["markets"].get(market, {})
        ex = execution.get(market)
        for asset, st in assets.items():
            rs = st["resyncs"]
            fresh = "-" if st["freshness_ms"] is None else str(st["freshness_ms"])
            lines.append(
                f"{_short(market, 22):<22} {_short(asset, 22):<22} {st['state'] or '-':<18} "
                f"{st['last_seq'] if st['last_seq'] is not None else '-':>9} "
                f"{st['last_update_ts_ms'] if st['last_update_ts_ms'] is not None else '-':>17} {fresh:>9} "
                f"{st['snapshots'] or 0:>6} {st['deltas'] or 0:>8} "
                f"{rs['first_delta'] or 0}/{rs['gap'] or 0}/{rs['checksum'] or 0}/{rs['tick_size'] or 0:>3} "
                f"{exec_columns(ex, asset)}"
            )
        # a market (or a held token) the executor knows and the ingestor does not: its row all the same
        for asset in [a for a in (ex or {}).get("positions", {}) if a not in assets] or ([] if assets else ["-"]):
            lines.append(f"{_short(market, 22):<22} {_short(asset, 22):<22} {'-':<18} {'-':>9} {'-':>17} "
                         f"{'-':>9} {'-':>6} {'-':>8} {'-':>16} {exec_columns(ex, asset)}")
    if len(lines) == table_starts:
        lines.append("(no assets ingested yet)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config
    from polybot.runtime import eventloop

    url, label = config.database_url(args)
    rows, tables = eventloop.run(_fetch(url, label, args.timeout))
    report = build_report(rows, int(time.time() * 1000), args.market, tables)
    print(json.dumps(report) if args.json else render_table(report))
    return 0
