"""The status bar's line: what it says, in order of importance, and how it fits a terminal.

The line is made of parts, each with a rank: 0 is never dropped (the mode, ARMED / HALTED, NOT QUOTING),
1 is the reason for a halt or for not quoting (shortened with an ellipsis as a last resort, never
dropped), then the risk figures, the feed's state, the order path's health, latency, the rate-limit
spend, and last the frame count and the venue's host. When the line does not fit, the highest ranks
go first; the UTC clock always sits at the right edge. ``LEGEND`` explains every abbreviation (the
bar's tooltip and the help screen show it); the tooltip adds every latency figure in full
(``detail_text``), the bar having room for one.

Plain Python and Rich, no Textual."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rich.text import Text

from ..state import ExecutionState, FeedState, RiskState, VenueState

LAG_SHOWN_MS = 50.0  # the loop lag is shown from here (amber) ...
LAG_RED_MS = 250.0  # ... and red from here: a quarter of a second late, quotes go stale

#: (what the bar shows, what it means), in the bar's order
LEGEND: tuple[tuple[str, str], ...] = (
    ("PAPER / DEMO / LIVE", "the mode: simulated fills, the embedded stand-in exchange, or real orders"),
    ("ARMED", "quoting is allowed (ctrl+k halts)"),
    ("HALTED <why>", "the kill switch is latched: every order was cancelled and nothing is placed (ctrl+r re-arms)"),
    ("NOT QUOTING: <why>", "armed, but nothing is quoted: the venue is unreachable, or what we hold is not known yet "
                           "(connecting, reconciling); the banner under the bar says the same"),
    ("day +1.20/-100", "today's P&L (pUSD) against the daily loss limit; the kill switch engages at the limit"),
    ("limits x0.96", "the risk limits tightened to 96% after losses or errors"),
    ("cooldown 12s", "placing waits this long after venue errors"),
    ("near cap: total position 85%", "a cap used beyond the soft cap (POLYMM_SOFT_CAP_PCT) of its limit"),
    ("pUSD 1,234.50", "the wallet's balance at the venue (live); 'pUSD unknown' stops quoting until it is read"),
    ("feed RUNNING", "market data: RUNNING, DEGRADED (a socket down, books polled), ERROR"),
    ("hb 2s", "age of the venue's last heartbeat answer; the venue cancels our orders if heartbeats stop"),
    ("3 unsettled", "fills the venue has not confirmed yet"),
    ("t2t 12ms", "tick-to-trade, 99th percentile over the last minute: a market-data frame received → the order "
                 "it caused sent to the venue (the tooltip has the p50, and the feed's own figures)"),
    ("p99 0.02ms", "before our first order (no tick-to-trade yet): 99th percentile time from a market-data frame "
                   "received to the book updated (the tooltip keeps it as 'feed apply')"),
    ("2/3 shards", "market-data connections running of those opened"),
    ("4 skipped", "malformed market-data frames skipped"),
    ("lag 120ms", f"the event loop runs this late (worst of the last 5 s): the feed, quoting and this screen all wait; "
                  f"shown from {LAG_SHOWN_MS:.0f} ms (amber), red from {LAG_RED_MS:.0f} ms"),
    ("rl 8/40 7/80", "rate limit: orders sent in the last second of the 40 allowed, cancels of the 80 allowed"),
    ("queue 3 held 12/min", "our rate limiter: requests waiting for it now, and held back by it in the last minute "
                            "(shown when not zero; amber while requests wait)"),
    ("tol ×3.4", "the rate limits are short of room for every requote: a resting order within 3.4 times its "
                 "tolerance keeps its place, so fewer, larger moves are requoted, each at once"),
    ("429×2", "rate-limit refusals the venue answered since the start, in red: the limiter should prevent every one"),
    ("48,213 frames", "market-data frames received since the start"),
    ("host exec=live", "the venue's address and where orders go (live: the venue; paper: simulated)"),
    ("11:06:40 UTC", "the clock (UTC)"),
    ("q54 (ladder)", "shares ahead of our order in the queue at that price (we joined at the back)"),
)


def legend_text() -> str:
    """``LEGEND`` as lines, for a tooltip."""
    width = max(len(k) for k, _ in LEGEND)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in LEGEND)


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of the bar: its text, its rank (0 stays, higher goes first) and whether it may be
    shortened with an ellipsis (the reasons) rather than dropped."""

    text: Text
    rank: int
    shortens: bool = False


KEEP, REASON, RISK, FEED, ORDER_PATH, LATENCY, RATE, FRAMES, ORIGIN = range(9)


