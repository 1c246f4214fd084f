"""What the CLI tells a person when something goes wrong: exit codes, ``CliError``, one-line descriptions.

Exit codes: 0 done; 1 ran, but found a problem (``replay`` found nothing to replay); 2 could not do what was
asked (bad input, bad config, cannot connect); 130 interrupted. Every error is one line on stderr,
``error: <what was wrong>: <what to do>``; the traceback is for ``polybot --debug …`` only. Commands raise
``CliError`` for the cases they know; ``explain`` is the last net for anything else.
"""

from __future__ import annotations

import re
import socket
import sys
import traceback

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

# Longest echo of something the user typed (a value, not a path) inside a message.
ECHO_LIMIT = 60
# Longest unbroken run of characters (a path, a URL, an argument) an error line shows whole; a longer one
# (a 100 000-character argument) keeps its start and end, so that the line stays a line a person can read.
TOKEN_LIMIT = 200
_LONG_TOKEN = re.compile(rf"\S{{{TOKEN_LIMIT + 1},}}")

_USERINFO = re.compile(r"^([A-Za-z][\w+.-]*://[^/@:]*:)[^/]*@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pass|token|secret)=[^&#\s]*")


class CliError(Exception):
    """A user-facing error: printed as one line (``error: …``), exit code ``code`` (2 unless told)."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr`` of a user-given value, cut to ``limit`` characters (a 5000-digit number stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str) -> str:
    """``text`` with newlines and other control characters escaped, so that it prints as one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _is_timeout(exc: BaseException) -> bool:
    return any(cls.__name__ == "TimeoutError" for cls in type(exc).__mro__)


def describe(exc: BaseException, timeout_s: float | None = None) -> str:
    """Why ``exc`` happened, for a person; never empty (the type name when the exception has no text)."""
    if _is_timeout(exc):
        return f"timed out after {timeout_s:g}s" if timeout_s else "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    if isinstance(exc, UnicodeDecodeError):
        return f"byte 0x{exc.object[exc.start]:02x} is not UTF-8 ({exc.reason})"
    text = one_line(str(exc).strip())
    return text or type(exc).__name__


def hint(exc: BaseException) -> str:
    """What to do about a failed connection, by its cause."""
    name = type(exc).__name__
    if _is_timeout(exc):
        return "is the host reachable, and is that port the right server?"
    if isinstance(exc, ConnectionRefusedError):
        return "is the server running, on that host and port?"
    if isinstance(exc, socket.gaierror):
        return "check the host name"
    if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
        return "check the user name and password"
    if name == "InvalidCatalogNameError":
        return "create the database or fix its name in the URL"
    return "check the URL and that the server is running"


def _password(url: str) -> str | None:
    match = _USERINFO.match(url)
    if match is None:
        return None
    secret = url[match.end(1): match.end() - 1]
    return secret or None


def redact(url: str) -> str:
    """``url`` with its password (``user:***@``, ``?password=***``) hidden."""
    if _password(url) is not None:
        url = _USERINFO.sub(r"\1***@", url, count=1)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", url)


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) without the passwords of ``url`` anywhere in it."""
    secrets = [_password(url), *(m.group(0).split("=", 1)[1] for m in _QUERY_SECRET.finditer(url))]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def explain(exc: BaseException) -> str:
    """The line for an exception no command translated: its type and message, and where the traceback is."""
    reason = describe(exc)
    if reason == type(exc).__name__:
        reason = "(no message)"
    return f"{type(exc).__name__}: {reason} (run with --debug for the traceback)"


def shorten(text: str) -> str:
    """``text`` with every run of more than ``TOKEN_LIMIT`` non-space characters cut in its middle."""
    def cut(match: re.Match[str]) -> str:
        token = match.group(0)
        return f"{token[:120]}…({len(token) - 180} characters left out)…{token[-60:]}"

    return _LONG_TOKEN.sub(cut, text)


def print_error(message: str) -> None:
    print(f"error: {shorten(one_line(message))}", file=sys.stderr, flush=True)


def print_traceback(exc: BaseException) -> None:
    traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.flush()
