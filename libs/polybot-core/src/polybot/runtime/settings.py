"""Settings: ``config/service.toml`` overridden by ``POLYBOT_*`` environment variables.

Nested sections use ``__`` in the environment: ``POLYBOT_INGESTOR__SNAPSHOT_INTERVAL_S=10``. Secrets are
``SecretStr`` and never appear in logs or ``/status``. Build settings once in ``main()`` and pass them down.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from polybot.runtime.quoter_settings import QuoterSettings as QuoterSettings  # [quoter] lives in its own module

DEFAULT_CONFIG = Path("config/service.toml")
# The file ``load_settings(config)`` was asked for; set only while that call builds the settings, so that
# loading one file never changes what a later, unrelated load reads.
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("polybot_config_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpsPorts(_Section):
    host: str = "127.0.0.1"
    ingestor: int = 8101
    quoter: int = 8102
    executor: int = 8103
    gamma_sync: int = 8104


class IngestorSettings(_Section):
    clob_rest_url: str = "http://127.0.0.1:8080"
    clob_ws_url: str = "ws://127.0.0.1:8080/ws/market"
    assets: tuple[str, ...] = ()  # explicit assets, in addition to the markets selected for making
    assets_per_connection: int = Field(default=500, ge=1, le=500)
    ping_interval_s: float = 10.0
    silence_timeout_s: float = 30.0
    reconnect_base_s: float = 0.5
    reconnect_max_s: float = 30.0
    resync_buffer_max: int = Field(default=10_000, ge=1)
    resync_min_interval_s: float = 1.0
    snapshot_interval_s: float = 30.0
    prune_interval_s: float = 30.0
    retention_s: float = 300.0
    publish_batch_max: int = 512
    persist_batch_max: int = 5_000
    # --- additive (ingestor service) ---
    custom_feature_enabled: bool = True
    unsubscribe_supported: bool = True  # off: a removal reconnects the connection with its new list
    rest_timeout_s: float = 5.0
    rest_max_retries: int = Field(default=3, ge=0)
    resync_concurrency: int = Field(default=8, ge=1)
    hash_ltp_window_ms: int = Field(default=2_000, ge=0)  # how long an unexplained F10 hash may wait for an ltp
    verify_hashes: bool = True
    # A busy publisher sends one delta per asset carrying every venue change since its last one (seq stays +1
    # per message); off: one message per venue change, whatever the load.
    coalesce_deltas: bool = True
    # The market set: the markets selected for making on PB_MARKETS (gamma-sync's messages; the ingestor reads
    # only its own tables), then pb.gamma.market.* for markets added or removed while running.
    follow_gamma: bool = True
    markets_load_timeout_s: float = Field(default=30.0, gt=0)  # reading PB_MARKETS at start
    persist_interval_s: float = 0.2
    publish_timeout_s: float = 5.0
    outbox_max_pending: int = Field(default=200_000, ge=1_000)
    snapshot_retention_s: float = 86_400.0  # book_snapshots older than this are pruned (the newest per asset stays)
    tick_interval_s: float = 0.25  # expiry of pending hash checks, gauges
    initial_snapshot_timeout_s: float = 10.0  # no book this long after subscribing: fetch it from REST


class RiskSettings(_Section):
    """``polybot.domain.risk.RiskLimits`` as config (money as decimal strings or numbers)."""

    max_position: Decimal = Decimal(500)
    max_notional_usdc: Decimal = Decimal(5_000)
    max_open_orders: int = Field(20, ge=1)
    max_daily_loss_usdc: Decimal = Decimal(200)
    max_error_rate: Decimal = Decimal("0.5")
    error_window_ms: int = Field(60_000, ge=1)
    error_min_actions: int = Field(20, ge=1)
    check_interval_s: float = Field(1.0, gt=0, le=60)  # how often the day's PnL is marked and checked


class ExecutorSettings(_Section):
    """Where orders go is ``Settings.mode``: paper (nowhere), sim (polysim through the SDK), live."""

    clob_url: str = "http://127.0.0.1:8080"  # live mode: https://clob.polymarket.com
    ws_user_url: str = "ws://127.0.0.1:8080/ws/user"
    gamma_url: str = "http://127.0.0.1:8080/gamma"
    signature_type: Literal["eoa", "proxy", "safe", "deposit_wallet"] = "eoa"
    funder: str | None = None  # the proxy / Safe / deposit wallet address holding the funds
    heartbeat_interval_s: float = Field(4.0, gt=0, le=5.0)  # the venue cancels everything after 10 s without one
    reconcile_interval_s: float = Field(15.0, gt=0)
    fills_poll_interval_s: float = Field(1.0, gt=0)  # the fallback: the user channel delivers fills first
    user_channel: bool = True  # sim and live: our /ws/user client (fills as they match, reconcile on reconnect)
    request_timeout_s: float = Field(5.0, gt=0)
    allow_approvals: bool = False  # never let the SDK send an on-chain approval implicitly
    cancel_all_on_stop: bool = True
    # A market's orders are cancelled when its last target ran out this long ago with no plan after it (the
    # quoter re-publishes before the TTL: silence means it is gone). None: they rest until a plan says otherwise.
    target_lapse_grace_ms: int | None = Field(1_000, ge=0)
    kill_token: SecretStr | None = None  # protects POST /kill on the executor's ops API
    # Builder credentials (``polybot builder-health``): a local Builder API key (key, secret, passphrase), or a
    # remote signer that signs the Builder headers for us (URL, token). Env: POLYBOT_EXECUTOR__BUILDER_API_KEY …
    builder_api_key: SecretStr | None = None
    builder_secret: SecretStr | None = None
    builder_passphrase: SecretStr | None = None
    builder_signer_url: str | None = None
    builder_signer_token: SecretStr | None = None
    risk: RiskSettings = RiskSettings()


class GammaSelectionSettings(_Section):
    """Which markets are ``selected_for_making`` (see ``polybot.domain.market_selection``).

    Listed condition ids and slugs are always selected while makeable; with ``auto`` on, every makeable
    market passing all the configured filters is selected too. Off by default: nothing is made unless asked.
    """

    condition_ids: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()
    auto: bool = False
    tag_ids: tuple[str, ...] = ()
    min_liquidity: Decimal | None = None
    min_volume: Decimal | None = None
    require_accepting_orders: bool = True
    min_time_to_end_s: float = Field(default=0.0, ge=0)
    require_rewards: bool = False


class GammaSettings(_Section):
    gamma_url: str = "http://127.0.0.1:8080/gamma"
    clob_url: str = "http://127.0.0.1:8080"
    full_refresh_interval_s: float = 600.0
    incremental_interval_s: float = 60.0  # 0 disables the incremental refresh
    events_page_size: int = Field(default=100, ge=1, le=100)  # keyset pages hold at most 100
    incremental_max_pages: int = Field(default=5, ge=1)
    max_listing_pages: int = Field(default=10_000, ge=1)  # a keyset walk longer than this is refused
    # Gamma takes at most 100 condition ids a request, and answers 414 above ~8 KB of URL (100 ids ≈ 7 KB)
    condition_ids_per_request: int = Field(default=100, ge=1, le=100)
    # Protocol versions listed: without ``version`` Gamma lists only v1 markets, and v2 ones must be stored
    # (not selected) too, so that the selection can say why they are not made.
    versions: tuple[Literal["v1", "v2"], ...] = ("v1", "v2")
    request_timeout_s: float = 10.0
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = 0.2
    backoff_max_s: float = 5.0
    events_limit_per_10s: int = Field(default=500, ge=2)
    markets_limit_per_10s: int = Field(default=300, ge=2)
    clob_limit_per_10s: int = Field(default=9_000, ge=2)
    clob_concurrency: int = Field(default=8, ge=1)  # CLOB look-ups in flight (one connection each)
    enrich_from_clob: bool = True
    selection: GammaSelectionSettings = GammaSelectionSettings()


class SimSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    seed: int = 1
    markets: int = 20


class Settings(BaseSettings):
    """All of Polybot's settings. Unset URLs mean: start embedded infrastructure."""

    model_config = SettingsConfigDict(
        env_prefix="POLYBOT_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    env: Literal["dev", "test", "prod"] = "dev"
    mode: Literal["paper", "sim", "live"] = "paper"  # where orders go: nowhere, polysim, Polymarket
    confirm_live: bool = False  # POLYBOT_CONFIRM_LIVE=1 (or --confirm-live): the second opt-in of live mode
    log_level: str = "INFO"
    nats_url: str | None = None
    database_url: str | None = None
    state_dir: Path = Path(".polybot")
    private_key: SecretStr | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    chain_id: int = 137
    ops: OpsPorts = OpsPorts()
    ingestor: IngestorSettings = IngestorSettings()
    quoter: QuoterSettings = QuoterSettings()
    executor: ExecutorSettings = ExecutorSettings()
    gamma: GammaSettings = GammaSettings()
    sim: SimSettings = SimSettings()

    @model_validator(mode="after")
    def _live_needs_credentials(self) -> Settings:
        if self.mode == "live" and self.private_key is None:
            raise ValueError("mode = 'live' needs POLYBOT_PRIVATE_KEY (env or secret file)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CONFIG_FILE.get() or Path(os.environ.get("POLYBOT_CONFIG", str(DEFAULT_CONFIG)))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, file_secret_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config`` (or ``$POLYBOT_CONFIG``, or ``config/service.toml``) and the environment."""
    path = None
    named_by = "config file"
    if config is None and os.environ.get("POLYBOT_CONFIG"):
        config = os.environ["POLYBOT_CONFIG"]  # named explicitly: it must exist, never silently ignored
        named_by = "config file named by POLYBOT_CONFIG"
    if config is not None:
        path = Path(config)
        if path.is_dir():
            raise IsADirectoryError(21, f"{named_by} is a directory, not a config file", str(path))
        if not path.is_file():
            raise FileNotFoundError(2, f"{named_by} not found", str(path))
    token = _CONFIG_FILE.set(path)
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE.reset(token)


def decimal_setting(value: str | float | int) -> Decimal:
    """Parse a money setting without passing through a binary float."""
    return Decimal(str(value))


def settings_problem(exc: BaseException) -> str | None:
    """One line saying why settings could not be loaded, or None when ``exc`` is not a settings problem.

    (The CLI says more, naming the variable or file a bad value came from: ``polybot.cli.config``.)
    """
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        if not errors:
            return "invalid settings"
        first = errors[0]
        key = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"invalid setting {key}: {msg}{more}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    if isinstance(exc, tomllib.TOMLDecodeError | UnicodeDecodeError | SettingsError):
        return f"the config cannot be read: {' '.join(str(exc).split())}"
    return None
