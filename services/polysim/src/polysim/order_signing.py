"""Signed CTF-exchange orders: parsing the wire payload, EIP-712 order hashes, signer recovery, implied price.

Two layouts exist on the wire (protocol note §0, §3.5, §7):

* **V2** (py-clob-client-v2, production since 2026-04-28): domain ``{"Polymarket CTF Exchange", "2", chainId,
  exchange_v2 | neg_risk_exchange_v2}``, 11 signed fields ``salt, maker, signer, tokenId, makerAmount,
  takerAmount, side, signatureType, timestamp, metadata, builder``; ``expiration`` travels unsigned.
* **V1** (py-clob-client 0.34.6): domain version ``"1"`` with the V1 exchanges, 12 signed fields including
  ``taker, expiration, nonce, feeRateBps``.

The order hash (the EIP-712 digest) is the venue's order id. Amounts are integers with 6 decimals; a BUY gives
``makerAmount`` USDC for ``takerAmount`` shares, a SELL the reverse, so price = USDC / shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from polysim.trading_eip712 import (
    domain_separator,
    recover_address,
    struct_hash,
    type_hash,
    typed_data_digest,
    word_address,
    word_bytes32,
    word_uint,
)

BYTES32_ZERO = "0x" + "00" * 32
ZERO_ADDRESS = "0x" + "00" * 20
UNIT = Decimal(1_000_000)

_V2_ORDER_TYPE = type_hash(
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
    "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_V1_ORDER_TYPE = type_hash(
    "Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint256 expiration,uint256 nonce,uint256 feeRateBps,uint8 side,uint8 signatureType)"
)
_DOMAIN_NAME = "Polymarket CTF Exchange"


@dataclass(frozen=True, slots=True)
class ExchangeContracts:
    """Verifying contracts of one chain (from the SDKs' contract configs)."""

    exchange_v1: str
    neg_risk_exchange_v1: str
    exchange_v2: str
    neg_risk_exchange_v2: str


CONTRACTS: dict[int, ExchangeContracts] = {
    137: ExchangeContracts(
        exchange_v1="0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E",
        neg_risk_exchange_v1="0xC5d563A36AE78145C45a50134d48A1215220f80a",
        exchange_v2="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange_v2="0xe2222d279d744050d28e00520010520000310F59",
    ),
    80002: ExchangeContracts(
        exchange_v1="0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40",
        neg_risk_exchange_v1="0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296",
        exchange_v2="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange_v2="0xe2222d279d744050d28e00520010520000310F59",
    ),
}


class InvalidPayload(ValueError):
    """The order JSON is malformed (the venue answers 400 ``Invalid order payload``)."""


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """One order as signed by the client (either layout)."""

    version: Literal[1, 2]
    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: Literal["BUY", "SELL"]
    signature_type: int
    expiration: int
    signature: str
    timestamp_ms: int = 0  # V2
    metadata: str = BYTES32_ZERO  # V2
    builder: str = BYTES32_ZERO  # V2
    taker: str = ZERO_ADDRESS  # V1
    nonce: int = 0  # V1
    fee_rate_bps: int = 0  # V1

    @property
    def shares(self) -> Decimal:
        """Order size in shares."""
        raw = self.taker_amount if self.side == "BUY" else self.maker_amount
        return Decimal(raw) / UNIT

    @property
    def price(self) -> Decimal:
        """Exact implied price, USDC per share (not rounded to the tick)."""
        usdc, shares = (
            (self.maker_amount, self.taker_amount) if self.side == "BUY" else (self.taker_amount, self.maker_amount)
        )
        if shares == 0:
            raise InvalidPayload("zero share amount")
        return Decimal(usdc) / Decimal(shares)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidPayload("boolean where an integer was expected")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidPayload(f"not an integer: {value!r}")


def _str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"missing {key}")
    return value


def _side(value: Any) -> Literal["BUY", "SELL"]:
    # The JSON carries "BUY"/"SELL"; tolerate the signed-struct integers too.
    if value in ("BUY", 0, "0"):
        return "BUY"
    if value in ("SELL", 1, "1"):
        return "SELL"
    raise InvalidPayload(f"bad side {value!r}")


