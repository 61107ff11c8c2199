"""The earlier bots' remaining selection thresholds as discovery filters — a minimum spread
(``MARKET_MIN_SPREAD``), a 7-day volume (``MIN_WEEKLY_VOLUME``), a trend (``MIN_TREND``) and a score
(``MM_SCORE_MIN``) — from the settings to ``Filters``, on Gamma-shaped markets, the stand-in's Gamma and
the captured payloads; and the market-data reconnect backoff as settings reaching the socket."""

from __future__ import annotations

import asyncio
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_discovery import _good

from polymm.config import ConfigError, load_settings
from polymm.domain.market import Market
from polymm.domain.prices import Tick
from polymm.engine.feed import FeedConfig, MarketFeed
from polymm.venue import market_ws
from polymm.venue.discovery import (
    Candidate,
    Discovery,
    Filters,
    SkippedMarket,
    candidate_from_gamma,
    describe_filters,
    selection_filters,
)
from polymm.venue.market_ws import MarketSocket
from polymm.venue.reconnect import Backoff
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange
from polymm_standin.server.gamma import base_volume_1wk
from polymm_standin.sim.catalog import market_profiles

NOW = datetime(2026, 3, 1, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "rest"


def _gamma(i: int, bid: float | None = 0.39, ask: float | None = 0.41, **over: Any) -> dict[str, Any]:
    """One Gamma ``/markets`` entry (``test_discovery._good``): a live market with a book ``bid``/``ask``
    (None: no side), 1,000 traded in 24 h and 7,000 in the week."""
    doc = _good(2000 + i, question=f"Filter market {i}?", slug=f"filter-market-{i}", liquidityNum=5000,
                volume24hr=1000, volume1wk=7000, spread=0, bestBid=bid or 0, bestAsk=ask or 0, clobRewards=[],
                rewardsMinSize=0, rewardsMaxSpread=0)
    doc.update(over)
    return doc


def _kept(f: Filters, cands: list[Candidate]) -> list[str]:
    return [c.market.slug for c in cands if f.reject(c) is None]


def _reasons(f: Filters, cands: list[Candidate]) -> dict[str, str | None]:
    return {c.market.slug: f.reject(c) for c in cands}


# ------------------------------------------------------------------------------------------- the filters


def test_min_spread_skips_the_too_tight_markets_and_those_without_a_book() -> None:
    cands = [
        candidate_from_gamma(_gamma(1, 0.40, 0.41), NOW),  # one cent: too competitive
        candidate_from_gamma(_gamma(2, 0.39, 0.41), NOW),  # exactly the minimum: kept
        candidate_from_gamma(_gamma(3, 0.35, 0.45), NOW),
        candidate_from_gamma(_gamma(4, None, None), NOW),  # no book: unknown spread
    ]
    assert [c.spread for c in cands] == [0.01, 0.02, 0.1, None]
    f = Filters(min_spread=0.02)
    assert _reasons(f, cands) == {"filter-market-1": "spread", "filter-market-2": None, "filter-market-3": None,
                                  "filter-market-4": "spread"}
    # with a maximum too: a band
    assert _kept(Filters(min_spread=0.02, max_spread=0.05), cands) == ["filter-market-2"]
    assert _kept(Filters(), cands) == [f"filter-market-{i}" for i in (1, 2, 3, 4)]  # not set: every market


def test_min_spread_above_max_spread_is_refused() -> None:
    with pytest.raises(ValueError, match=r"min_spread: above max_spread \(0\.05 > 0\.03\)"):
        Filters(min_spread=0.05, max_spread=0.03)


def test_volume_1wk_is_read_strictly_and_is_none_when_gamma_has_none() -> None:
    assert candidate_from_gamma(_gamma(1, volume1wk="12345.5"), NOW).volume_1wk == 12345.5  # a decimal string
    assert candidate_from_gamma(_gamma(2, volume1wk=None), NOW).volume_1wk is None
    assert candidate_from_gamma(_gamma(3, volume1wk=""), NOW).volume_1wk is None
    doc = _gamma(4)
    del doc["volume1wk"]
    assert candidate_from_gamma(doc, NOW).volume_1wk is None
    for bad in ("lots", "NaN", True):
        with pytest.raises(SkippedMarket) as info:
            candidate_from_gamma(_gamma(5, volume1wk=bad), NOW)
        assert info.value.reason == "volume1wk"


def test_min_volume_1wk_keeps_the_busy_weeks_and_rejects_an_unknown_week() -> None:
    cands = [
        candidate_from_gamma(_gamma(1, volume1wk=49_999.99), NOW),
        candidate_from_gamma(_gamma(2, volume1wk=50_000), NOW),
        candidate_from_gamma(_gamma(3, volume1wk=None), NOW),
        candidate_from_gamma(_gamma(4, volume1wk=0), NOW),
    ]
    assert _reasons(Filters(min_volume_1wk=50_000), cands) == {
        "filter-market-1": "volume_1wk", "filter-market-2": None, "filter-market-3": "volume_1wk",
        "filter-market-4": "volume_1wk",
    }
    assert _kept(Filters(), cands) == [f"filter-market-{i}" for i in (1, 2, 3, 4)]


def test_the_weekly_floor_goes_to_gamma_as_the_total_volume_prefilter() -> None:
    """Gamma has no 7-day volume parameter: ``volume_num_min`` (total volume ≥ 7-day ≥ 24 h) pre-filters
    on the larger floor, and the exact test is client-side."""
    assert Filters(min_volume_24h=100, min_volume_1wk=5000).params(NOW)["volume_num_min"] == 5000
    assert Filters(min_volume_24h=8000, min_volume_1wk=5000).params(NOW)["volume_num_min"] == 8000
    assert Filters(min_volume_1wk=5000).params(NOW)["volume_num_min"] == 5000
    assert "volume_num_min" not in Filters(min_trend=1, min_spread=0.02, min_score=1).params(NOW)


def test_the_trend_is_the_last_day_against_the_weeks_daily_average() -> None:
    def trend(**over: Any) -> float | None:
        return candidate_from_gamma(_gamma(1, **over), NOW).trend

    assert trend(volume24hr=1000, volume1wk=7000) == 1.0  # steady
    assert trend(volume24hr=300, volume1wk=7000) == 0.3  # the last day traded 30% of an average day
    assert trend(volume24hr=2500, volume1wk=7000) == 2.5  # rising
    assert trend(volume24hr=0, volume1wk=7000) == 0.0
    assert trend(volume1wk=None) is None  # unknown week
    assert trend(volume1wk=0) is None  # nothing to compare with


def test_min_trend_keeps_the_markets_trading_at_least_that_share_of_their_usual_day() -> None:
    cands = [
        candidate_from_gamma(_gamma(1, volume24hr=299, volume1wk=7000), NOW),
        candidate_from_gamma(_gamma(2, volume24hr=300, volume1wk=7000), NOW),
        candidate_from_gamma(_gamma(3, volume24hr=5000, volume1wk=7000), NOW),
        candidate_from_gamma(_gamma(4, volume24hr=5000, volume1wk=None), NOW),
    ]
    assert _reasons(Filters(min_trend=0.3), cands) == {
        "filter-market-1": "trend", "filter-market-2": None, "filter-market-3": None, "filter-market-4": "trend",
    }


def test_min_score_keeps_the_markets_scoring_at_least_it() -> None:
    cands = [
        candidate_from_gamma(_gamma(1, 0.40, 0.41, volume24hr=100_000), NOW),  # locked at one tick: halved
        candidate_from_gamma(_gamma(2, 0.39, 0.41, volume24hr=100_000), NOW),  # two ticks: the best factor
        candidate_from_gamma(_gamma(3, 0.39, 0.41, volume24hr=10), NOW),  # quiet
        candidate_from_gamma(_gamma(4, None, None, volume24hr=100_000), NOW),  # no book: 0
    ]
    scores = [c.score for c in cands]
    assert scores[1] > scores[0] > scores[2] > scores[3] == 0.0
    f = Filters(min_score=scores[0])
    assert _reasons(f, cands) == {"filter-market-1": None, "filter-market-2": None, "filter-market-3": "score",
                                  "filter-market-4": "score"}
    assert _kept(Filters(min_score=scores[1] + 0.001), cands) == []


# ------------------------------------------------------------------------------------------- settings and text


def test_the_settings_map_to_the_selection_filters(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("POLYMM_SELECT_MIN_SPREAD", "0.02")
    clean.setenv("POLYMM_SELECT_MIN_VOLUME_1WK", "50000")
    clean.setenv("POLYMM_SELECT_MIN_TREND", "0.3")
    clean.setenv("POLYMM_SELECT_MIN_SCORE", "2.5")
    f = selection_filters(load_settings(_env_file=None))
    assert (f.min_spread, f.min_volume_1wk, f.min_trend, f.min_score) == (0.02, 50_000, 0.3, 2.5)
    for name in ("POLYMM_SELECT_MIN_SPREAD", "POLYMM_SELECT_MIN_VOLUME_1WK", "POLYMM_SELECT_MIN_TREND",
                 "POLYMM_SELECT_MIN_SCORE"):
        clean.delenv(name)
    # the defaults: no constraint (an empty spread, and 0 for the others, means any market)
    d = selection_filters(load_settings(_env_file=None))
    assert (d.min_spread, d.min_volume_1wk, d.min_trend, d.min_score) == (None, None, None, None)


def test_describe_filters_writes_each_new_filter_plainly() -> None:
    f = Filters(min_spread=0.02, max_spread=0.1, min_volume_1wk=1_234_567.5, min_trend=0.1 + 0.2,
                min_score=2.5)
    assert describe_filters(f) == "volume 7d ≥ 1,234,567.5, spread ≥ 0.02, spread ≤ 0.1, trend ≥ 0.3, score ≥ 2.5"
    small = describe_filters(Filters(min_spread=0.00001, min_trend=0.00005, min_volume_1wk=50_000))
    assert small == "volume 7d ≥ 50,000, spread ≥ 0.00001, trend ≥ 0.00005"
    assert "e-" not in small and "E" not in small
    # through the settings, as the picker's status line and the start-up log show it
    s = load_settings(_env_file=None, select_min_hours_to_end=0, select_min_volume_1wk=50000, select_min_trend=0.3)
    assert describe_filters(selection_filters(s)) == "price 0.1–0.9, volume 7d ≥ 50,000, trend ≥ 0.3"


@pytest.mark.parametrize(("var", "value", "message"), [
    ("POLYMM_SELECT_MIN_SPREAD", "1.5", "POLYMM_SELECT_MIN_SPREAD: Input should be less than 1 (got 1.5)"),
    ("POLYMM_SELECT_MIN_SPREAD", "0", "POLYMM_SELECT_MIN_SPREAD: Input should be greater than 0 (got 0)"),
    ("POLYMM_SELECT_MIN_VOLUME_1WK", "-5",
     "POLYMM_SELECT_MIN_VOLUME_1WK: Input should be greater than or equal to 0 (got -5)"),
    ("POLYMM_SELECT_MIN_TREND", "1001", "POLYMM_SELECT_MIN_TREND: Input should be less than or equal to 1000 "
                                        "(got 1001)"),
    ("POLYMM_SELECT_MIN_SCORE", "-1", "POLYMM_SELECT_MIN_SCORE: Input should be greater than or equal to 0 "
                                      "(got -1)"),
    ("POLYMM_SELECT_MIN_SCORE", "high", "POLYMM_SELECT_MIN_SCORE: Input should be a valid number"),
    ("POLYMM_FEED_RECONNECT_MIN_S", "0", "POLYMM_FEED_RECONNECT_MIN_S: Input should be greater than 0 (got 0)"),
    ("POLYMM_FEED_RECONNECT_MIN_S", "61",
     "POLYMM_FEED_RECONNECT_MIN_S: Input should be less than or equal to 60 (got 61)"),
    ("POLYMM_FEED_RECONNECT_MAX_S", "601",
     "POLYMM_FEED_RECONNECT_MAX_S: Input should be less than or equal to 600 (got 601)"),
])
def test_a_bad_setting_names_the_variable_and_the_allowed_range(
    clean: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    clean.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert str(info.value).startswith(message)


def test_a_minimum_spread_not_below_the_maximum_is_refused(clean: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None, select_min_spread=0.05, select_max_spread=0.03)
    assert str(info.value) == ("POLYMM_SELECT_MAX_SPREAD: must be above POLYMM_SELECT_MIN_SPREAD (0.05) "
                               "(got 0.03)")
    assert load_settings(_env_file=None, select_min_spread=0.02, select_max_spread=0.05).select_min_spread == 0.02


# ------------------------------------------------------------------------------------------- payloads


def test_the_captured_gamma_markets_parse_without_a_weekly_volume() -> None:
    """Real Gamma captures carry no ``volume1wk``: they still parse, the week unknown, and the filters that
    need it reject them while the others are unaffected."""
    docs = [*json.loads((FIXTURES / "markets_list.json").read_text()),
            json.loads((FIXTURES / "market_slug.json").read_text())]
    assert docs and all("volume1wk" not in d for d in docs)
    cands = [candidate_from_gamma(d, NOW) for d in docs]
    assert all(c.volume_1wk is None and c.trend is None for c in cands)
    assert {Filters(min_volume_1wk=1).reject(c) for c in cands} == {"volume_1wk"}
    assert {Filters(min_trend=0.1).reject(c) for c in cands} == {"trend"}
    assert {Filters().reject(c) for c in cands} == {None}


async def test_the_standins_gamma_gives_a_weekly_volume_and_discovery_filters_on_it() -> None:
    # the pretend week is a pure function of the seed: the same profiles give the same weeks, another seed others
    weeks = [base_volume_1wk(p) for p in market_profiles(7, 12)]
    assert weeks == [base_volume_1wk(p) for p in market_profiles(7, 12)]
    assert weeks != [base_volume_1wk(p) for p in market_profiles(8, 12)]
    async with run_exchange(port=0, seed=7, market_count=12, flow=False) as ex:
        client = PublicClient(ex.clob_url, ex.gamma_url)
        try:
            docs = await client.gamma_get("/markets", limit=100)
            n = len(ex.markets)  # the stand-alone markets and the neg-risk event's
            assert len(docs) == n > 12
            for d in docs:  # a plausible week: at least the last day, at most the market's whole volume
                assert isinstance(d["volume1wk"], float)
                assert d["volume24hr"] <= d["volume1wk"] <= d["volumeNum"]
            cands = await Discovery(client, clock=lambda: NOW).discover()
            trends = sorted(c.trend for c in cands if c.trend is not None)
            assert len(trends) == n and trends[0] < 1 < trends[-1]  # fading and rising markets both
            week_floor = statistics.median(c.volume_1wk for c in cands if c.volume_1wk is not None)
            d = Discovery(client, clock=lambda: NOW)
            kept = await d.discover(Filters(min_volume_1wk=week_floor, min_trend=1.0))
            expected = {c.condition_id for c in cands
                        if c.volume_1wk is not None and c.volume_1wk >= week_floor and (c.trend or 0) >= 1.0}
            assert {c.condition_id for c in kept} == expected
            assert 0 < len(kept) < n
            # markets whose whole volume is under the floor never come back from Gamma (``volume_num_min``);
            # the rest are rejected client-side and counted under their filter
            assert d.filtered["trend"] > 0
            assert d.filtered["volume_1wk"] + d.filtered["trend"] < n - len(kept)
        finally:
            await client.aclose()


# ------------------------------------------------------------------------------------------- reconnect backoff


def _market(i: int) -> Market:
    return Market("0x" + f"{i:064x}", str(10 * i + 1), str(10 * i + 2), f"q{i}", Tick.parse("0.01"))


def test_the_reconnect_settings_default_to_the_old_backoff_and_reach_every_shards_socket() -> None:
    s = load_settings(_env_file=None)
    assert (s.feed_reconnect_min_s, s.feed_reconnect_max_s) == (0.25, 10.0)
    assert (FeedConfig().reconnect_min_s, FeedConfig().reconnect_max_s) == (0.25, 10.0)
    s = load_settings(_env_file=None, feed_reconnect_min_s=0.5, feed_reconnect_max_s=30)
    config = FeedConfig(max_assets_per_connection=2, reconnect_min_s=s.feed_reconnect_min_s,
                        reconnect_max_s=s.feed_reconnect_max_s)
    feed = MarketFeed("ws://127.0.0.1:9/ws/market", [_market(1), _market(2)], lambda ids: None, config=config)
    assert len(feed.shards) == 2  # one market a socket: each gets the settings
    assert [(sh.socket.min_backoff, sh.socket.max_backoff) for sh in feed.shards] == [(0.5, 30.0), (0.5, 30.0)]


async def test_the_socket_backs_off_from_its_minimum_to_its_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run loop's backoff starts at ``min_backoff`` and doubles to ``max_backoff`` (no real waits: the
    connection fails at once and the backoff records its delays instead of sleeping)."""
    delays: list[float] = []
    made: list[tuple[float, float]] = []

    class Recording(Backoff):
        def __init__(self, initial: float, maximum: float) -> None:
            super().__init__(initial, maximum)
            made.append((initial, maximum))

        async def wait(self, stop: asyncio.Event) -> None:
            delays.append(self._delay)
            self._delay = min(self._delay * 2, self.maximum)
            if len(delays) == 6:
                sock.stop()

    def refuse(*args: object, **kwargs: object) -> object:
        raise OSError("connection refused")

    monkeypatch.setattr(market_ws, "Backoff", Recording)
    monkeypatch.setattr(market_ws.websockets, "connect", refuse)
    states: list[tuple[str, str]] = []
    sock = MarketSocket("ws://127.0.0.1:9/ws/market", lambda raw, ns: None, lambda s, r: states.append((s, r)),
                        min_backoff=0.5, max_backoff=3.0)
    await sock.run()
    assert made == [(0.5, 3.0)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert sock.reconnects == 6 and states[-1] == ("STOPPED", "")


def test_a_reconnect_minimum_above_the_maximum_is_refused(clean: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None, feed_reconnect_min_s=5, feed_reconnect_max_s=2)
    assert str(info.value) == ("POLYMM_FEED_RECONNECT_MAX_S: must be at least POLYMM_FEED_RECONNECT_MIN_S (5) "
                               "(got 2)")
    assert load_settings(_env_file=None, feed_reconnect_min_s=2, feed_reconnect_max_s=2).feed_reconnect_max_s == 2
    with pytest.raises(ValueError, match="expected 0 < min_backoff ≤ max_backoff, got 5 and 2"):
        MarketSocket("ws://127.0.0.1:9/ws/market", lambda raw, ns: None, min_backoff=5, max_backoff=2)


# ------------------------------------------------------------------------------------------- command line and engine


def test_the_selection_flags_set_the_settings_and_reach_the_filters(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from polymm.commands.options import program_args
    from polymm.commands.startup import selection_overrides

    p = argparse.ArgumentParser()
    program_args(p)
    got = selection_overrides(p.parse_args(["--min-spread", "0.02", "--min-volume-1wk", "50000", "--min-trend", "0.3",
                                            "--min-score", "2.5"]))
    assert got == {"select_min_spread": 0.02, "select_min_volume_1wk": 50_000.0, "select_min_trend": 0.3,
                   "select_min_score": 2.5}
    f = selection_filters(load_settings(_env_file=None, **got))
    assert (f.min_spread, f.min_volume_1wk, f.min_trend, f.min_score) == (0.02, 50_000, 0.3, 2.5)
    assert selection_overrides(p.parse_args([])) == {}
    for flag, bad, allowed in (("--min-spread", "1", "a price difference above 0 and below 1"),
                               ("--min-volume-1wk", "-1", "a number of dollars, 0 or more"),
                               ("--min-trend", "1001", "a number from 0 (any) to 1000"),
                               ("--min-score", "much", "a number from 0 (any) to 1000")):
        with pytest.raises(SystemExit):
            p.parse_args([flag, bad])
        assert f"argument {flag}: must be {allowed} (got '{bad}')" in capsys.readouterr().err


async def test_the_engines_feed_sockets_get_the_reconnect_settings() -> None:
    from test_scale_engine import paper_engine

    engine = paper_engine(2, feed_reconnect_min_s=0.5, feed_reconnect_max_s=20)
    try:
        assert engine.feed.shards
        assert {(sh.socket.min_backoff, sh.socket.max_backoff) for sh in engine.feed.shards} == {(0.5, 20.0)}
    finally:
        await engine.stop(cancel_orders=False)
