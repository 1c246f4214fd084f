"""What the CLI tells a person when something goes wrong: one line, what was wrong and what to do.

``explain`` turns the exceptions a command can meet (bad settings, unreachable servers, files that are not
files) into that line; anything else still gets one line, naming its type. The traceback is for
``polybot --debug …`` only.
"""

from __future__ import annotations

import tomllib

from pydantic import ValidationError


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    if first.get("type") == "extra_forbidden":
        return f"unknown setting {where!r} (check its spelling, or the POLYBOT_* variable that sets it)"
    value = first.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and len(repr(value)) < 80 else ""
    return f"invalid setting {where!r}: {first.get('msg')}{shown}"


def explain(exc: BaseException) -> str:
    """One line for a person; never empty."""
    if isinstance(exc, ValidationError):
        return _first_error(exc)
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"the config file is not valid TOML: {exc}"
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename} is a directory, not a file"
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"cannot read {exc.filename}: permission denied"
    if type(exc).__name__ == "ClientConfigurationError":  # asyncpg: a database URL it cannot use
        return f"unusable database URL ({exc}): use postgresql://user@host:port/db"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect: {exc} (is the server running?)"
    if isinstance(exc, TimeoutError):
        return f"timed out{': ' + str(exc) if str(exc) else ''}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"
