"""What a Retry-After header and the deprecation headers mean to the venue clients."""

from __future__ import annotations

import httpx
import pytest

from polybot.venue.http_headers import deprecation_notices, retry_after_s


@pytest.mark.parametrize(("header", "seconds"), [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5),
                                                 ("-2", 0.0), ("soon", None), ("nan", None)])
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header) == seconds


def test_deprecation_notices_are_found_case_insensitively_and_nothing_else() -> None:
    headers = httpx.Headers({"Deprecation": "true", "SUNSET": "Fri, 01 May 2026 00:00:00 GMT",
                             "warning": '299 - "use /markets/keyset"', "Retry-After": "3"})
    assert deprecation_notices(headers) == [("deprecation", "true"), ("sunset", "Fri, 01 May 2026 00:00:00 GMT"),
                                            ("warning", '299 - "use /markets/keyset"')]
    assert deprecation_notices(httpx.Headers({"content-type": "application/json"})) == []
