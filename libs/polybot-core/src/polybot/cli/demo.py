"""``polybot demo [--duration 60] [--json]``: the whole stack (``up``) for a while, headless, then a report.

Runs what ``make demo`` runs (config/demo.toml by default: sim mode, the real SDK against polysim), lets it
quote and trade for ``--duration`` seconds, cancels every order (``cancel-all``), and prints as its last line
one JSON object: ``markets``, ``plans``, ``orders_placed``, ``fills``, ``exec_audit_rows``, ``crossed_quotes``,
``resyncs``, ``open_orders_at_end`` (0: everything is cancelled before it stops), ``pnl``, ``mode``.
Exit 1 when an order is still open at the venue at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM, print_error


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole stack headless for a while and report what it did")
    p.add_argument("--config", default="config/demo.toml", help="TOML settings (default config/demo.toml)")
    p.add_argument("--duration", type=flags.real(1, 86_400), default=60.0, help="seconds of quoting and trading")
    p.add_argument("--json", action="store_true", help="the report as one JSON object (always the last line)")
    p.add_argument("--ready-timeout", type=flags.real(0, 86_400, above=True), default=90.0)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from polybot.cli import up

    reports: list[dict[str, Any]] = []
    started_ms = time.time_ns() // 1_000_000

    def session(settings: Any, infra: Any, specs: list[Any], procs: dict[str, subprocess.Popen[bytes]]) -> int:
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print_error(f"{name} exited with code {proc.returncode} during the demo")
                    return EXIT_PROBLEM
            time.sleep(0.5)
        urls = {s.name: s.url for s in specs}
        quoter = asyncio.run(_quoter_view(urls.get("quoter", "")))  # read before it stops
        _stop_quoting(procs)
        reports.append(asyncio.run(_report(settings, infra, urls, started_ms, quoter)))
        return EXIT_OK if reports[-1]["open_orders_at_end"] == 0 else EXIT_PROBLEM

    ns = argparse.Namespace(config=args.config, ready_timeout=args.ready_timeout, exit_when_ready=False,
                            no_sim=False, session=session)
    code = up.run(ns)
    if reports:  # after the stack has stopped: the report is the last line
        report = reports[-1]
        print(json.dumps(report) if args.json else "\n".join(f"{k:<20} {v}" for k, v in report.items()), flush=True)
    return code


def _stop_quoting(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Stop the quoter first (it pulls its quotes as it stops): else it quotes again around the cancel-all."""
    quoter = procs.get("quoter")
    if quoter is None or quoter.poll() is not None:
        return
    quoter.terminate()
    try:
        quoter.wait(timeout=15)
    except subprocess.TimeoutExpired:
        quoter.kill()
        quoter.wait(timeout=5)


async def _quoter_view(url: str) -> dict[str, Any]:
    """The quoter's /status (its counters include ``quotes_crossed``)."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        return await _json(http, f"{url}/status")


async def _report(settings: Any, infra: Any, urls: dict[str, str], since_ms: int,
                  quoter: dict[str, Any]) -> dict[str, Any]:
    """Figures of this run only (the database may hold earlier runs')."""
    import asyncpg
    import httpx

    from polybot.cli.cancel_all import _cancel_all

    await _cancel_all(infra.nats_url, "the demo's NATS", None, "demo ends")
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = {name: (await _get(http, f"{url}/metrics")) for name, url in urls.items() if name != "polysim"}
        executor = await _json(http, f"{urls.get('executor', '')}/status")
        sim_state = await _json(http, f"{urls['polysim']}/_sim/state") if "polysim" in urls else {}
    conn = await asyncpg.connect(infra.database_url)
    try:
        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        plans = await conn.fetchval("SELECT count(*) FROM exec_audit WHERE created_at >= $1", since)
        placed = await conn.fetchval("SELECT count(*) FROM orders WHERE created_at >= $1", since)
        fills = await conn.fetchval("SELECT count(*) FROM fills WHERE status <> 'FAILED' AND ts_ms >= $1", since_ms)
        selected = await conn.fetchval("SELECT count(*) FROM markets WHERE selected_for_making")
        still_open = await conn.fetchval("SELECT count(*) FROM orders WHERE status IN ('live', 'unknown') "
                                         "AND created_at >= $1", since)
    finally:
        await conn.close()
    crossed = (quoter.get("counters") or {}).get("quotes_crossed")
    venue_open = sum((sim_state.get("open_orders") or {}).values()) if sim_state else still_open
    return {
        "mode": settings.mode,
        "markets": len(quoter["markets"]) if isinstance(quoter.get("markets"), dict) else int(selected),
        "plans": int(plans),
        "orders_placed": int(placed),
        "fills": int(fills),
        "exec_audit_rows": int(plans),
        "crossed_quotes": None if crossed is None else int(crossed),  # None: the quoter did not answer
        "resyncs": int(sum(_metric_sum(metrics.get("ingestor", ""), n) for n in (
            "ingestion_resync_first_delta", "ingestion_resync_gap", "ingestion_resync_checksum"))),
        "open_orders_at_end": int(venue_open),
        "pnl": str(Decimal(str(executor.get("pnl_realized_usdc", "0")))),
    }


async def _get(http: Any, url: str) -> str:
    try:
        return str((await http.get(url)).text)
    except Exception:
        return ""


async def _json(http: Any, url: str) -> dict[str, Any]:
    try:
        body = (await http.get(url)).json()
        return body if isinstance(body, dict) else {}
    except Exception:
        return {}


def _metric_sum(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name:
                with contextlib.suppress(ValueError):
                    total += float(value)
    return total
