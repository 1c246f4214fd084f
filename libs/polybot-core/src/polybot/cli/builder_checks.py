"""The checks of ``polybot builder-health`` that need nothing but the settings, and how a result is shown.

Each check ends ``ok``, ``missing`` or ``invalid`` and names the settings field it is about (the one at fault
when it fails). Secrets are never shown: at most their last 4 characters (``…1a2b``), and every text that
leaves these checks is scrubbed of every configured secret value first, so that a library's error message
quoting a key cannot leak it either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from polybot.runtime.settings import Settings

Status = Literal["ok", "missing", "invalid"]
_SHOWN_TAIL = 4
_SHORTEST_SHOWN = 16  # a shorter secret shows nothing at all: 4 of 8 characters is half of it


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    fields: tuple[str, ...]  # the settings fields it is about; on a failure the first is the one at fault
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["field"] = self.fields[0] if self.fields else None
        out["fields"] = list(self.fields)
        return out


@dataclass(slots=True)
class Report:
    mode: str
    venue: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed_fields(self) -> list[str]:
        return [c.fields[0] for c in self.checks if not c.ok and c.fields]


def env_name(field_name: str) -> str:
    """The environment variable of a settings field: ``executor.funder`` → ``POLYBOT_EXECUTOR__FUNDER``."""
    return "POLYBOT_" + field_name.upper().replace(".", "__")


def tail(secret: str) -> str:
    """What may be shown of a secret: its last 4 characters, or nothing for a short one."""
    return "…" + secret[-_SHOWN_TAIL:] if len(secret) >= _SHORTEST_SHOWN else "****"


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold (to scrub from any text shown), longest first."""
    ex = settings.executor
    values = [s.get_secret_value() for s in (settings.private_key, settings.api_key, settings.api_secret,
                                             settings.api_passphrase, ex.builder_api_key, ex.builder_secret,
                                             ex.builder_passphrase, ex.builder_signer_token, ex.kill_token)
              if s is not None]
    pk = settings.private_key.get_secret_value() if settings.private_key else ""
    values.append(pk.removeprefix("0x"))
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text


def value_of(secret: SecretStr | None) -> str | None:
    """A secret's value, or None when unset; a blank one counts as set (and is reported invalid)."""
    return None if secret is None else secret.get_secret_value()


def presence(name: str, named: dict[str, str | None]) -> Check | None:
    """``missing`` naming the first unset field, ``invalid`` for the first blank one; None when all are set."""
    for key, value in named.items():
        if value is None:
            return Check(name, "missing", (key,), f"{key} is not set ({env_name(key)})")
        if not value.strip():
            return Check(name, "invalid", (key,), f"{key} is blank ({env_name(key)})")
    return None


LOCAL_FIELDS = ("executor.builder_api_key", "executor.builder_secret", "executor.builder_passphrase")
REMOTE_FIELDS = ("executor.builder_signer_url", "executor.builder_signer_token")


def builder_kind(settings: Settings) -> Literal["local", "remote", "none"]:
    """Local wins when both are configured (as Polymarket's ``BuilderConfig`` does)."""
    ex = settings.executor
    if any(v is not None for v in (ex.builder_api_key, ex.builder_secret, ex.builder_passphrase)):
        return "local"
    if ex.builder_signer_url is not None or ex.builder_signer_token is not None:
        return "remote"
    return "none"


def builder_credentials(settings: Settings) -> Check:
    ex = settings.executor
    kind = builder_kind(settings)
    if kind == "none":
        return Check("builder_credentials", "missing", (*LOCAL_FIELDS, *REMOTE_FIELDS),
                     f"no Builder credentials: set {', '.join(LOCAL_FIELDS)} (a local Builder API key) or "
                     f"{' and '.join(REMOTE_FIELDS)} (a remote signer)")
    if kind == "local":
        named = dict(zip(LOCAL_FIELDS, (value_of(ex.builder_api_key), value_of(ex.builder_secret),
                                        value_of(ex.builder_passphrase)), strict=True))
        problem = presence("builder_credentials", named)
        if problem is not None:
            return problem
        key = value_of(ex.builder_api_key) or ""
        return Check("builder_credentials", "ok", LOCAL_FIELDS, f"local Builder API key {tail(key)}")
    url = ex.builder_signer_url
    problem = presence("builder_credentials", {REMOTE_FIELDS[0]: url,
                                               REMOTE_FIELDS[1]: value_of(ex.builder_signer_token)})
    if problem is not None:
        return problem
    if not (url or "").startswith(("http://", "https://")):
        return Check("builder_credentials", "invalid", (REMOTE_FIELDS[0],),
                     f"{REMOTE_FIELDS[0]} must be an http:// or https:// URL")
    return Check("builder_credentials", "ok", REMOTE_FIELDS, f"remote signer {url}")


def can_builder_auth(credentials: Check) -> Check:
    """Polymarket's ``can_builder_auth``: a usable local key or remote signer is configured."""
    if credentials.ok:
        return Check("can_builder_auth", "ok", credentials.fields, "true")
    return Check("can_builder_auth", "invalid", credentials.fields, f"false: {credentials.fields[0]} "
                 f"is {credentials.status}")


def render_text(report: Report) -> str:
    lines = [f"builder-health: mode {report.mode}, venue {report.venue}"]
    for c in report.checks:
        lines.append(f"{c.status:<8} {c.name:<20} {', '.join(c.fields) or '-'}: {c.detail}")
    lines.extend(f"warning: {w}" for w in report.warnings)
    if report.ok:
        lines.append(f"all {len(report.checks)} checks ok")
    else:
        lines.append(f"{sum(not c.ok for c in report.checks)} of {len(report.checks)} checks failed: "
                     f"{', '.join(dict.fromkeys(report.failed_fields()))}")
    return "\n".join(lines)


def render_json(report: Report) -> dict[str, Any]:
    return {"ok": report.ok, "mode": report.mode, "venue": report.venue,
            "checks": [c.as_json() for c in report.checks], "warnings": list(report.warnings),
            "failed_fields": list(dict.fromkeys(report.failed_fields()))}
