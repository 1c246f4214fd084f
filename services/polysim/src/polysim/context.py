"""What every part of one running simulator shares: the engine, its settings, the clock, the hubs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polysim.catalog import Catalog, generate_catalog, load_catalog
from polysim.clock import SimClock
from polysim.config import SimConfig
from polysim.engine import Engine

if TYPE_CHECKING:
    from polysim.ws_market import MarketHub


@dataclass(eq=False)
class SimContext:
    """One simulator. ``exchange`` is the engine behind ``ExchangeApi``; ``clock()`` is sim time in ms.

    The trading side keeps its own state keyed by this object (``polysim.trading_state.state_of``).
    """

    config: SimConfig
    clock: SimClock
    engine: Engine
    catalog: Catalog
    hub: MarketHub | None = None  # set by build_app
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def exchange(self) -> Engine:
        """The engine, as the ``ExchangeApi`` the trading side calls."""
        return self.engine

    def now_ms(self) -> int:
        return self.clock.now_ms()


def build_context(config: SimConfig) -> SimContext:
    """Catalog, engine, driver (random process or replay) and clock for ``config``."""
    from polysim.flow import RandomFlow
    from polysim.replay import ReplayDriver, catalog_from_replay

    clock = SimClock(config.start_ms)
    start_ms = clock.start_ms
    if config.catalog is not None:
        catalog = load_catalog(config.catalog, config.min_order_size)
    elif config.replay is not None:
        catalog = catalog_from_replay(config.replay, config.min_order_size)
    else:
        catalog = generate_catalog(config.seed, config.n_markets, config.events_count(), config.v2_markets,
                                   config.fine_ticks)
    engine = Engine(catalog, config, start_ms)
    if config.replay is not None:
        engine.driver = ReplayDriver(engine, config.replay, start_ms + max(0, config.replay_delay_ms),
                                     config.replay_speed, config.replay_loop)
    else:
        active = catalog.markets[: config.active_count()]
        engine.driver = RandomFlow(engine, active, config, start_ms)
    return SimContext(config=config, clock=clock, engine=engine, catalog=catalog)
