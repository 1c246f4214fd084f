"""The quoter's settings: ``[quoter]`` holds the SpreadQuoter's parameters for every market, and
``[quoter.markets."<condition_id>"]`` overrides any of them for one market::

    [quoter]
    half_spread_ticks = 2
    order_size = "10"            # money and sizes are decimals: a string or a number
    condition_ids = []           # quoted too, although not selected for making

    [quoter.markets."0x5f65…"]
    order_size = "25"
    max_position = "250"

Only markets that gamma-sync marks ``selected_for_making`` (plus ``condition_ids``) are quoted; with
``quote_selected = false`` only ``condition_ids`` are. Every value
is checked when the settings load, per market after its overrides are applied: a bad one stops the service
before it starts, with one line naming the setting.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from polybot.domain.quote_inputs import QuoteParams
from polybot.domain.quoting import check_params

_D = QuoteParams()  # the domain's defaults are the config's
_CONDITION_ID = re.compile(r"0x[0-9a-fA-F]{64}")

Ticks = Annotated[int, Field(ge=1)]  # a distance in ticks that must be at least one
Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Ms = Annotated[int, Field(ge=0)]
PositiveMs = Annotated[int, Field(ge=1)]
Shares = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Usdc = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuoteParamsOverride(_Section):
    """One market's overrides of the ``[quoter]`` parameters (unset: the default)."""

    half_spread_ticks: Ticks | None = None
    order_size: Shares | None = None
    fair_price: Literal["mid", "micro"] | None = None
    min_requote_interval_ms: Ms | None = None
    move_fair_ticks: Ticks | None = None
    move_touch_ticks: Ticks | None = None
    keep_ticks: Count | None = None
    keep_size_frac: Fraction | None = None
    max_position: Shares | None = None
    max_notional_usdc: Usdc | None = None
    skew_ticks_at_cap: Count | None = None
    bucket_capacity: PositiveInt | None = None
    bucket_refill: PositiveInt | None = None
    bucket_period_ms: PositiveMs | None = None
    stale_after_ms: PositiveMs | None = None
    plan_ttl_ms: PositiveMs | None = None
    refresh_before_ttl_ms: Ms | None = None
    min_time_to_end_ms: Ms | None = None
    rewards: bool | None = None


_PARAM_FIELDS = tuple(QuoteParamsOverride.model_fields)


class QuoterSettings(_Section):
    # --- the SpreadQuoter's parameters (``QuoteParams``), for every market unless overridden ---------------
    half_spread_ticks: Ticks = _D.half_spread_ticks
    order_size: Shares = _D.order_size
    fair_price: Literal["mid", "micro"] = _D.fair_price
    min_requote_interval_ms: Ms = _D.min_requote_interval_ms
    move_fair_ticks: Ticks = _D.move_fair_ticks
    move_touch_ticks: Ticks = _D.move_touch_ticks
    keep_ticks: Count = _D.keep_ticks
    keep_size_frac: Fraction = _D.keep_size_frac
    max_position: Shares = _D.max_position
    max_notional_usdc: Usdc = _D.max_notional_usdc
    skew_ticks_at_cap: Count = _D.skew_ticks_at_cap
    bucket_capacity: PositiveInt = _D.bucket_capacity
    bucket_refill: PositiveInt = _D.bucket_refill
    bucket_period_ms: PositiveMs = _D.bucket_period_ms
    stale_after_ms: PositiveMs = _D.stale_after_ms
    plan_ttl_ms: PositiveMs = _D.plan_ttl_ms
    refresh_before_ttl_ms: Ms = _D.refresh_before_ttl_ms
    min_time_to_end_ms: Ms = _D.min_time_to_end_ms
    rewards: bool = _D.rewards
    markets: dict[str, QuoteParamsOverride] = {}  # per condition id
    # --- which markets ----------------------------------------------------------------------------------------
    condition_ids: tuple[str, ...] = ()  # quoted as well as the markets selected for making
    quote_selected: bool = True  # off: only ``condition_ids`` are quoted, whatever gamma-sync selects
    # --- the service ------------------------------------------------------------------------------------------
    timer_interval_ms: int = Field(250, ge=10, le=5_000)  # staleness and TTL refresh checks between book changes
    markets_load_timeout_s: float = Field(30.0, gt=0)  # reading PB_MARKETS and PB_POSITIONS at start
    publish_timeout_s: float = Field(2.0, gt=0)

    @field_validator("condition_ids")
    @classmethod
    def _ids(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for cid in ids:
            _check_condition_id(cid)
        return ids

    @field_validator("markets")
    @classmethod
    def _market_keys(cls, markets: dict[str, QuoteParamsOverride]) -> dict[str, QuoteParamsOverride]:
        for cid in markets:
            _check_condition_id(cid)
        return markets

    @model_validator(mode="after")
    def _every_market_consistent(self) -> QuoterSettings:
        _check_params(self.default_params(), "[quoter]")
        for cid in self.markets:
            _check_params(self.params_for(cid), f"[quoter.markets.{cid}]")
        return self

    def default_params(self) -> QuoteParams:
        return QuoteParams(**{name: getattr(self, name) for name in _PARAM_FIELDS})

    def params_for(self, condition_id: str) -> QuoteParams:
        """One market's parameters: the defaults with its overrides applied."""
        override = self.markets.get(condition_id)
        values: dict[str, Any] = {name: getattr(self, name) for name in _PARAM_FIELDS}
        if override is not None:
            values.update(override.model_dump(exclude_none=True))
        return QuoteParams(**values)

    def per_market_params(self) -> dict[str, QuoteParams]:
        return {cid: self.params_for(cid) for cid in self.markets}


def _check_condition_id(cid: str) -> None:
    if not _CONDITION_ID.fullmatch(cid):
        raise ValueError(f"not a condition id (0x and 64 hex digits): {cid[:80]!r}")


def _check_params(p: QuoteParams, where: str) -> None:
    """The SpreadQuoter's own rules across parameters, on each market's merged values: a start that would
    fail in the quoter fails here, naming the setting."""
    check_params(p, where)
