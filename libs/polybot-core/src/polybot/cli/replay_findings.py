"""What ``polybot replay`` says when a replay goes wrong: why nothing was replayed, and which frame broke it.

The first names the markets the file does hold (the run noted them as it went: the file is not read
again); the second replays the file again, only on that failure path, to find the line that broke it.
"""

from __future__ import annotations

import re
from pathlib import Path

from polybot.app.replay.run import ReplayRun, iter_frames
from polybot.domain.book_verify import MarketMeta

CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
MARKETS_SHOWN = 3


def nothing_replayed(path: Path, market_id: str, run: ReplayRun) -> str:
    """The line for a replay that found no events of ``market_id``."""
    counts = run.counts
    one = counts.frames == 1
    frames = f"{counts.frames} frame{'' if one else 's'}"
    head = f"no events of market {market_id} in {path}"
    if counts.frames == 0:
        return f"{head}: the file has no frames (it is empty or blank): give a recording"
    if run.stopped_early:
        return (f"{head}: stopped after its first {frames}: not one holds a valid message of any market "
                f"(listed above): is it a market-channel recording?")
    others = [m for m in run.markets_seen if m != market_id]
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
