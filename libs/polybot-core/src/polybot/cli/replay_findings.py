"""What ``polybot replay`` says when a replay goes wrong: why nothing was replayed, and which frame broke it.

Both look at the recording again only on the failure path, with the same parser the replay runs, so that
the message can name the markets the file does hold, or the line that could not be replayed.
"""

from __future__ import annotations

import re
from pathlib import Path

from polybot.app.replay.run import ReplayRun, iter_frames
from polybot.domain.book_verify import MarketMeta
from polybot.venue.market_parse import parse_market_frame

CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
MARKETS_SHOWN = 3


def markets_in(path: Path) -> list[str]:
    """The markets the recording has valid events of, in order of first appearance."""
    seen: dict[str, None] = {}
    try:
        for _, frame in iter_frames(path):
            for event in parse_market_frame(frame).events:
                market = getattr(event, "market", None)
                if isinstance(market, str) and market:
                    seen.setdefault(market)
    except (OSError, ValueError):  # the replay read it a moment ago; whatever it holds now, say what we have
        pass
    return list(seen)


def nothing_replayed(path: Path, market_id: str, run: ReplayRun) -> str:
    """The line for a replay that found no events of ``market_id``."""
    counts = run.counts
    one = counts.frames == 1
    frames = f"{counts.frames} frame{'' if one else 's'}"
    head = f"no events of market {market_id} in {path}"
    if counts.frames == 0:
        return f"{head}: the file has no frames (it is empty or blank): give a recording"
    others = [m for m in markets_in(path) if m != market_id]
    if others:
        shown = ", ".join(others[:MARKETS_SHOWN])
        more = f" and {len(others) - MARKETS_SHOWN} more" if len(others) > MARKETS_SHOWN else ""
        return f"{head}: its {frames} {'is' if one else 'are'} of other markets ({shown}{more}): give one of those"
    if counts.invalid:
        return (f"{head}: its {frames} {'holds' if one else 'hold'} no valid message of any market "
                f"({counts.invalid} invalid, listed above): is it a market-channel recording?")
    shape = "" if CONDITION_ID.match(market_id) else " (a condition id is 0x and 64 hex digits)"
    return f"{head} ({frames}): check the market id{shape} and the file"


def failing_line(path: Path, market_id: str, meta: MarketMeta) -> int | None:
    """The line whose frame makes the replay raise (a fresh, deterministic re-run); None if none does."""
    run = ReplayRun(market_id, meta)
    try:
        for line_no, frame in iter_frames(path):
            try:
                run.feed_line(frame, line_no)
            except Exception:
                return line_no
    except (OSError, ValueError):
        return None
    return None
