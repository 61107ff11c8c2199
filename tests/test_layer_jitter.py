"""Layer jitter: the outer layers move away from the book by up to ``jitter_ticks`` and shrink by up to
``jitter_size``, seeded and stable while the inner quote stays (no requote churn)."""

from __future__ import annotations

from decimal import Decimal as D

from polymm.config import load_settings
from polymm.domain.market import Market, Side
from polymm.domain.params import MarketParams
from polymm.domain.prices import Tick
from polymm.domain.quoting import Quote, Targets
from polymm.domain.strategy import jittered

TICK = Tick.parse("0.01")
CID = "0x" + "ab" * 32
LADDER = Targets((Quote(Side.BUY, 4800, D(10)), Quote(Side.BUY, 4700, D(20)), Quote(Side.BUY, 4600, D(40)),
                  Quote(Side.SELL, 5200, D(10)), Quote(Side.SELL, 5300, D(20)), Quote(Side.SELL, 5400, D(40))),
                 5000.0, "test")


def _params(**kw) -> MarketParams:
    return MarketParams(layers=3, jitter_ticks=2, jitter_size=0.3, jitter_seed=7, **kw)


def test_outer_layers_move_away_and_shrink_within_bounds_and_inner_quotes_stay() -> None:
    out = jittered(LADDER, _params(), CID, TICK)
    by_side = {s: [q for q in out.quotes if q.side is s] for s in Side}
    orig = {s: [q for q in LADDER.quotes if q.side is s] for s in Side}
    for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
        assert by_side[side][0] == orig[side][0]  # the inner quote as the model set it
        for new, old in zip(by_side[side][1:], orig[side][1:], strict=True):
            moved = (new.price - old.price) * sign
            assert moved in (0, 100, 200)  # away from the book, 0..2 ticks
            assert D("0.7") * old.size <= new.size <= old.size and new.size == new.size.quantize(D("0.01"))
    assert out.quotes != LADDER.quotes  # this seed moves something
    assert jittered(LADDER, _params(), CID, TICK) == out  # the same draw while the inner quote stays
    others = {jittered(LADDER, _params().updated(jitter_seed=s), CID, TICK).quotes for s in range(8)}
    assert len(others) > 1  # the seed changes the ladder


def test_no_jitter_unless_set_and_the_strategy_applies_it() -> None:
    from polymm.domain.order_book import BookView, Level
    from polymm.domain.strategy import MarketBrain

    assert jittered(LADDER, MarketParams(layers=3), CID, TICK).quotes == LADDER.quotes  # 0 ticks, 0 size
    market = Market(CID, "1", "2", "q", TICK)
    view = BookView(CID, 0, 1, TICK, 4800, 5200, 100.0, 100.0, (Level(4800, 100.0),), (Level(5200, 100.0),),
                    None, 0)
    plain = MarketBrain(market).decide(view, D(0), MarketParams(layers=3, spread=D("0.04")), 0.0)
    jit = MarketBrain(market).decide(view, D(0), _params(spread=D("0.04")), 0.0)
    assert plain.targets.quotes != jit.targets.quotes
    assert jit.targets.quotes == jittered(plain.targets, _params(), CID, TICK).quotes


def test_the_jitter_settings_are_every_markets_defaults() -> None:
    s = load_settings(_env_file=None, default_jitter_ticks=3, default_jitter_size=0.25, jitter_seed=11)
    p = s.default_params()
    assert (p.jitter_ticks, p.jitter_size, p.jitter_seed) == (3, 0.25, 11)
