"""What a Retry-After header means to the venue clients."""

from __future__ import annotations

import pytest

from polybot.venue.http_headers import retry_after_s


@pytest.mark.parametrize(("header", "seconds"), [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5),
                                                 ("-2", 0.0), ("soon", None), ("nan", None)])
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header) == seconds
