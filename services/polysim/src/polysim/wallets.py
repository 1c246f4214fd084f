"""Smart-wallet makers: which proxy, Safe or deposit wallet belongs to a signer, and POLY_1271 signatures.

On chain a Polymarket proxy, a Gnosis Safe and a deposit wallet are CREATE2 deployments whose address follows
from the owning EOA, so the venue can tell that an order's maker belongs to its signer. polysim derives them
the same way, with the production factories (the ones the SDKs sign for):

* signature type 1 (POLY_PROXY) and 2 (GNOSIS_SAFE): maker = the signer's proxy / Safe, signer = the EOA, an
  ordinary EIP-712 signature by the EOA;
* signature type 3 (POLY_1271, the deposit wallet new accounts must use): maker = signer = the deposit wallet
  (its beacon or its older UUPS form), and the signature is the wallet's ERC-1271 / ERC-7739 form: the owner
  EOA signs a ``TypedDataSign`` wrapping the order under the wallet's own ``DepositWallet`` domain, and sends
  ``signature(65) ‖ exchange domain separator(32) ‖ order struct hash(32) ‖ contents type ‖ its length(2)``.

Session-key signatures (a further wrapper ending in the ERC-6492 magic bytes) are not accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from polysim.trading_eip712 import (
    recover_address,
    same_address,
    struct_hash,
    type_hash,
    typed_data_digest,
    word_address,
    word_bytes32,
    word_string,
    word_uint,
)

ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
    "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_TYPED_DATA_SIGN = type_hash(
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,"
    "bytes32 salt)" + ORDER_TYPE_STRING
)


@dataclass(frozen=True, slots=True)
class WalletFactories:
    proxy_factory: str
    proxy_implementation: str
    safe_factory: str
    safe_init_code_hash: str
    deposit_wallet_factory: str
    deposit_wallet_implementation: str
    deposit_wallet_beacon: str


PRODUCTION = WalletFactories(
    proxy_factory="0xaB45c5A4B0c941a2F231C04C3f49182e1A254052",
    proxy_implementation="0x44e999d5c2F66Ef0861317f9A4805AC2e90aEB4f",
    safe_factory="0xaacFeEa03eb1561C4e67d661e40682Bd20E3541b",
    safe_init_code_hash="0x2bce2127ff07fb632d16c8347c4ebf501f4841168bed00d9e6ef715ddb6fcecf",
    deposit_wallet_factory="0x00000000000Fb5C9ADea0298D729A0CB3823Cc07",
    deposit_wallet_implementation="0x58CA52ebe0DadfdF531Cde7062e76746de4Db1eB",
    deposit_wallet_beacon="0x7A18EDfe055488A3128f01F563e5B479D92ffc3a",
)

_PROXY_BYTECODE = (
    "3d3d606380380380913d393d73{factory}5af4602a57600080fd5b602d8060366000396000f3363d3d373d3d3d363d73{impl}"
    "5af43d82803e903d91602b57fd5bf352e831dd"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "0000000000000000000000000000000000000000000000000000000000000000"
)
_UUPS_CONST1 = bytes.fromhex("cc3735a920a3ca505d382bbc545af43d6000803e6038573d6000fd5b3d6000f3")
_UUPS_CONST2 = bytes.fromhex("5155f3363d3d373d3d363d7f360894a13ba1a3210667c828492db98dca3e2076")
_UUPS_PREFIX = 0x61003D3D8160233D3973
_BEACON_CONST1 = bytes.fromhex("b3582b35133d50545afa5036515af43d6000803e604d573d6000fd5b3d6000f3")
_BEACON_CONST2 = bytes.fromhex("1b60e01b36527fa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6c")
_BEACON_CONST3 = bytes.fromhex("60195155f3363d3d373d3d363d602036600436635c60da")
_BEACON_PREFIX = 0x6100523D8160233D3973


def _raw(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.removeprefix("0x").removeprefix("0X"))


def _create2(factory: str, salt: bytes, init_code_hash: bytes) -> str:
    return to_checksum_address("0x" + keccak(b"\xff" + _raw(factory) + salt + init_code_hash)[12:].hex())


@lru_cache(maxsize=4096)
def proxy_wallet(signer: str, f: WalletFactories = PRODUCTION) -> str:
    """The Polymarket proxy wallet of an EOA."""
    code = bytes.fromhex(_PROXY_BYTECODE.format(factory=_raw(f.proxy_factory).hex(),
                                                impl=_raw(f.proxy_implementation).hex()))
    return _create2(f.proxy_factory, keccak(_raw(signer)), keccak(code))


@lru_cache(maxsize=4096)
def safe_wallet(signer: str, f: WalletFactories = PRODUCTION) -> str:
    """The Gnosis Safe the Polymarket factory deploys for an EOA."""
    return _create2(f.safe_factory, keccak(abi_encode(["address"], [signer])), _raw(f.safe_init_code_hash))


def _deposit_args(signer: str, f: WalletFactories) -> bytes:
    return abi_encode(["address", "bytes32"], [f.deposit_wallet_factory, _raw(signer).rjust(32, b"\x00")])


@lru_cache(maxsize=4096)
def deposit_wallets(signer: str, f: WalletFactories = PRODUCTION) -> tuple[str, str]:
    """The deposit wallet of an EOA: (beacon form, the older UUPS form)."""
    args = _deposit_args(signer, f)
    n = len(args)
    beacon_code = ((_BEACON_PREFIX + (n << 56)).to_bytes(10, "big") + _raw(f.deposit_wallet_beacon) + _BEACON_CONST3
                   + _BEACON_CONST2 + _BEACON_CONST1 + args)
    uups_code = ((_UUPS_PREFIX + (n << 56)).to_bytes(10, "big") + _raw(f.deposit_wallet_implementation)
                 + bytes.fromhex("6009") + _UUPS_CONST2 + _UUPS_CONST1 + args)
    salt = keccak(args)
    return (_create2(f.deposit_wallet_factory, salt, keccak(beacon_code)),
            _create2(f.deposit_wallet_factory, salt, keccak(uups_code)))


def owns_maker(signature_type: int, maker: str, owner: str) -> bool:
    """Whether ``maker`` is the proxy (1), Safe (2) or deposit wallet (3) of the EOA ``owner``."""
    owner = to_checksum_address(owner)
    if signature_type == 1:
        return same_address(maker, proxy_wallet(owner))
    if signature_type == 2:
        return same_address(maker, safe_wallet(owner))
    if signature_type == 3:
        return any(same_address(maker, w) for w in deposit_wallets(owner))
    return False


def poly1271_signer(signature: str, exchange_domain: bytes, order_struct_hash: bytes, wallet: str,
                    chain_id: int) -> str | None:
    """The EOA that produced a deposit wallet's order signature (lower-case hex), or None.

    The trailer must name the exchange's domain, this order and the Order type exactly; the EOA's signature is
    over ``TypedDataSign(contents=order, name="DepositWallet", version="1", chainId, verifyingContract=wallet,
    salt=0)`` in the exchange's domain.
    """
    try:
        raw = _raw(signature)
    except ValueError:
        return None
    contents_type = ORDER_TYPE_STRING.encode()
    trailer = exchange_domain + order_struct_hash + contents_type + len(contents_type).to_bytes(2, "big")
    if len(raw) != 65 + len(trailer) or raw[65:] != trailer:
        return None
    body = struct_hash(_TYPED_DATA_SIGN, order_struct_hash, word_string("DepositWallet"), word_string("1"),
                       word_uint(chain_id), word_address(wallet), word_bytes32("0x" + "00" * 32))
    return recover_address(typed_data_digest(exchange_domain, body), "0x" + raw[:65].hex())
