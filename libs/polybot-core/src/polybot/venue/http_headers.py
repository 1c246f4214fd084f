"""HTTP response headers the venue clients act on."""

from __future__ import annotations


def retry_after_s(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (never negative), or None when absent or not a number."""
    if not header:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return max(0.0, value) if value == value else None  # NaN is not a delay
