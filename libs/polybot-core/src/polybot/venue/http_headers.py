"""HTTP response headers the venue clients act on."""

from __future__ import annotations

from collections.abc import Mapping


def retry_after_s(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (never negative), or None when absent or not a number."""
    if not header:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return max(0.0, value) if value == value else None  # NaN is not a delay


# Headers by which the venue announces that an endpoint is going away (RFC 8594 ``Sunset``, the
# ``Deprecation`` draft, and HTTP ``Warning`` 299 "miscellaneous persistent warning").
NOTICE_HEADERS = ("deprecation", "sunset", "warning")


def deprecation_notices(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ``(header, value)`` pairs of ``headers`` that announce a deprecation, header names lower-cased."""
    found = []
    for name in NOTICE_HEADERS:
        value = headers.get(name)
        if value is not None:
            found.append((name, value[:300]))
    return found
