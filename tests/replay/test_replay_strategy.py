"""``polybot replay --strategy spread``: the SpreadQuoter over every recorded market-channel sequence.

Every file of ``tests/fixtures/polymarket/ws_market`` (SOURCES.md) is replayed with the strategy: its decisions
are reported, none crosses the book or itself, a recording with a live two-sided book is quoted, a damaged one
is not while its book is unverified, the same file gives the same output, and ``--params`` is the quoter's
``[quoter]`` table (a bad one is one line, exit 2). The crossing audit is shown to catch a quoter that crosses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import polybot.domain.quoting as quoting
from polybot.app.replay.run import ReplayRun, iter_frames
from polybot.app.replay.strategy import QuoteReplay
from polybot.cli.main import main
from polybot.domain.book_effects import BookState
from polybot.domain.book_verify import MarketMeta
from polybot.domain.quote_books import mirrored, target_crosses
from polybot.domain.quote_inputs import QuoteBook, TargetOrder
from polybot.domain.quoting import SpreadQuoter

D = Decimal
WS = Path(os.environ["POLYBOT_FIXTURES"]) / "ws_market"
RECORDINGS = sorted(p.name for p in WS.iterdir() if p.suffix in (".json", ".jsonl"))
NEW_KEYS = {"strategy", "tokens", "plans", "suppressed", "crossed", "decisions"}
HASH_CHAIN = "hash_chain_2025-10_ws_book_price_changes_rest_book.jsonl"
TWO_TOKENS = "frames_2025-12_initial_dump_price_change_post_trade_book.jsonl"


def _market(path: Path) -> str:
    first = json.loads(next(iter_frames(path))[1])
    return str((first[0] if isinstance(first, list) else first).get("market", "0x1"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in-process (the same ``main`` the console script runs): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", *args])
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 2), out, err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polybot.cli", "replay", *args], capture_output=True, text=True,
                          timeout=120)


def _quotable_somewhere(path: Path) -> bool:
    """The oracle, apart from the strategy: after some frame, a book of the market is live with both sides."""
    run = ReplayRun(_market(path), MarketMeta())
    for line_no, frame in iter_frames(path):
        run.feed_line(frame, line_no)
        for sync in run.books:
            if sync.state is BookState.LIVE and sync.book.best_bid() and sync.book.best_ask():
                return True
    return False


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_recording_replays_with_the_strategy(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / name
    market = _market(path)
    code, out, err = _run(capsys, str(path), market, "--strategy", "spread", "--decisions", "--json")
    summary = json.loads(out)
    plain_code, plain_out, _ = _run(capsys, str(path), market, "--json")
    plain = json.loads(plain_out)
    # Without --strategy nothing changed: the same keys, values and exit code, and no strategy keys.
    assert code == plain_code, err
    assert not set(plain) & NEW_KEYS
    assert {k: v for k, v in summary.items() if k not in NEW_KEYS} == plain

    assert summary["strategy"] == "spread" and summary["crossed"] == 0
    decisions = summary["decisions"]
    assert len(decisions) == summary["plans"] + sum(summary["suppressed"].values())
    assert summary["plans"] == sum(d["action"] != "hold" for d in decisions)
    if summary["events"]:
        assert decisions, "every frame of the market is decided on"
    times = [d["ts_ms"] for d in decisions]
    assert times == sorted(times)
    for d in decisions:
        assert set(d) == {"ts_ms", "action", "reason", "orders", "fair"}
        assert (d["action"] == "quote") == bool(d["orders"])
        for order in d["orders"]:  # "BUY 10 YES @ 0.48"
            side, size, outcome, at, price = order.split()
            assert side in ("BUY", "SELL") and outcome in ("YES", "NO") and at == "@"
            assert D(size) > 0 and D(0) < D(price) < D(1)
    quotes = [d for d in decisions if d["action"] == "quote"]
    if _quotable_somewhere(path):
        assert summary["plans"] > 0 and quotes, "a live two-sided book is quoted"
    else:
        assert not quotes


def test_decisions_are_listed_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / HASH_CHAIN
    _, out, _ = _run(capsys, str(path), _market(path), "--strategy", "spread", "--json")
    summary = json.loads(out)
    assert "decisions" not in summary and summary["plans"] > 0
    _, out, _ = _run(capsys, str(path), _market(path), "--strategy", "spread", "--decisions", "--json")
    listed = json.loads(out)
    assert {k: v for k, v in listed.items() if k != "decisions"} == summary
    first = listed["decisions"][0]
    # The recording's first frame is a verified book (best 0.33 / 0.34 at the end; 0.32 / 0.35 at first):
    # a quote around its midpoint, timed by the recording's clock.
    assert first["ts_ms"] == 1761179883493 and first["action"] == "quote" and first["reason"] == "quote"
    assert first["fair"] == "0.335" and first["orders"] == ["BUY 10 YES @ 0.31", "BUY 10 NO @ 0.64"]
    # Only one token has a book in this recording: the other is its mirror, and named as the recording does.
    assert listed["tokens"] == {"yes": next(iter(listed["books"])), "no": list(listed["books"])[1]}


def test_the_same_file_gives_the_same_output() -> None:
    for name in (HASH_CHAIN, TWO_TOKENS, "stream_sequence_2024-12_changes_format_polypy.jsonl"):
        path = WS / name
        runs = [_cli(str(path), _market(path), "--strategy", "spread", "--decisions", "--json") for _ in range(2)]
        assert runs[0].returncode == 0, runs[0].stderr
        assert runs[0].stdout == runs[1].stdout and json.loads(runs[0].stdout)["decisions"]


def test_human_output_lists_the_decisions(capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / TWO_TOKENS
    code, out, err = _run(capsys, str(path), _market(path), "--strategy", "spread", "--decisions")
    assert code == 0, err
    assert "plans          2" in out and "crossed        0" in out and "suppressed     unchanged=1" in out
    assert "decision 1766481546487 quote quote fair 0.495: BUY 10 YES @ 0.47, BUY 10 NO @ 0.48" in out
    # The post-trade book of one token leaves the two books crossing: the quoter pulls, the audit is quiet.
    assert "decision 1766481547845 pull crossed" in out


def test_a_damaged_recording_is_not_quoted_while_its_book_is_unverified(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = WS / HASH_CHAIN
    lines = src.read_text().splitlines()
    book = json.loads(lines[0])
    book["hash"] = "0" * 40
    path = tmp_path / "damaged.jsonl"
    path.write_text("\n".join([json.dumps(book), *lines[1:]]) + "\n")
    code, out, _ = _run(capsys, str(path), _market(src), "--strategy", "spread", "--decisions", "--json")
    assert code == 1  # the hash mismatch is still the finding
    summary = json.loads(out)
    assert summary["hash_mismatch"] >= 1 and summary["crossed"] == 0
    decisions = summary["decisions"]
    assert len(decisions) == len(lines)  # one per frame (every frame is of the market)
    rest_book = next(i for i, line in enumerate(lines) if '"event_type"' not in line)
    # The damaged book's hash is pending (an F10 layout could still explain it), then a mismatch: resyncing.
    assert [(d["action"], d["reason"]) for d in decisions[:rest_book]] == [("pull", "unverified"),
                                                                           ("hold", "resyncing")]
    # The REST book that completes the resync verifies: quoting resumes on it.
    assert decisions[rest_book]["action"] == "quote"


def test_a_lone_book_that_never_verifies_is_never_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads((WS / "book_2024-11_polypy.json").read_text())
    raw["hash"] = "f" * 40
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    code, out, _ = _run(capsys, str(path), raw["market"], "--strategy", "spread", "--decisions", "--json")
    summary = json.loads(out)
    assert code == 1 and summary["hash_mismatch"] == 1
    assert [(d["action"], d["reason"]) for d in summary["decisions"]] == [("pull", "unverified"),
                                                                          ("hold", "resyncing")]


def test_params_are_the_quoter_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / HASH_CHAIN
    market = _market(path)
    params = tmp_path / "quoter.toml"
    params.write_text(f'[ops]\nquoter = 8102\n\n[quoter]\nhalf_spread_ticks = 4\norder_size = "12"\n\n'
                      f'[quoter.markets."{market}"]\norder_size = "25"\n')
    code, out, err = _run(capsys, str(path), market, "--strategy", "spread", "--params", str(params),
                          "--decisions", "--json")
    assert code == 0, err
    first = json.loads(out)["decisions"][0]
    assert first["orders"] == ["BUY 25 YES @ 0.29", "BUY 25 NO @ 0.62"]  # 4 ticks, the market's own size
    other = "0x" + "ab" * 32
    params.write_text(f'[quoter]\nhalf_spread_ticks = 4\norder_size = "12"\n\n[quoter.markets."{other}"]\n'
                      f'order_size = "25"\n')
    _, out, _ = _run(capsys, str(path), market, "--strategy", "spread", "--params", str(params), "--decisions",
                     "--json")
    assert json.loads(out)["decisions"][0]["orders"] == ["BUY 12 YES @ 0.29", "BUY 12 NO @ 0.62"]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("[quoter]\nhalf_spread_ticks = 0\n", [], "invalid setting quoter.half_spread_ticks = 0"),
        ("[quoter]\nbogus = 1\n", [], "unknown setting 'quoter.bogus'"),
        ("[quoter]\norder_size = \"ten\"\n", [], "quoter.order_size = 'ten'"),
        ("[quoter]\nplan_ttl_ms = 1000\nrefresh_before_ttl_ms = 900\n", [], "refresh_before_ttl_ms"),
        ('[quoter.markets."0xnot-a-cid"]\norder_size = "5"\n', [], "not a condition id"),
        ("[quoter\n", [], "is not valid TOML"),
        ("[other]\nx = 1\n", [], "has no [quoter] table"),
        ("quoter = 5\n", [], "is not a table"),
        (None, [], "no such file"),
        ("[quoter]\n", ["--no-strategy"], "--params is for a strategy"),
    ],
    ids=["below-min", "unknown", "not-a-number", "cross-rule", "bad-market", "not-toml", "no-table", "not-a-table",
         "missing", "no-strategy"],
)
def test_bad_params_exit_2_with_one_line(text: str | None, args: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "quoter.toml"
    if text is not None:
        params.write_text(text)
    path = WS / "book_2024-11_polypy.json"
    strategy = [] if "--no-strategy" in args else ["--strategy", "spread"]
    code, out, err = _run(capsys, str(path), _market(path), *strategy, "--params", str(params), "--json")
    assert code == 2 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err
    assert "Traceback" not in err


def test_bad_params_through_the_real_cli(tmp_path: Path) -> None:
    params = tmp_path / "quoter.toml"
    params.write_text("[quoter]\nstale_after_ms = -1\n")
    path = WS / "book_2024-11_polypy.json"
    proc = _cli(str(path), _market(path), "--strategy", "spread", "--params", str(params))
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr.count("\n") == 1 and "quoter.stale_after_ms = -1" in proc.stderr, proc.stderr


def test_decisions_need_a_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / "book_2024-11_polypy.json"
    code, _, err = _run(capsys, str(path), _market(path), "--decisions")
    assert code == 2 and "--decisions is for a strategy" in err
    code, _, err = _run(capsys, str(path), _market(path), "--strategy", "momentum")
    assert code == 2 and "invalid choice: 'momentum'" in err and len(err.strip().splitlines()) == 1


def test_with_a_database_and_the_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = WS / TWO_TOKENS
    db = tmp_path / "replay.db"
    code, out, err = _run(capsys, str(path), _market(path), "--db-url", f"sqlite:///{db}", "--strategy", "spread",
                          "--json")
    assert code == 0, err
    assert json.loads(out)["plans"] == 2 and db.stat().st_size > 0


# --- the crossing audit ------------------------------------------------------------------------------------------
YES, NO = "yes-token", "no-token"


def _book(asset: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> QuoteBook:
    return QuoteBook(asset, "live", tuple((D(p), D(s)) for p, s in bids), tuple((D(p), D(s)) for p, s in asks),
                     D("0.01"), 0)


def test_target_crosses_in_the_yes_frame() -> None:
    yes = _book(YES, [("0.40", "10"), ("0.39", "5")], [("0.45", "10")])
    no = mirrored(yes, NO)
    assert no.bids == ((D("0.55"), D(10)),) and no.asks == ((D("0.60"), D(10)), (D("0.61"), D(5)))
    assert mirrored(no, YES) == yes

    def crosses(*orders: tuple[str, str, str]) -> bool:
        return target_crosses([TargetOrder(a, s, D(p), D(10)) for a, s, p in orders], yes, no, YES)  # type: ignore[arg-type]

    assert not crosses((YES, "BUY", "0.41"), (NO, "BUY", "0.56"))  # YES bid 0.41, YES ask 0.44
    assert crosses((YES, "BUY", "0.45"))  # locks the ask
    assert crosses((YES, "SELL", "0.40"))  # locks the bid
    assert crosses((NO, "BUY", "0.60"))  # a NO bid at 0.60 is a YES ask at 0.40: the bid
    assert crosses((NO, "SELL", "0.55"))  # a NO ask at 0.55 is a YES bid at 0.45: the ask
    assert crosses((YES, "BUY", "0.43"), (NO, "BUY", "0.57"))  # 0.43 + 0.57 = 1: our own quotes lock
    assert not crosses((YES, "BUY", "0.42"))
    # ... but it crosses a NO book whose bid at 0.58 is a YES ask at 0.42, tighter than the YES book's own.
    tighter = _book(NO, [("0.58", "1")], [])
    assert target_crosses([TargetOrder(YES, "BUY", D("0.42"), D(10))], yes, tighter, YES)


def test_the_replay_counts_a_target_that_crosses(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A SpreadQuoter broken to bid at the best ask (its own last check off): the audit counts every such
    target, and the CLI says so (exit 1)."""
    def at_the_ask(market: Any, params: Any, touch: Any, ours: Any, fair: Any) -> tuple[TargetOrder, ...]:
        return (TargetOrder(market.yes_token, "BUY", touch.ask, D(10)),)

    monkeypatch.setattr(quoting, "plan_orders", at_the_ask)
    monkeypatch.setattr(quoting, "crosses", lambda *a: False)
    path = WS / HASH_CHAIN
    strategy = QuoteReplay(_market(path), MarketMeta(), SpreadQuoter(), keep_decisions=True)
    run = ReplayRun(_market(path), MarketMeta(), strategy=strategy)
    for line_no, frame in iter_frames(path):
        run.feed_line(frame, line_no)
    quotes = sum(d["action"] == "quote" for d in run.summary()["decisions"])
    assert quotes > 0 and run.summary()["crossed"] == quotes
    code, out, err = _run(capsys, str(path), _market(path), "--strategy", "spread", "--json")
    assert code == 1 and json.loads(out)["crossed"] > 0
    assert "would have crossed" in err.strip().splitlines()[-1]
