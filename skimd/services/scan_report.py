"""``skimd scan``'s use case: connect, run the news scan then the gap scan now, and report
both as JSON-safe data.

The scans are the daemon's own, so found candidates are saved and alerted exactly as the
scheduled ``scan`` job would. No order is reconciled or placed: scanning needs a session,
not the order desk.
"""

from __future__ import annotations

from typing import Any

from skimd.services.status import market_line
from skimd.services.trading.day import TradingDay


async def scan_report(day: TradingDay) -> dict[str, Any]:
    """The scan's result (see the module docstring)."""
    ctx = day.ctx
    health = await ctx.broker.connect()
    news = await day.scanner.scan_news()
    outcome = await day.scanner.scan_gaps()
    today = ctx.today()
    with ctx.store.read() as tx:
        stored = {c.ticker: c for c in tx.candidates(today)}
    candidates = []
    for gap in outcome.gaps:
        record = stored.get(gap.symbol)
        candidates.append(
            {
                "ticker": gap.symbol,
                "gap_pct": str(gap.gap_pct),
                "open": str(gap.open),
                "prev_close": str(gap.prev_close),
                "last": None if gap.last is None else str(gap.last),
                "volume": gap.volume,
                "new": gap.symbol in outcome.new,
                "state": None if record is None else record.status.value,
                "price_sensitive": record is not None and record.price_sensitive,
                "news_headline": None if record is None else record.news_headline,
            }
        )
    now = ctx.now().astimezone(ctx.calendar.zone)
    return {
        "date": today.isoformat(),
        "at": now.isoformat(),
        "broker": ctx.broker.kind,
        "session": health.message or ("ok" if health.ok else "not ready"),
        "market": market_line(ctx.calendar, now),
        "candidates": candidates,
        "news": [
            {
                "ticker": a.symbol,
                "headline": a.headline,
                "released_at": a.released_at.astimezone(ctx.calendar.zone).isoformat(),
                "price_sensitive": a.price_sensitive,
            }
            for a in news
        ],
    }
