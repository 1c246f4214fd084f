"""Auth and order-signature verification against what the real SDKs produce (no server involved)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from eth_account import Account
from py_clob_client.clob_types import CreateOrderOptions as CreateOrderOptionsV1
from py_clob_client.clob_types import OrderArgs as OrderArgsV1
from py_clob_client.order_builder.builder import OrderBuilder as OrderBuilderV1
from py_clob_client.signer import Signer as SignerV1
from py_clob_client.utilities import order_to_json as order_to_json_v1_sdk
from py_clob_client_v2.clob_types import ApiCreds, CreateOrderOptions, MarketOrderArgsV2, OrderArgsV2, RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from polysim.auth import AuthError, CredentialStore
from polysim.order_signing import (
    CONTRACTS,
    InvalidPayload,
    on_tick,
    order_digest,
    order_id,
    parse_order,
    signer_of,
    snap_to_tick,
)

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
# A throwaway test key (never funded, never used anywhere real).
TEST_KEY = "0x" + "11" * 32


@pytest.fixture
def wallet() -> Signer:
    return Signer(Account.create().key.hex(), 137)


@pytest.fixture
def store() -> CredentialStore:
    return CredentialStore(b"s" * 32, 137, lambda: 60.0)


def test_l1_headers_of_both_sdks_recover_the_wallet(wallet: Signer, store: CredentialStore) -> None:
    headers = create_level_1_headers(wallet, nonce=7)
    assert store.verify_l1(headers, time.time()) == (wallet.address(), 7)
    from py_clob_client.headers.headers import create_level_1_headers as l1_v1

    old = SignerV1(TEST_KEY, 137)
    assert store.verify_l1(l1_v1(old, 0), time.time())[0] == old.address()


def test_l1_rejects_a_forged_address_a_tampered_signature_and_a_stale_timestamp(
    wallet: Signer, store: CredentialStore
) -> None:
    headers = create_level_1_headers(wallet, nonce=0)
    other = Account.create().address
    for bad in (
        {**headers, "POLY_ADDRESS": other},
        {**headers, "POLY_SIGNATURE": headers["POLY_SIGNATURE"][:-4] + "0000"},
        {**headers, "POLY_NONCE": "1"},
    ):
        with pytest.raises(AuthError) as err:
            store.verify_l1(bad, time.time())
        assert (err.value.status, err.value.message) == (401, "Invalid L1 Request headers")
    stale = create_level_1_headers(wallet, nonce=0, timestamp=int(time.time()) - 3600)
    with pytest.raises(AuthError):
        store.verify_l1(stale, time.time())


def test_create_is_once_per_nonce_and_derive_returns_the_same_creds(store: CredentialStore) -> None:
    address = Account.create().address
    with pytest.raises(AuthError) as err:
        store.derive(address, 0)
    assert err.value.status == 400
    created = store.create(address, 0)
    with pytest.raises(AuthError) as err:
        store.create(address, 0)
    assert (err.value.status, err.value.message) == (400, "Could not create api key")
    assert store.derive(address, 0) == created
    assert store.create(address, 1).api_key != created.api_key


def _l2(
    wallet: Signer, creds: ApiCreds, method: str, path: str, body: object | None, ts: int | None = None
) -> tuple[dict[str, str], str]:
    serialized = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else None
    args = RequestArgs(method=method, request_path=path, body=body, serialized_body=serialized)
    return create_level_2_headers(wallet, creds, args, timestamp=ts), serialized or ""


def test_l2_hmac_over_exact_body_and_path(wallet: Signer, store: CredentialStore) -> None:
    mine = store.create(wallet.address(), 0)
    sdk_creds = ApiCreds(api_key=mine.api_key, api_secret=mine.secret, api_passphrase=mine.passphrase)
    body = {"orderID": "0xabc", "note": "it's"}  # the SDK signs ' as "; the server must do the same
    headers, sent = _l2(wallet, sdk_creds, "DELETE", "/order", body)
    assert store.verify_l2(headers, "DELETE", "/order", sent, time.time()) == mine
    headers, _ = _l2(wallet, sdk_creds, "GET", "/data/orders", None)
    assert store.verify_l2(headers, "GET", "/data/orders", "", time.time()) == mine

    def refused(h: dict[str, str], method: str = "DELETE", path: str = "/order", b: str = sent) -> None:
        with pytest.raises(AuthError) as err:
            store.verify_l2(h, method, path, b, time.time())
        assert (err.value.status, err.value.message) == (401, "Unauthorized/Invalid api key")

    headers, sent = _l2(wallet, sdk_creds, "DELETE", "/order", body)
    refused(headers, b=sent.replace("0xabc", "0xabd"))  # body changed in flight
    refused(headers, path="/orders")
    refused(headers, method="POST")
    refused({**headers, "POLY_API_KEY": "00000000-0000-0000-0000-000000000000"})
    refused({**headers, "POLY_PASSPHRASE": "x"})
    wrong_secret = ApiCreds(api_key=mine.api_key, api_secret="A" * 43 + "=", api_passphrase=mine.passphrase)
    refused(_l2(wallet, wrong_secret, "DELETE", "/order", body)[0])
    refused(_l2(wallet, sdk_creds, "DELETE", "/order", body, ts=int(time.time()) - 3600)[0])


def test_a_seeded_store_recognises_its_keys_after_a_restart(wallet: Signer) -> None:
    first = CredentialStore(b"k" * 32, 137, lambda: 60.0).create(wallet.address(), 0)
    restarted = CredentialStore(b"k" * 32, 137, lambda: 60.0)
    sdk_creds = ApiCreds(api_key=first.api_key, api_secret=first.secret, api_passphrase=first.passphrase)
    headers, _ = _l2(wallet, sdk_creds, "GET", "/data/orders", None)
    assert restarted.verify_l2(headers, "GET", "/data/orders", "", time.time()) == first


@pytest.mark.parametrize("neg_risk", [False, True])
@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_v2_orders_verify_and_their_id_is_the_sdk_order_hash(wallet: Signer, neg_risk: bool, side: str) -> None:
    signed = OrderBuilder(wallet).build_order(
        OrderArgsV2(token_id=TOKEN, price=0.57, size=12.5, side=side),
        CreateOrderOptions(tick_size="0.01", neg_risk=neg_risk),
    )
    order = parse_order(order_to_json_v2(signed, "key", "GTC")["order"])
    assert order.version == 2
    digest = order_digest(order, 137, neg_risk)
    assert signer_of(order, digest) == wallet.address().lower()
    assert (order.price, order.shares, order.side) == (Decimal("0.57"), Decimal("12.5"), side)
    contracts = CONTRACTS[137]
    builder = ExchangeOrderBuilderV2(contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2, 137, wallet)
    assert order_id(digest) == builder.build_order_hash(builder.build_order_typed_data(signed))
    # Signed under the other exchange's domain, it does not verify.
    assert signer_of(order, order_digest(order, 137, not neg_risk)) != wallet.address().lower()


def test_a_tampered_v2_order_no_longer_recovers_its_signer(wallet: Signer) -> None:
    signed = OrderBuilder(wallet).build_order(
        OrderArgsV2(token_id=TOKEN, price=0.4, size=10, side="BUY"),
        CreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    payload = order_to_json_v2(signed, "key", "GTC")["order"]
    bumped = parse_order({**payload, "takerAmount": str(int(payload["takerAmount"]) + 1)})
    assert signer_of(bumped, order_digest(bumped, 137, False)) != wallet.address().lower()
    sig = payload["signature"]
    flipped = parse_order({**payload, "signature": sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]})
    assert signer_of(flipped, order_digest(flipped, 137, False)) != wallet.address().lower()


@pytest.mark.parametrize("neg_risk", [False, True])
def test_v1_orders_of_py_clob_client_0346_verify(neg_risk: bool) -> None:
    signer = SignerV1(TEST_KEY, 137)
    signed = OrderBuilderV1(signer).create_order(
        OrderArgsV1(token_id=TOKEN, price=0.123, size=40, side="SELL"),
        CreateOrderOptionsV1(tick_size="0.001", neg_risk=neg_risk),
    )
    order = parse_order(order_to_json_v1_sdk(signed, "key", "GTC")["order"])
    assert order.version == 1
    assert signer_of(order, order_digest(order, 137, neg_risk)) == signer.address().lower()
    assert (order.price, order.shares) == (Decimal("0.123"), Decimal(40))


def test_market_orders_imply_an_off_grid_price_that_snaps_to_the_tick(wallet: Signer) -> None:
    signed = OrderBuilder(wallet).build_market_order(
        MarketOrderArgsV2(token_id=TOKEN, amount=5, side="BUY", price=0.84),
        CreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    order = parse_order(order_to_json_v2(signed, "key", "FAK")["order"])
    tick = Decimal("0.01")
    assert not on_tick(order.price, tick)
    assert snap_to_tick(order.price, tick, Decimal("0.01")) == Decimal("0.84")
    assert snap_to_tick(Decimal("0.845"), tick, Decimal("0.01")) is None


@pytest.mark.parametrize(
    "broken",
    [
        {"makerAmount": "abc"},
        {"maker": "0x1234"},
        {"side": "HOLD"},
        {"signature": ""},
        {"takerAmount": "0"},
    ],
)
def test_malformed_order_payloads_are_refused(wallet: Signer, broken: dict[str, str]) -> None:
    signed = OrderBuilder(wallet).build_order(
        OrderArgsV2(token_id=TOKEN, price=0.5, size=10, side="BUY"),
        CreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    payload = order_to_json_v2(signed, "key", "GTC")["order"]
    with pytest.raises(InvalidPayload):
        parse_order({**payload, **broken})
