"""``polybot.cli replay`` on every recorded sequence: all hashes verify, final books match the venue."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from polybot.app.replay.run import ReplayRun
from polybot.cli.main import main
from polybot.domain.book_effects import Applied
from polybot.domain.book_verify import MarketMeta

WS = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market"

# (file, hashes the replay can check, counted resyncs)
RECORDINGS = [
    ("frames_2025-12_initial_dump_price_change_post_trade_book.jsonl", 5, {}),
    ("hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl", 5, {"first_delta": 1}),  # 2nd token: no book
    ("stream_sequence_2024-12_changes_format_polypy.jsonl", 8, {"tick_size": 1}),
    ("book_initial_dump_array_2026-04.json", 2, {}),
    ("book_2024-09_nautilus.json", 1, {}),
    ("book_2024-11_polypy.json", 1, {}),
]


def _lines(path: Path) -> list[Any]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [json.loads(path.read_text())]


def _market(path: Path) -> str:
    first = _lines(path)[0]
    return str((first[0] if isinstance(first, list) else first)["market"])


def _venue_final_best(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """Per asset, the venue's own view of its final best bid/ask: the last book (max bid, min ask) or the
    best_bid/best_ask fields of the last price_changes entry, whichever came last."""
    best: dict[str, tuple[str | None, str | None]] = {}
    for frame in _lines(path):
        for msg in frame if isinstance(frame, list) else [frame]:
            if "bids" in msg:
                bids = [lv["price"] for lv in msg["bids"]]
                asks = [lv["price"] for lv in msg["asks"]]
                best[msg["asset_id"]] = (max(bids, key=Decimal) if bids else None,
                                         min(asks, key=Decimal) if asks else None)
            for entry in msg.get("price_changes", []):
                if entry["asset_id"] in best:  # a token with no book cannot be rebuilt
                    best[entry["asset_id"]] = (entry["best_bid"], entry["best_ask"])
    return best


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polybot.cli", "replay", *args], capture_output=True, text=True,
                          timeout=120)


def _same_price(got: str | None, want: str | None) -> bool:
    return (got is None and want is None) or (got is not None and want is not None and Decimal(got) == Decimal(want))


@pytest.mark.parametrize(("name", "checkable", "resyncs"), RECORDINGS, ids=[r[0] for r in RECORDINGS])
def test_replay_verifies_every_hash_and_matches_the_venue(name: str, checkable: int, resyncs: dict[str, int],
                                                         tmp_path: Path) -> None:
    path = WS / name
    db = tmp_path / "replay.db"
    proc = _cli(str(path), _market(path), "--db-url", f"sqlite:///{db}", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["hash_mismatch"] == 0
    assert summary["hash_checked"] == summary["hash_ok"] == checkable
    assert summary["invalid"] == 0
    assert summary["resyncs"] == {"first_delta": 0, "gap": 0, "checksum": 0, "tick_size": 0, **resyncs}
    assert set(summary) >= {"market_id", "frames", "events", "applied", "invalid", "hash_checked", "hash_ok",
                            "hash_mismatch", "resyncs", "books"}
    venue = _venue_final_best(path)
    rebuilt = {a: b for a, b in summary["books"].items() if b["bid_levels"] + b["ask_levels"]}
    assert set(rebuilt) == set(venue)
    for asset_id, (want_bid, want_ask) in venue.items():
        book = rebuilt[asset_id]
        assert _same_price(book["best_bid"], want_bid) and _same_price(book["best_ask"], want_ask), asset_id
    # What was written is what the summary says.
    with sqlite3.connect(db) as conn:
        status = {r[0]: r for r in conn.execute("SELECT asset_id, last_seq, state FROM market_status")}
        events = conn.execute("SELECT asset_id, max(seq), count(*) FROM book_events GROUP BY asset_id").fetchall()
        snaps = conn.execute("SELECT count(*) FROM book_snapshots").fetchone()[0]
    assert {a: (s[1], s[2]) for a, s in status.items()} == {a: (b["seq"], b["state"])
                                                             for a, b in summary["books"].items()}
    for asset_id, max_seq, count in events:
        assert max_seq == count == summary["books"][asset_id]["seq"]  # seq 1..n, no gaps
    assert snaps >= len(rebuilt)


def test_the_rest_book_in_the_2025_10_chain_equals_the_rebuilt_book() -> None:
    path = WS / "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl"
    run = ReplayRun(_market(path), MarketMeta())
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        msg = json.loads(line)
        if "bids" in msg and "event_type" not in msg:  # a REST /book: compare before feeding it
            sync = run.books.get(msg["asset_id"])
            assert sync is not None
            want = ({Decimal(x["price"]): Decimal(x["size"]) for x in msg["bids"]},
                    {Decimal(x["price"]): Decimal(x["size"]) for x in msg["asks"]})
            assert sync.book.sizes() == want
            assert sync.hash == msg["hash"]
        run.feed_line(line, i)


def test_each_delta_leaves_the_best_prices_the_venue_reports() -> None:
    for name in ("frames_2025-12_initial_dump_price_change_post_trade_book.jsonl",
                 "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl"):
        path = WS / name
        run = ReplayRun(_market(path), MarketMeta())
        checked = 0
        for line in path.read_text().splitlines():
            msg = json.loads(line)
            entries = {e["asset_id"]: e for e in msg.get("price_changes", [])} if isinstance(msg, dict) else {}
            for fx in run.feed_line(line):
                if isinstance(fx, Applied) and fx.source == "price_change":
                    entry = entries[fx.asset_id]
                    assert (fx.best_bid, fx.best_ask) == (Decimal(entry["best_bid"]), Decimal(entry["best_ask"]))
                    checked += 1
        assert checked >= 2


def test_human_output_and_no_db(tmp_path: Path) -> None:
    path = WS / "book_initial_dump_array_2026-04.json"
    proc = _cli(str(path), _market(path))
    assert proc.returncode == 0, proc.stderr
    assert "hash_mismatch  0" in proc.stdout and "bid 0.07 / ask 0.8" in proc.stdout
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/file.jsonl", "0x1"], "no such file"),
        ([str(WS / "book_2024-11_polypy.json"), "0x1", "--db-url", "mysql://h/db"], "unsupported --db-url"),
        ([str(WS / "book_2024-11_polypy.json"), "0x1", "--db-url", "sqlite:///"], "no file path"),
        ([str(WS / "book_2024-11_polypy.json"), "0x1", "--neg-risk", "maybe"], "--neg-risk"),
        ([str(WS / "book_2024-11_polypy.json"), "0x1", "--min-order-size", "-5"], "--min-order-size"),
        ([str(WS / "book_2024-11_polypy.json"), "0x1", "--tick-size", "abc"], "--tick-size"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # In-process (the same ``main`` the console script runs) to keep the suite fast.
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_arguments_through_the_real_cli() -> None:
    proc = _cli("/no/such/file.jsonl", "0x1")
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    src = (WS / "frames_2025-12_initial_dump_price_change_post_trade_book.jsonl").read_text().splitlines()
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join([src[0], "PONG", '{"event_type":"price_change","oops":1}', "not json", *src[1:]]))
    proc = _cli(str(path), json.loads(src[0])[0]["market"], "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["invalid"] == 2 and summary["hash_mismatch"] == 0 and summary["hash_ok"] == 5
    assert "invalid message at line 3" in proc.stderr and "line 4" in proc.stderr


async def test_replay_into_postgresql_is_idempotent(database_url: str) -> None:
    path = WS / "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl"
    market = _market(path)
    for _ in range(2):
        proc = _cli(str(path), market, "--db-url", database_url, "--json", "--min-order-size", "5",
                    "--neg-risk", "false", "--tick-size", "0.01")
        assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["hash_mismatch"] == 0 and summary["hash_ok"] == 5
    conn = await asyncpg.connect(database_url)
    try:
        events = await conn.fetch("SELECT asset_id, seq, event_type, payload::text AS p FROM book_events ORDER BY seq")
        snaps = await conn.fetch("SELECT seq, reason, bids::text AS bids, tick_size, min_order_size, neg_risk, hash "
                                 "FROM book_snapshots ORDER BY seq, ts_ms")
        status = await conn.fetch("SELECT * FROM market_status ORDER BY asset_id")
    finally:
        await conn.close()
    assert [(r["seq"], r["event_type"]) for r in events] == [(1, "book"), (2, "price_change"), (3, "price_change")]
    assert json.loads(events[1]["p"])["changes"] == [["SELL", "0.92", "0"]]
    assert [s["reason"] for s in snaps] == ["initial", "rest", "rest"]
    last = snaps[-1]
    assert last["hash"] == "b93c4a66e54f5d95852a5350c83631ae695ebf31"
    assert (last["tick_size"], last["min_order_size"], last["neg_risk"]) == (Decimal("0.01"), Decimal(5), False)
    assert json.loads(last["bids"])[0] == ["0.33", "152.17"]  # best first
    by_asset = {r["asset_id"]: r for r in status}
    live = by_asset["94022367472047775158269173293876979533288470167463650966689320774843018181757"]
    assert (live["last_seq"], live["state"], live["deltas"], live["snapshots"]) == (3, "live", 2, 3)
    cold = by_asset["3329029450753225654467003002742946394863848082479209219558348197750220015613"]
    assert (cold["state"], cold["resync_first_delta"]) == ("resyncing", 1)


def test_sqlite_db_is_created_when_missing(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "x.db"
    path = WS / "book_2024-09_nautilus.json"
    proc = _cli(str(path), _market(path), "--db-url", f"sqlite:///{db}")
    assert proc.returncode == 2 and "cannot write" in proc.stderr  # a missing directory is an operator error
    db = tmp_path / "x.db"
    assert _cli(str(path), _market(path), "--db-url", f"sqlite:///{db}").returncode == 0
    assert db.exists()


def test_a_hash_that_disagrees_with_the_venue_is_a_finding_exit_1(tmp_path: Path) -> None:
    src = WS / "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl"
    lines = src.read_text().splitlines()
    first = json.loads(lines[0])
    book = first[0] if isinstance(first, list) else first
    assert book.get("hash"), "the recording's first frame carries the venue's book hash"
    book["hash"] = "0" * 40
    path = tmp_path / "damaged.jsonl"
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    proc = _cli(str(path), _market(src), "--json")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)  # the summary is still printed in full
    assert summary["hash_mismatch"] >= 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "did not match the venue's" in last and "Traceback" not in proc.stderr