def status_parts(venue: VenueState | None, feed: FeedState | None, risk: RiskState | None,
                 execution: ExecutionState | None) -> list[Part]:
    """Everything the bar can say, in order, each with its rank."""
    halted = bool(risk and risk.halted)
    not_ready = execution is not None and not execution.ready
    parts: list[Part] = []
    head = Text()
    if venue is not None:
        head.append(f" {venue.mode} ", style="bold reverse red" if venue.mode == "LIVE" else "bold reverse")
        head.append(" ")
    head.append(" HALTED " if halted else " ARMED ", style="bold reverse red" if halted else "bold reverse green")
    if not_ready:
        head.append(" · ")
        head.append(" NOT QUOTING ", style="bold reverse yellow")
    parts.append(Part(head, KEEP))
    if halted and risk is not None:
        parts.append(Part(Text(risk.reason or "kill switch", style="bold red"), REASON, shortens=True))
    if not_ready and execution is not None:
        why = execution.reason or "what we hold is not known yet"
        parts.append(Part(Text(why, style="bold yellow"), REASON, shortens=True))
    if risk is not None:
        parts.extend(_risk_parts(risk, live=execution is not None and execution.name == "live"))
    if feed is not None:
        parts.extend(_feed_parts(feed, execution))
    if execution is not None:
        parts.extend(_order_path_parts(execution))
    if feed is not None:
        parts.append(Part(Text(f"{feed.frames:,} frames", style="dim"), FRAMES))
    if venue is not None:
        parts.append(Part(Text(f"{venue.host} exec={venue.execution}", style="dim"), ORIGIN))
    return parts


def _risk_parts(risk: RiskState, live: bool) -> list[Part]:
    """Today's P&L against the loss limit, tightened limits, the error cooldown and (live) the balance."""
    parts = []
    if risk.daily_loss_limit:
        parts.append(Part(Text(f"day {risk.daily_pnl:+,.2f}/-{risk.daily_loss_limit:,.0f}",
                               style="red" if risk.daily_pnl < 0 else ""), RISK))
    if risk.tighten < 0.995:  # shown once the limits really moved
        parts.append(Part(Text(f"limits x{risk.tighten:.2f}", style="yellow"), RISK))
    if risk.cooldown_s > 0:
        parts.append(Part(Text(f"cooldown {risk.cooldown_s:.0f}s", style="yellow"), RISK))
    if risk.near_caps:  # the soft cap: amber before the hard cap
        parts.append(Part(Text("near cap: " + ", ".join(risk.near_caps), style="bold yellow"), RISK, shortens=True))
    if live:  # the venue's, or unknown
        if risk.balance is None:
            parts.append(Part(Text("pUSD unknown", style="bold red"), RISK))  # never an estimate
        else:
            parts.append(Part(Text(f"pUSD {risk.balance:,.2f}"), RISK))
    return parts


def ms_text(ms: float) -> str:
    """A latency for a person, with the decimals that matter at its size: ``0.02ms``, ``4.5ms``,
    ``120ms``, ``1,250ms``; ``—`` for a figure that is not a number."""
    if not math.isfinite(ms):
        return "—"
    if ms < 1:
        return f"{ms:.2f}ms"
    if ms < 10:
        return f"{ms:.1f}ms"
    return f"{ms:,.0f}ms"


def _feed_parts(feed: FeedState, execution: ExecutionState | None) -> list[Part]:
    """The feed's state; the latency (tick-to-trade p99 once known, else the feed's apply p99), shards
    running and frames skipped; the loop lag when it is late enough to matter."""
    style = {"RUNNING": "green", "DEGRADED": "yellow", "ERROR": "bold red"}.get(feed.status, "dim")
    parts = [Part(Text.assemble("feed ", (feed.status, style)), FEED)]
    detail = Text()
    t2t = execution.tick_to_trade_p99_ms if execution is not None else None
    if t2t is not None:
        detail.append(f"t2t {ms_text(t2t)}")
    elif feed.applied_p99_ms is not None:
        detail.append(f"p99 {ms_text(feed.applied_p99_ms)}")
    if len(feed.shards) > 1:
        detail.append(f" {sum(s.status == 'RUNNING' for s in feed.shards)}/{len(feed.shards)} shards")
    if feed.errors:
        detail.append(f" {feed.errors} skipped", style="yellow")
    if detail.plain:
        parts.append(Part(detail, LATENCY))
    return parts


def _lag_part(execution: ExecutionState) -> Part | None:
    """The event loop's lag from ``LAG_SHOWN_MS`` (amber), red from ``LAG_RED_MS`` (then it stays on a
    narrow bar as long as the risk figures do)."""
    lag = execution.loop_lag_ms
    if lag is None or not lag > LAG_SHOWN_MS:
        return None
    red = lag > LAG_RED_MS
    return Part(Text(f"lag {ms_text(lag)}", style="bold red" if red else "yellow"), RISK if red else ORDER_PATH)


