"""Integer units the engine computes in, and their exact venue spellings.

Prices are integers of 1/10,000 (every venue tick, 0.1 … 0.0001, is a whole number of them), sizes and
USDC amounts integers of 1/1,000,000 (the venue's 6 decimals). Nothing here touches a float.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

PRICE_SCALE = 10_000
SIZE_SCALE = 1_000_000
ONE = PRICE_SCALE  # the price of a certain outcome: YES at p ⇔ NO at ONE − p

_D_PRICE = Decimal(PRICE_SCALE)
_D_SIZE = Decimal(SIZE_SCALE)


def _price_text(units: int) -> str:
    if units % PRICE_SCALE == 0:
        return str(units // PRICE_SCALE)
    whole, frac = divmod(units, PRICE_SCALE)
    return f"{whole}.{frac:04d}".rstrip("0")


PRICE_TEXT: tuple[str, ...] = tuple(_price_text(u) for u in range(PRICE_SCALE + 1))


def price_text(units: int) -> str:
    """The venue's spelling of a price: ``"0.49"``, ``"0.5"``, ``"0.001"``."""
    return PRICE_TEXT[units]


def ltp_text(units: int) -> str:
    """A last-trade price as the venue puts it in hashes: at least 3 decimals (``"0.500"``)."""
    whole, frac = divmod(units, PRICE_SCALE)
    text = f"{whole}.{frac:04d}"
    return text[:-1] if text.endswith("0") else text


def size_text(micro: int) -> str:
    """The venue's spelling of a size: ``"55"``, ``"3769.8"``, ``"128.98"``."""
    whole, frac = divmod(micro, SIZE_SCALE)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


def price_units(price: Decimal) -> int:
    """A price as units; raises ValueError when it is not a whole number of 1/10,000."""
    scaled = price * _D_PRICE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} is finer than 0.0001")
    return int(scaled)


def size_micro(size: Decimal) -> int:
    """A size or amount as micro units (truncating anything finer than 6 decimals)."""
    return int((size * _D_SIZE).to_integral_value(rounding=ROUND_DOWN))


def micro_decimal(micro: int) -> Decimal:
    """Micro units back to a Decimal with no trailing zeros beyond what is needed."""
    return (Decimal(micro) / _D_SIZE).normalize() if micro else Decimal(0)


def units_decimal(units: int) -> Decimal:
    """Price units back to a Decimal."""
    return Decimal(PRICE_TEXT[units])


def notional_micro(price_units_: int, size_micro_: int) -> int:
    """USDC micro units paid for ``size`` at ``price`` (floored to the micro)."""
    return price_units_ * size_micro_ // PRICE_SCALE


def tick_text(tick_units: int) -> str:
    """A tick size as the venue spells it (``"0.01"``)."""
    return PRICE_TEXT[tick_units]
