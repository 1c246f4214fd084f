"""The CLI's connections to PostgreSQL and NATS: one-shot, failing fast, naming the host and the cause.

A command is not a service: it does not reconnect for ever (``Bus.connect`` does, so that a restarted
nats-server never takes a service down), and the NATS client's own error callbacks and logs stay out of the
terminal. A URL is checked before anything is dialled; a password in it never appears in a message.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import nats
import nats.errors

from polybot.bus.client import Bus
from polybot.cli.failures import CliError, describe, echo, hint, redact, scrub
from polybot.store.pool import create_pool

PG_EXAMPLE = "postgresql://user@host:5432/dbname"
NATS_EXAMPLE = "nats://host:4222"
PG_SCHEMES = ("postgresql", "postgres")
NATS_SCHEMES = ("nats", "tls", "ws", "wss")
# Everything asyncpg raises when it cannot connect (ClientConfigurationError, a bad URL, is an InterfaceError).
PG_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _port_problem(url: str) -> str | None:
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        return describe(exc)
    return None


def check_pg_url(url: str, label: str) -> None:
    """``CliError`` unless ``url`` is a PostgreSQL URL asyncpg can use; ``label`` says where it came from."""
    if not url.strip():
        raise CliError(f"{label} is empty: give a PostgreSQL database URL such as {PG_EXAMPLE}")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in PG_SCHEMES:
        raise CliError(f"{label} {echo(redact(url))} is not a PostgreSQL database URL: use {PG_EXAMPLE}")
    hosts = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    problem = None if "," in hosts else _port_problem(url)  # several hosts: asyncpg's own syntax
    if problem is not None:
        raise CliError(f"{label} {echo(redact(url))} is not a usable database URL ({problem}): use {PG_EXAMPLE}")


def check_nats_url(url: str, label: str) -> None:
    """``CliError`` unless ``url`` is a NATS URL (``nats://host:port``; a bare ``host:port`` too, as nats-py)."""
    if not url.strip():
        raise CliError(f"{label} is empty: give a NATS URL such as {NATS_EXAMPLE}")
    full = url if "://" in url else f"nats://{url}"
    try:
        parts = urlsplit(full)
        host = parts.hostname
    except ValueError as exc:
        raise CliError(f"{label} {echo(redact(url))} is not a usable NATS URL ({describe(exc)}): "
                       f"use {NATS_EXAMPLE}") from None
    if parts.scheme.lower() not in NATS_SCHEMES or not host or any(c.isspace() for c in parts.netloc):
        raise CliError(f"{label} {echo(redact(url))} is not a NATS URL: use {NATS_EXAMPLE}")
    problem = _port_problem(full)
    if problem is not None:
        raise CliError(f"{label} {echo(redact(url))} is not a usable NATS URL ({problem}): use {NATS_EXAMPLE}")


def pg_failure(url: str, exc: BaseException, timeout_s: float | None = None) -> CliError:
    """The error for a PostgreSQL server that could not be reached or refused us."""
    return CliError(f"cannot connect to PostgreSQL at {redact(url)}: {scrub(describe(exc, timeout_s), url)}; "
                    f"{hint(exc)}")


def _unusable(url: str, label: str, exc: BaseException) -> CliError:
    return CliError(f"{label} {echo(redact(url))} is not a usable database URL "
                    f"({scrub(describe(exc), url)}): use {PG_EXAMPLE}")


async def connect_pg(url: str, *, label: str, timeout_s: float = 5.0) -> asyncpg.Connection:
    """One connection to ``url``, or ``CliError`` naming the host and the cause."""
    check_pg_url(url, label)
    try:
        conn: asyncpg.Connection = await asyncpg.connect(url, timeout=timeout_s)
    except (asyncpg.ClientConfigurationError, ValueError) as exc:
        raise _unusable(url, label, exc) from exc
    except PG_ERRORS as exc:
        raise pg_failure(url, exc, timeout_s) from exc
    return conn


async def open_pool(url: str, *, label: str, timeout_s: float = 10.0, max_size: int = 4) -> asyncpg.Pool:
    """A pool on ``url`` (``polybot.store.pool``), or ``CliError`` naming the host and the cause."""
    check_pg_url(url, label)
    try:
        return await create_pool(url, min_size=1, max_size=max_size, timeout_s=timeout_s)
    except (asyncpg.ClientConfigurationError, ValueError) as exc:
        raise _unusable(url, label, exc) from exc
    except PG_ERRORS as exc:
        raise pg_failure(url, exc, timeout_s) from exc


async def connect_bus(url: str, name: str, *, label: str, timeout_s: float = 5.0) -> Bus:
    """A one-shot ``Bus`` on ``url``: two quick attempts, no reconnection, and not a word from nats-py."""
    check_nats_url(url, label)
    seen: list[Exception] = []

    async def _note(exc: Exception) -> None:  # nats-py's default callback logs a traceback per attempt
        seen.append(exc)

    async def _quiet() -> None:
        return None

    try:
        nc = await asyncio.wait_for(
            nats.connect(servers=[url], name=name, connect_timeout=timeout_s, allow_reconnect=False,
                         max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=_note,
                         disconnected_cb=_quiet, closed_cb=_quiet, reconnected_cb=_quiet),
            timeout=2 * timeout_s + 1,
        )
    except nats.errors.NoServersError as exc:  # every attempt failed: the last attempt's error says why
        cause: BaseException = seen[-1] if seen else exc
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        cause = exc
    else:
        return Bus(nc, name)
    raise CliError(f"cannot connect to NATS at {redact(url)}: {scrub(describe(cause, timeout_s), url)}; "
                   f"{hint(cause)}") from cause