def parse_order(payload: Any) -> SignedOrder:
    """Parse the ``order`` object of a POST /order body; raises ``InvalidPayload``."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("order must be an object")
    try:
        common: dict[str, Any] = {
            "salt": _int(payload.get("salt")),
            "maker": _str(payload, "maker"),
            "signer": _str(payload, "signer"),
            "token_id": _int(payload.get("tokenId")),
            "maker_amount": _int(payload.get("makerAmount")),
            "taker_amount": _int(payload.get("takerAmount")),
            "side": _side(payload.get("side")),
            "signature_type": _int(payload.get("signatureType", 0)),
            "expiration": _int(payload.get("expiration", "0") or "0"),
            "signature": _str(payload, "signature"),
        }
        if "timestamp" in payload and "nonce" not in payload:
            order = SignedOrder(
                version=2,
                timestamp_ms=_int(payload.get("timestamp")),
                metadata=str(payload.get("metadata") or BYTES32_ZERO),
                builder=str(payload.get("builder") or BYTES32_ZERO),
                **common,
            )
        else:
            order = SignedOrder(
                version=1,
                taker=str(payload.get("taker") or ZERO_ADDRESS),
                nonce=_int(payload.get("nonce", "0")),
                fee_rate_bps=_int(payload.get("feeRateBps", "0")),
                **common,
            )
        # Encode once here so malformed addresses/bytes32 fail as a payload error, not later.
        _struct_words(order)
    except (ValueError, TypeError) as exc:
        raise InvalidPayload(str(exc)) from exc
    if order.maker_amount <= 0 or order.taker_amount <= 0:
        raise InvalidPayload("amounts must be positive")
    return order


def _struct_words(order: SignedOrder) -> list[bytes]:
    side = word_uint(0 if order.side == "BUY" else 1)
    if order.version == 2:
        return [
            word_uint(order.salt),
            word_address(order.maker),
            word_address(order.signer),
            word_uint(order.token_id),
            word_uint(order.maker_amount),
            word_uint(order.taker_amount),
            side,
            word_uint(order.signature_type),
            word_uint(order.timestamp_ms),
            word_bytes32(order.metadata),
            word_bytes32(order.builder),
        ]
    return [
        word_uint(order.salt),
        word_address(order.maker),
        word_address(order.signer),
        word_address(order.taker),
        word_uint(order.token_id),
        word_uint(order.maker_amount),
        word_uint(order.taker_amount),
        word_uint(order.expiration),
        word_uint(order.nonce),
        word_uint(order.fee_rate_bps),
        side,
        word_uint(order.signature_type),
    ]


def verifying_contract(order: SignedOrder, chain_id: int, neg_risk: bool) -> str:
    """The exchange whose domain the order must be signed under."""
    contracts = CONTRACTS[chain_id]
    if order.version == 2:
        return contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2
    return contracts.neg_risk_exchange_v1 if neg_risk else contracts.exchange_v1


def order_domain(order: SignedOrder, chain_id: int, neg_risk: bool) -> bytes:
    """The EIP-712 domain separator of the exchange the order is signed for."""
    return domain_separator(_DOMAIN_NAME, str(order.version), chain_id, verifying_contract(order, chain_id, neg_risk))


def order_struct_hash(order: SignedOrder) -> bytes:
    """hashStruct(Order) of the signed fields."""
    return struct_hash(_V2_ORDER_TYPE if order.version == 2 else _V1_ORDER_TYPE, *_struct_words(order))


def order_digest(order: SignedOrder, chain_id: int, neg_risk: bool) -> bytes:
    """The EIP-712 digest of the order (its hash; ``0x`` + hex of it is the order id)."""
    return typed_data_digest(order_domain(order, chain_id, neg_risk), order_struct_hash(order))


def order_id(digest: bytes) -> str:
    """The venue's order id for a digest."""
    return "0x" + digest.hex()


def signer_of(order: SignedOrder, digest: bytes) -> str | None:
    """The address that signed the order (EOA-style ECDSA signatures only), or None."""
    return recover_address(digest, order.signature)


def on_tick(price: Decimal, tick: Decimal) -> bool:
    """True when ``price`` is an exact multiple of ``tick``."""
    return (price % tick) == 0


def snap_to_tick(price: Decimal, tick: Decimal, tolerance_ticks: Decimal) -> Decimal | None:
    """The nearest tick when ``price`` lies within ``tolerance_ticks`` of it, else None.

    The SDKs' market orders derive ``takerAmount`` by division and round it to a few decimals, so their implied
    price misses the grid by a few millionths; limit orders never do.
    """
    nearest = (price / tick).to_integral_value() * tick
    if abs(price - nearest) <= tick * tolerance_ticks:
        return nearest
    return None
