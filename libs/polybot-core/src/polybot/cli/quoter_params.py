"""``replay --params FILE``: the SpreadQuoter's parameters from a TOML file's ``[quoter]`` table.

The table is the quoter service's own (``polybot.runtime.quoter_settings.QuoterSettings``, per-market
overrides under ``[quoter.markets."<condition_id>"]``), so a service config that has one can be given as
it is: its other tables are not read. A file that cannot be read, is not TOML, has no ``[quoter]`` table (a
misspelt one must not mean the defaults) or a bad value in it is one line naming the file and the setting
(``CliError``, exit 2).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from polybot.cli.failures import CliError, describe, echo
from polybot.cli.files import readable_file
from polybot.runtime.quoter_settings import QuoterSettings


def load_quoter_params(text: str) -> QuoterSettings:
    """The ``[quoter]`` table of the TOML file ``text`` names, checked as the quoter service checks it."""
    path = readable_file(text, "params file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"--params {path} is not valid TOML: {exc}: fix its syntax") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"--params {path} is not valid TOML: it is not UTF-8 text, {describe(exc)}") from exc
    except OSError as exc:
        raise CliError(f"cannot read --params {path}: {describe(exc)}") from exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, a list nested 10 000 deep
        raise CliError(f"--params {path} cannot be read: {describe(exc)}: fix that value") from exc
    table = data.get("quoter")
    if table is None:
        raise CliError(f"--params {path} has no [quoter] table: put the SpreadQuoter's parameters under [quoter]")
    if not isinstance(table, dict):
        raise CliError(f"--params {path}: quoter = {echo(table)} is not a table: write it as [quoter]")
    try:
        return QuoterSettings.model_validate(table)
    except ValidationError as exc:
        raise CliError(_invalid(exc, path)) from exc


def _invalid(exc: ValidationError, path: Path) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return f"--params {path}: invalid [quoter] parameters: {describe(exc)}"
    first = errors[0]
    more = len(errors) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    msg = " ".join(str(first.get("msg", "invalid")).removeprefix("Value error, ").split())
    loc: tuple[Any, ...] = tuple(first.get("loc", ()))
    if not loc:  # a rule across parameters: the message names the section and the field
        return f"--params {path}: {msg}{tail}"
    key = "quoter." + ".".join(str(p) for p in loc)
    if first.get("type") == "extra_forbidden":
        return f"--params {path}: unknown setting {key!r}: remove it or check its spelling{tail}"
    return f"--params {path}: invalid setting {key} = {echo(first.get('input'))}: {msg}{tail}"
