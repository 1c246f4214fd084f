"""EIP-712 hashing and signer recovery, written out by hand for the few static structs polysim verifies.

Every field the venue signs is a static ABI type (uint, address, bytes32) or a string (hashed), so a struct
hash is keccak over 32-byte words; no general ABI encoder is needed. Recovery uses libsecp256k1 through
``coincurve``: verifying one order costs tens of microseconds, not the milliseconds of a pure-Python path.
"""

from __future__ import annotations

from functools import lru_cache

from coincurve import PublicKey
from eth_utils.crypto import keccak

# secp256k1 group order; signatures with s above half of it are malleable copies and Ethereum refuses them.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def word_uint(value: int) -> bytes:
    """One ABI word for a uint (raises on negative or over-wide values)."""
    if value < 0 or value >= 1 << 256:
        raise ValueError("uint256 out of range")
    return value.to_bytes(32, "big")


def word_address(address: str) -> bytes:
    """One ABI word for a 0x-prefixed 20-byte address."""
    raw = bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))
    if len(raw) != 20:
        raise ValueError("address must be 20 bytes")
    return b"\x00" * 12 + raw


def word_bytes32(value: str) -> bytes:
    """One ABI word for a 0x-prefixed bytes32 (shorter hex is left-padded, as the SDK does)."""
    raw = bytes.fromhex(value.removeprefix("0x").zfill(64))
    if len(raw) != 32:
        raise ValueError("bytes32 must be 32 bytes")
    return raw


def word_string(value: str) -> bytes:
    """A string member is encoded as the keccak of its UTF-8 bytes."""
    return keccak(value.encode("utf-8"))


def type_hash(type_string: str) -> bytes:
    """keccak of an EIP-712 type string such as ``Order(uint256 salt,...)``."""
    return keccak(text=type_string)


def struct_hash(type_hash_: bytes, *words: bytes) -> bytes:
    """hashStruct(s) = keccak(typeHash ‖ encodeData(s))."""
    return keccak(type_hash_ + b"".join(words))


_DOMAIN_NO_CONTRACT = type_hash("EIP712Domain(string name,string version,uint256 chainId)")
_DOMAIN_WITH_CONTRACT = type_hash(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@lru_cache(maxsize=64)
def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str | None = None) -> bytes:
    """The EIP-712 domain separator; the member list depends on whether a verifying contract is given."""
    if verifying_contract is None:
        return struct_hash(_DOMAIN_NO_CONTRACT, word_string(name), word_string(version), word_uint(chain_id))
    return struct_hash(
        _DOMAIN_WITH_CONTRACT,
        word_string(name),
        word_string(version),
        word_uint(chain_id),
        word_address(verifying_contract),
    )


def typed_data_digest(domain_sep: bytes, struct_hash_: bytes) -> bytes:
    """The 32-byte digest an EIP-712 signer signs: keccak(0x1901 ‖ domainSeparator ‖ hashStruct)."""
    return keccak(b"\x19\x01" + domain_sep + struct_hash_)


def recover_address(digest: bytes, signature: str) -> str | None:
    """The address (lower-case hex) that produced ``signature`` (65-byte r‖s‖v hex) over ``digest``, else None."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        return None
    if len(raw) != 65:
        return None
    v = raw[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        return None
    s = int.from_bytes(raw[32:64], "big")
    if s == 0 or s > _SECP256K1_N // 2:
        return None
    try:
        public = PublicKey.from_signature_and_message(raw[:64] + bytes([v]), digest, hasher=None)
    except ValueError:
        return None
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def same_address(a: str, b: str) -> bool:
    """Addresses compare case-insensitively (checksum casing is presentation only)."""
    return a.lower() == b.lower()
