"""The venue's order id of a signed V2 order, computed before (or without) the venue's answer.

Polymarket's order id is the order's EIP-712 digest: keccak(0x1901 ‖ domainSeparator ‖ hashStruct(Order))
under the "Polymarket CTF Exchange" domain, version "2", chain 137, verifying contract the V2 exchange (or
the V2 neg-risk exchange for neg-risk markets). Knowing it up front turns a submit that timed out into an
order we can look for (``pending_unknown``) instead of a guess. The fields and contracts are the venue's
published ones (protocol note §7); the test checks our digest against the id polysim answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak

DOMAIN_NAME = "Polymarket CTF Exchange"
DOMAIN_VERSION = "2"
EXCHANGE_V2 = {137: "0xE111180000d2663C0091e4f400237545B87B996B"}
NEG_RISK_EXCHANGE_V2 = {137: "0xe2222d279d744050d28e00520010520000310F59"}
_ORDER_TYPE = keccak(text="Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
                          "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
                          "bytes32 builder)")
_DOMAIN_TYPE = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


@dataclass(frozen=True, slots=True)
class OrderFields:
    """The signed fields of a V2 order (as the SDK's ``SignedOrder`` holds them)."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: str  # BUY or SELL
    signature_type: int
    timestamp: int
    metadata: str  # 0x-prefixed 32 bytes
    builder: str  # 0x-prefixed 32 bytes


def _uint(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _address(a: str) -> bytes:
    return bytes.fromhex(a.removeprefix("0x")).rjust(32, b"\0")


def _bytes32(h: str) -> bytes:
    raw = bytes.fromhex(h.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def domain_separator(chain_id: int, neg_risk: bool) -> bytes:
    contract = (NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2)[chain_id]
    return keccak(_DOMAIN_TYPE + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION) + _uint(chain_id)
                  + _address(contract))


def order_id(order: OrderFields, *, chain_id: int = 137, neg_risk: bool = False) -> str:
    """``0x`` + the hex of the order's EIP-712 digest: the id the venue gives the order."""
    side = 0 if order.side.upper() == "BUY" else 1
    struct = keccak(_ORDER_TYPE + _uint(order.salt) + _address(order.maker) + _address(order.signer)
                    + _uint(order.token_id) + _uint(order.maker_amount) + _uint(order.taker_amount) + _uint(side)
                    + _uint(order.signature_type) + _uint(order.timestamp) + _bytes32(order.metadata)
                    + _bytes32(order.builder))
    return "0x" + keccak(b"\x19\x01" + domain_separator(chain_id, neg_risk) + struct).hex()