def _order_path_parts(execution: ExecutionState) -> list[Part]:
    """The heartbeat's age, unsettled fills and (live) the rate-limit budget spent."""
    parts = []
    if execution.heartbeat_age_s is not None:
        age = execution.heartbeat_age_s
        parts.append(Part(Text(f"hb {age:.0f}s", style="green" if age < 7 else "bold red"),
                          ORDER_PATH if age < 7 else RISK))
    if execution.pending_fills:
        parts.append(Part(Text(f"{execution.pending_fills} unsettled", style="yellow"), ORDER_PATH))
    lag = _lag_part(execution)
    if lag is not None:
        parts.append(lag)
    rate = Text()
    busy = execution.queued > 0
    if execution.name == "live":  # per-signer buckets (docs/protocol.md §8, rate limits)
        orders_cap, cancels_cap = execution.rate_orders_per_s, execution.rate_cancels_per_s
        busy = busy or execution.orders_1s > 0.75 * orders_cap or execution.cancels_1s > 0.75 * cancels_cap
        rate.append(f"rl {execution.orders_1s}/{orders_cap:,.0f} {execution.cancels_1s}/{cancels_cap:,.0f}")
    if execution.queued or execution.throttled_1m:  # our limiter at work: next to what it paces
        rate.append(" " if rate.plain else "")
        rate.append(f"queue {execution.queued:,} held {execution.throttled_1m:,}/min")
    if execution.requote_pressure > 1.0:  # requotes thinned to what the limits admit
        rate.append(" " if rate.plain else "")
        rate.append(f"tol ×{execution.requote_pressure:.1f}")
    if rate.plain:
        rate.stylize("bold yellow" if busy else "dim")
        parts.append(Part(rate, RISK if busy else RATE))
    if execution.venue_429s:  # the limiter should make this impossible: never hidden among the dim figures
        parts.append(Part(Text(f"429×{execution.venue_429s:,}", style="bold red"), RISK))
    return parts


def detail_text(feed: FeedState | None, execution: ExecutionState | None) -> str:
    """Every latency and rate-limit figure in full, for the bar's tooltip (the bar has room for one):
    the feed's apply p50 / p99, tick-to-trade p50 / p99, the loop lag, the limiter and the venue's 429s."""
    def pair(p50: float | None, p99: float | None) -> str:
        if p50 is None and p99 is None:
            return "not measured yet"
        return f"p50 {ms_text(p50) if p50 is not None else '—'}, p99 {ms_text(p99) if p99 is not None else '—'}"

    lines = ["now:"]
    if feed is not None:
        lines.append(f"  feed apply (frame received → book updated): {pair(feed.applied_p50_ms, feed.applied_p99_ms)}")
    if execution is not None:
        lines.append(f"  tick-to-trade (frame received → order sent): "
                     f"{pair(execution.tick_to_trade_p50_ms, execution.tick_to_trade_p99_ms)}")
        lag = execution.loop_lag_ms
        lines.append(f"  loop lag (worst of the last 5 s): {ms_text(lag) if lag is not None else 'not measured yet'}")
        lines.append(f"  rate limiter: {execution.queued:,} queued, {execution.throttled_1m:,} held back in the last "
                     f"minute; venue 429s: {execution.venue_429s:,}")
        if execution.requote_pressure > 1.0:
            lines.append(f"  requote tolerance ×{execution.requote_pressure:.1f} (the rate limits are short of room)")
    return "\n".join(lines) if len(lines) > 1 else ""


SEP = "  "
REASON_ROOM = 32  # a reason is shortened to this before the risk figures give way


def clock_text(now: float) -> Text:
    return Text(time.strftime("%H:%M:%S UTC", time.gmtime(now)))


def fit(parts: list[Part], clock: Text, width: int) -> Text:
    """The bar in ``width`` columns (0: unknown, everything), the clock at the right edge. What does not
    fit goes in this order: the frames and venue, the rate limit, latency, the order path, the feed;
    then the reasons are shortened (to ``REASON_ROOM`` each: the banner under the bar says them in
    full); then the risk figures go; then the reasons are shortened further. The badges never go."""
    kept = list(parts)

    def over() -> int:
        return sum(p.text.cell_len for p in kept) + len(SEP) * len(kept) + clock.cell_len - width

    def shorten(floor: int) -> None:
        for i in sorted(range(len(kept)), key=lambda i: -kept[i].text.cell_len):
            p, excess = kept[i], over()
            if excess <= 0:
                return
            if p.shortens and p.text.cell_len > floor:
                t = p.text.copy()
                t.truncate(max(p.text.cell_len - excess, floor), overflow="ellipsis")
                kept[i] = Part(t, p.rank, True)

    if width:
        steps: list[tuple[str, int]] = [("drop", rank) for rank in range(ORIGIN, FEED - 1, -1)]
        steps += [("shorten", REASON_ROOM), ("drop", RISK), ("shorten", 8)]
        for step, n in steps:
            if over() <= 0:
                break
            if step == "shorten":
                shorten(n)
                continue
            while over() > 0 and any(p.rank == n for p in kept):
                kept.remove(next(p for p in reversed(kept) if p.rank == n))
    line = Text(no_wrap=True, overflow="ellipsis")
    for i, p in enumerate(kept):
        if i:
            line.append(SEP)
        line.append_text(p.text)
    line.append(" " * max(width - line.cell_len - clock.cell_len, len(SEP)) if width else SEP)
    line.append_text(clock)
    return line
