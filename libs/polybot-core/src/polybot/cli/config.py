"""Settings for a CLI command: ``load_settings`` with its errors said for a person.

A bad setting names its key, the value (never a secret's), where it came from (the ``POLYBOT_*`` variable
or the config file) and what is wrong; a config file that is not TOML gives the line and column.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from polybot.cli.failures import CliError, describe, echo
from polybot.cli.files import readable_file
from polybot.runtime.jsonlog import log_level_problem
from polybot.runtime.settings import DEFAULT_CONFIG, Settings, load_settings

ENV_PREFIX = "POLYBOT_"
CONFIG_ENV = "POLYBOT_CONFIG"
_SECRET_WORDS = ("key", "secret", "passphrase", "password", "token")
_INT_ADVICE = re.compile(r";\s*use sys\.set_int_max_str_digits\(\).*$")
_SETTINGS_ERROR = re.compile(r'field "(?P<field>[^"]+)" from source "(?P<source>[^"]+)"')


def config_file(config: Path | None) -> Path | None:
    """The TOML file settings are read from: ``--config``, else ``$POLYBOT_CONFIG``, else the default, if any."""
    if config is not None:
        return config
    path = Path(os.environ.get("POLYBOT_CONFIG", str(DEFAULT_CONFIG)))
    return path if path.is_file() else None


def _env_var(loc: tuple[Any, ...]) -> str | None:
    """The ``POLYBOT_*`` variable that set the setting at ``loc`` (or its section), if one did."""
    present = {name.upper(): name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    parts = [str(p) for p in loc if isinstance(p, str)]
    for n in range(len(parts), 0, -1):
        name = ENV_PREFIX + "__".join(parts[:n]).upper()
        if name in present:
            return present[name]
    if "" in parts:  # an empty key: POLYBOT_OPS____INGESTOR (four underscores) or POLYBOT_OPS__ (a trailing pair)
        stem = ENV_PREFIX + "__".join(parts[: parts.index("") + 1]).upper()
        return next((present[n] for n in sorted(present) if n.startswith(stem)), None)
    return None


def _origin(loc: tuple[Any, ...], file: Path | None) -> str:
    env = _env_var(loc)
    if env is not None:
        return f"from the environment variable {env}"
    if file is not None:
        return f"in {file}"
    return "in the settings"


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return any(word in str(part).lower() for part in loc for word in _SECRET_WORDS)


def _validation_line(exc: ValidationError, file: Path | None) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return f"invalid settings: {describe(exc)}"
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    key = ".".join(str(p) for p in loc)
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    more = len(errors) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''}; --debug lists them)" if more else ""
    if not loc:  # a rule across settings, e.g. live mode without a key
        return f"invalid settings: {msg}{tail}"
    where = _origin(loc, file)
    if first.get("type") == "extra_forbidden":
        return f"unknown setting {key!r} {where}: remove it or check its spelling{tail}"
    value = "" if _is_secret(loc) else f" = {echo(first.get('input'))}"
    return f"invalid setting {key}{value} {where}: {msg}{tail}"


def _settings_error_line(exc: SettingsError) -> str:
    """pydantic-settings could not even parse a value (a section or list from the environment that is not JSON)."""
    match = _SETTINGS_ERROR.search(str(exc))
    field = match.group("field") if match else "?"
    cause = describe(exc.__cause__) if exc.__cause__ is not None else describe(exc)
    if match and match.group("source") == "EnvSettingsSource":
        names = sorted(n for n in os.environ if n.upper().startswith(f"{ENV_PREFIX}{field.upper()}"))
        shown = ", ".join(names) or f"{ENV_PREFIX}{field.upper()}"
        return (f"cannot read setting {field!r} from the environment ({shown}): not valid JSON ({cause}); "
                f"a list or section set in the environment must be JSON, e.g. "
                f"{ENV_PREFIX}GAMMA__VERSIONS='[\"v1\"]'")
    return f"cannot read setting {field!r}: {cause}"


def _named_by_env() -> Path | None:
    """The file ``$POLYBOT_CONFIG`` names, which must then be a readable regular file (unset or empty: None)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        return None
    try:
        return readable_file(text, "config file")
    except CliError as exc:  # a FIFO or /dev/null is not "not found": say what it is, and where it was named
        raise CliError(f"{exc} (named by {CONFIG_ENV}; unset it to read {DEFAULT_CONFIG})") from None


def load(config: str | None) -> Settings:
    """The settings for a command (``config`` is its ``--config``); ``CliError`` when they cannot be had."""
    path = readable_file(config, "config file") if config is not None else _named_by_env()
    file = config_file(path)
    try:
        settings = load_settings(path)
    except ValidationError as exc:
        raise CliError(_validation_line(exc, file)) from exc
    except SettingsError as exc:
        raise CliError(_settings_error_line(exc)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"config file {file} is not valid TOML: {exc}: fix its syntax") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"config file {file} is not valid TOML: it is not UTF-8 text, {describe(exc)}") from exc
    except OSError as exc:  # $POLYBOT_CONFIG unreadable, or the file went away meanwhile
        name = exc.filename or file
        raise CliError(f"cannot read config file {name}: {describe(exc)}") from exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, a list nested 10 000 deep
        raise CliError(_unreadable_line(exc, file)) from exc
    problem = log_level_problem(settings.log_level)
    if problem is not None:  # the services would die of it at start (``up``), one after the other
        where = _origin(("log_level",), file)
        raise CliError(f"invalid setting log_level = {echo(settings.log_level)} {where}: {problem}")
    return settings


def _unreadable_line(exc: BaseException, file: Path | None) -> str:
    """A value neither the TOML reader nor the environment's JSON decoding could take: say whose it is."""
    reason = _INT_ADVICE.sub("", describe(exc))  # Python's advice is for programmers, not for this file
    if file is not None:
        try:
            tomllib.loads(file.read_text(encoding="utf-8"))
        except (ValueError, RecursionError, OSError):
            return f"config file {file} cannot be read: {reason}: fix that value"
    names = sorted(n for n, v in os.environ.items()
                   if n.upper().startswith(ENV_PREFIX) and v.lstrip()[:1] in ("[", "{"))
    shown = ", ".join(names) or f"the {ENV_PREFIX}* variables"
    return f"cannot read the settings from the environment ({shown}): {reason}: fix that value"


def database_url(args: argparse.Namespace) -> tuple[str, str]:
    """The database URL of a command with ``--db-url`` and ``--config`` (``status``, ``migrate``), and where
    it came from (for messages): --db-url, else the settings, else a running ``polybot up``."""
    from polybot.runtime.infra import shared_infra

    if args.db_url is not None:
        if args.config is not None or os.environ.get(CONFIG_ENV):
            load(args.config)  # a config file named (--config, $POLYBOT_CONFIG) must be good, used or not
        return str(args.db_url), "--db-url"
    settings = load(args.config)
    if settings.database_url is not None:
        return settings.database_url, "the database URL (database_url / POLYBOT_DATABASE_URL)"
    shared = shared_infra(settings.state_dir)
    if shared is not None:
        return shared["database_url"], f"the database URL in {settings.state_dir / 'infra.json'}"
    raise CliError(
        f"no database: pass --db-url, set POLYBOT_DATABASE_URL, or start the stack (`polybot up`) "
        f"so that {settings.state_dir / 'infra.json'} exists"
    )
