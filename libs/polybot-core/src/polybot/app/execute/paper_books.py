"""The published books for the executor: paper matching (``BookFeed`` → ``PaperGateway.on_book`` → fills) and,
in every mode, the marks of the daily-loss check.

Only live books are matched against (a stale, resyncing or unverified book could fill us at prices that
never existed); while an asset's book is not live its paper orders simply wait.
"""

from __future__ import annotations

from decimal import Decimal

from polybot.app.execute.paper_gateway import PaperGateway
from polybot.app.execute.pipeline import Executor
from polybot.app.execute.upkeep import apply_trades
from polybot.bus.book_feed import BookFeed
from polybot.domain.book_follow import FeedState
from polybot.domain.day_pnl import mark_price
from polybot.domain.paper import Levels


class FeedBooks:
    """``BookSource`` over a ``BookFeed``: the live (bids, asks) of an asset, best first, and its mark."""

    def __init__(self, feed: BookFeed) -> None:
        self.feed = feed

    def levels(self, asset_id: str) -> tuple[Levels, Levels] | None:
        view = self.feed.view(asset_id)
        if view is None or view.state != FeedState.LIVE:
            return None
        return view.book.bid_pairs(), view.book.ask_pairs()

    def mark(self, asset_id: str) -> Decimal | None:
        """The mark of the asset's live book (``mark_price``; None: not live, or empty)."""
        view = self.feed.view(asset_id)
        if view is None or view.state != FeedState.LIVE:
            return None
        return mark_price(view.book.best_bid_price(), view.book.best_ask_price())


async def paper_books_loop(ex: Executor, gateway: PaperGateway, feed: BookFeed) -> None:
    while True:
        changed = await feed.wait_changed(timeout_s=1.0)
        resting = {o.asset_id for o in gateway.venue.open_orders()}
        trades = [t for asset in changed & resting for t in gateway.on_book(asset)]
        if trades:
            await apply_trades(ex, trades)
