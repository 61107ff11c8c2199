"""Sizing in dollars: a size in USD at the mid instead of shares, a cap on the dollars one quote locks, and
a maximum notional per side (outer layers cut first) — a bid locks its price a share, an ask 1 − its price."""

from __future__ import annotations

from decimal import Decimal as D

from polymm.config import load_settings
from polymm.domain.market import Market, Side
from polymm.domain.order_book import BookView, Level
from polymm.domain.params import MarketParams
from polymm.domain.prices import Tick
from polymm.domain.quoting import Quote, Targets
from polymm.domain.strategy import MarketBrain, dollar_caps, shares_for_usd

TICK = Tick.parse("0.01")
LADDER = Targets((Quote(Side.BUY, 4000, D(100)), Quote(Side.BUY, 3900, D(100)),
                  Quote(Side.SELL, 6000, D(100)), Quote(Side.SELL, 6100, D(100))), 5000.0, "t")


def test_dollars_become_shares_at_the_mid_rounded_down_to_cents() -> None:
    assert shares_for_usd(D(25), 5000.0) == D("50.00")
    assert shares_for_usd(D(10), 3000.0) == D("33.33")
    assert shares_for_usd(D("0.001"), 9900.0) == D("0.01")  # never nothing


def test_no_quote_locks_more_than_the_per_order_cap() -> None:
    out = dollar_caps(LADDER, D(20), D(0))
    assert [(q.side, q.price, q.size) for q in out.quotes] == [
        (Side.BUY, 4000, D("50.00")), (Side.BUY, 3900, D("51.28")),  # $20 at 0.40 and at 0.39
        (Side.SELL, 6000, D("50.00")), (Side.SELL, 6100, D("51.28"))]  # an ask at 0.60 locks 0.40 a share
    assert out.reason == "t; sizes cut to the dollar caps"


def test_a_side_locks_at_most_its_notional_the_outer_layers_cut_first() -> None:
    out = dollar_caps(LADDER, D(0), D(50))
    assert [(q.side, q.price, q.size) for q in out.quotes] == [
        (Side.BUY, 4000, D(100)), (Side.BUY, 3900, D("25.64")),  # $40 + $10 of the $50
        (Side.SELL, 6000, D(100)), (Side.SELL, 6100, D("25.64"))]
    tight = dollar_caps(LADDER, D(0), D(30))
    assert [(q.price, q.size) for q in tight.quotes] == [(4000, D(75)), (6000, D(75))]  # the outer ones: gone
    assert dollar_caps(LADDER, D(0), D(0)).quotes == LADDER.quotes  # 0: no cap
    assert dollar_caps(LADDER, D(0), D(0)).reason == "t"


def test_the_strategy_sizes_in_dollars_and_applies_the_caps() -> None:
    cid = "0x" + "cd" * 32
    brain = MarketBrain(Market(cid, "1", "2", "q", TICK))
    view = BookView(cid, 0, 1, TICK, 4800, 5200, 100.0, 100.0, (Level(4800, 100.0),), (Level(5200, 100.0),),
                    None, 0)
    d = brain.decide(view, D(0), MarketParams(size_usd=D(20), spread=D("0.04")), 0.0)
    assert {q.size for q in d.targets.quotes} == {D("40.00")}  # $20 at the mid 0.50
    capped = brain.decide(view, D(0), MarketParams(size=D(100), max_size_usd=D(12), spread=D("0.04")), 1.0)
    assert all(q.size * (D(q.price) / 10_000 if q.side is Side.BUY else 1 - D(q.price) / 10_000) <= 12
               for q in capped.targets.quotes) and capped.targets.quotes


def test_the_dollar_settings_are_every_markets_defaults() -> None:
    p = load_settings(_env_file=None, default_size_usd=25, default_max_size_usd=40,
                      default_max_notional_side=100).default_params()
    assert (p.size_usd, p.max_size_usd, p.max_notional_side) == (D(25), D(40), D(100))
