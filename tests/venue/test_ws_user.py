"""User-channel parsing (``polybot.venue.ws_user``) against the venue's recorded frames
(tests/fixtures/polymarket/ws_user, see SOURCES.md): our orders in a trade become ``VenueTrade`` rows, the
match time is read under either spelling, and a frame of the wrong shape is a ``FrameError``, never a crash."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polybot.venue.ws_user import FrameError, OrderUpdate, UserAuth, parse_frame, subscription

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket" / "ws_user"


def load(name: str) -> dict[str, Any]:
    got: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return got


def test_the_subscription_is_the_documented_message() -> None:
    auth = UserAuth("k", "s", "p")
    assert json.loads(subscription(auth, ["0xabc"])) == {
        "auth": {"apiKey": "k", "secret": "s", "passphrase": "p"}, "markets": ["0xabc"], "type": "user"}
    assert "k" not in repr(auth) and "s" not in repr(auth).replace("UserAuth", "").replace("redacted", "")


def test_our_taker_order_in_a_matched_trade() -> None:
    frame = load("trade_matched_taker_2024-09.json")
    auth = UserAuth(frame["trade_owner"], "s", "p")
    [t] = parse_frame(json.dumps(frame), auth)
    assert (t.trade_id, t.order_id, t.side, t.price, t.size, t.status) == (
        frame["id"], frame["taker_order_id"], "BUY", D("0.52"), D(5), "MATCHED")
    assert t.match_time_ms == 1725958681_000
    assert t.market == frame["market"] and t.asset_id == frame["asset_id"]


def test_our_maker_order_by_api_key_or_wallet_at_its_own_price_and_side() -> None:
    frame = load("trade_confirmed_maker_side_field_2025-11.json")
    maker = frame["maker_orders"][0]
    for auth in (UserAuth(maker["owner"], "s", "p"), UserAuth("other", "s", "p", maker["maker_address"].lower())):
        [t] = parse_frame(json.dumps(frame), auth)
        assert (t.order_id, t.side, t.price, t.size, t.status) == (maker["order_id"], "BUY", D("0.513"), D(5),
                                                                  "CONFIRMED")
        assert t.fee_usdc == 0
    assert parse_frame(json.dumps(frame), UserAuth("somebody-else", "s", "p")) == []


def test_makers_without_a_side_field_take_it_from_the_token() -> None:
    frame = load("trade_mined_maker_multi_fill_2024-09.json")
    mine = frame["maker_orders"]
    owners = {m["owner"] for m in mine}
    trades = [t for owner in owners for t in parse_frame(json.dumps(frame), UserAuth(owner, "s", "p"))]
    assert len(trades) == len(mine) and {t.status for t in trades} == {"MINED"}
    taker_side = frame["side"]
    for m, t in zip(sorted(mine, key=lambda m: m["order_id"]), sorted(trades, key=lambda t: t.order_id),
                    strict=True):
        same_token = m["asset_id"] == frame["asset_id"]
        assert t.side == ({"BUY": "SELL", "SELL": "BUY"}[taker_side] if same_token else taker_side)
        assert t.price == D(m["price"]) and t.size == D(m["matched_amount"])


def test_matchtime_spelling_and_a_list_frame() -> None:
    frame = load("trade_matched_taker_2024-09.json")
    frame["matchtime"] = frame.pop("match_time")
    auth = UserAuth(frame["trade_owner"], "s", "p")
    got = parse_frame(json.dumps([frame, load("order_placement_2024-09.json")]), auth)
    assert got[0].match_time_ms == 1725958681_000  # type: ignore[union-attr]
    assert isinstance(got[1], OrderUpdate) and got[1].kind == "PLACEMENT" and got[1].status == "LIVE"


def test_order_events() -> None:
    placed = load("order_placement_2024-09.json")
    [o] = parse_frame(json.dumps(placed), UserAuth("k", "s", "p"))
    assert isinstance(o, OrderUpdate)
    assert (o.order_id, o.side, o.price, o.original_size, o.size_matched, o.ts_ms) == (
        placed["id"], "BUY", D("0.513"), D(5), D(0), 1725842520990)
    [c] = parse_frame(json.dumps(load("order_cancellation_2024-09.json")), UserAuth("k", "s", "p"))
    assert isinstance(c, OrderUpdate) and c.kind == "CANCELLATION" and c.status == "CANCELED"


def _broken(**change: Any) -> str:
    frame = load("trade_matched_taker_2024-09.json")
    for k, v in change.items():
        if v is None:
            frame.pop(k)
        else:
            frame[k] = v
    return json.dumps(frame)


@pytest.mark.parametrize("text", [
    "not json", "[1]", json.dumps({"event_type": "book"}), _broken(status="SETTLED"), _broken(match_time=None),
    _broken(price="NaN"), _broken(size="-5"), _broken(side="HOLD"), _broken(maker_orders="x"),
    _broken(id=None), _broken(match_time="soon"),
])
def test_bad_frames_are_frame_errors(text: str) -> None:
    frame = load("trade_matched_taker_2024-09.json")
    with pytest.raises(FrameError):
        parse_frame(text, UserAuth(frame["trade_owner"], "s", "p"))
