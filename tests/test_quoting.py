"""The ``fixed`` quoting model: on grid, inside [tick, 1 − tick], never crossing, limits respected."""

from __future__ import annotations

from decimal import Decimal

import orjson
from books import COND, book_view, market_on
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.messages import parse_frame
from polymm.domain.order_book import OrderBook
from polymm.domain.params import MarketParams
from polymm.domain.prices import ALL_TICKS, MAX_PIPS, Tick
from polymm.domain.quoting import Quote
from polymm.domain.quoting_models.fixed import fixed_quotes

_market = market_on
_view = book_view


def _params(**kw: object) -> MarketParams:
    return MarketParams(**kw)  # type: ignore[arg-type]


def _prices(quotes: tuple[Quote, ...]) -> list[int]:
    return [q.price for q in quotes]


# ---------------------------------------------------------------- examples


def test_symmetric_quotes_around_mid() -> None:
    view = _view("0.01", {4800: 10}, {5200: 10})
    t = fixed_quotes(view, Decimal(0), _params(spread=Decimal("0.04"), size=Decimal(7)))
    assert t.quotes == (Quote(Side.BUY, 4800, Decimal(7)), Quote(Side.SELL, 5200, Decimal(7)))
    assert t.fair == 5000.0
    assert t.reason == "fixed spread around mid"
    assert _prices(t.bids) == [4800] and _prices(t.asks) == [5200]


def test_rounds_outward_onto_the_grid() -> None:
    view = _view("0.01", {4800: 1}, {5100: 1})  # mid 0.495
    t = fixed_quotes(view, Decimal(0), _params(spread=Decimal("0.04")))
    assert _prices(t.bids) == [4700]  # 0.475 -> down to 0.47
    assert _prices(t.asks) == [5200]  # 0.515 -> up to 0.52
    assert t.fair == 4950.0


def test_layers_step_outward_and_stop_at_the_edges() -> None:
    view = _view("0.01", {4800: 1}, {5200: 1})
    t = fixed_quotes(view, Decimal(0), _params(layers=3, layer_step=Decimal("0.02")))
    assert _prices(t.bids) == [4800, 4600, 4400]
    assert _prices(t.asks) == [5200, 5400, 5600]
    low = _view("0.01", {200: 1}, {400: 1})
    t = fixed_quotes(low, Decimal(0), _params(spread=Decimal("0.02"), layers=3))
    assert _prices(t.bids) == [200, 100]  # 0.00 is not a valid price
    high = _view("0.01", {9600: 1}, {9800: 1})
    t = fixed_quotes(high, Decimal(0), _params(spread=Decimal("0.02"), layers=3))
    assert _prices(t.asks) == [9800, 9900]


def test_layer_step_finer_than_the_tick_is_one_tick() -> None:
    view = _view("0.01", {4800: 1}, {5200: 1})
    t = fixed_quotes(view, Decimal(0), _params(layers=2, layer_step=Decimal("0.001")))
    assert _prices(t.bids) == [4800, 4700] and _prices(t.asks) == [5200, 5300]


def test_never_crosses_a_tight_or_locked_book() -> None:
    tight = _view("0.01", {4900: 1}, {5000: 1})
    t = fixed_quotes(tight, Decimal(0), _params(spread=Decimal("0.02")))
    assert max(_prices(t.bids)) < 5000 and min(_prices(t.asks)) > 4900
    # levels on a finer grid than the tick (after a tick change) and a coarse tick
    fine = OrderBook(_market(Tick.parse("0.001")))
    fine.apply(
        parse_frame(
            orjson.dumps(
                {
                    "event_type": "book",
                    "market": COND,
                    "asset_id": "1",
                    "bids": [{"price": "0.495", "size": "1"}],
                    "asks": [{"price": "0.496", "size": "1"}],
                }
            )
        )[0][0]
    )
    fine.apply_tick_change(Tick.parse("0.1"))
    t = fixed_quotes(fine.view(), Decimal(0), _params(spread=Decimal("0.2")))
    assert _prices(t.bids) == [3000] and _prices(t.asks) == [6000]  # 0.3955 down, 0.5955 up
    # a crossed book (bid 0.51 over ask 0.50): still below the ask and above the bid
    crossed = _view("0.01", {5100: 1}, {5000: 1})
    t = fixed_quotes(crossed, Decimal(0), _params(spread=Decimal("0.02")))
    assert _prices(t.bids) == [4900] and _prices(t.asks) == [5200]


def test_position_limits_remove_one_side() -> None:
    view = _view("0.01", {4800: 1}, {5200: 1})
    p = _params(position_limit=Decimal(50), layers=2)
    long = fixed_quotes(view, Decimal(50), p)
    assert long.bids == () and len(long.asks) == 2 and "long limit" in long.reason
    short = fixed_quotes(view, Decimal(-50), p)
    assert short.asks == () and len(short.bids) == 2 and "short limit" in short.reason
    near = fixed_quotes(view, Decimal("49.99"), p)  # room for 0.01 more: the bid side is cut to it
    assert [q.size for q in near.bids] == [Decimal("0.01")] and len(near.asks) == 2


def test_disabled_and_one_sided_books_quote_nothing() -> None:
    view = _view("0.01", {4800: 1}, {5200: 1})
    off = fixed_quotes(view, Decimal(0), _params(enabled=False))
    assert off.quotes == () and off.reason == "disabled"
    for one_sided in (_view("0.01", {4800: 1}, {}), _view("0.01", {}, {5200: 1}), _view("0.01", {}, {})):
        t = fixed_quotes(one_sided, Decimal(0), _params())
        assert t.quotes == () and t.fair is None and "one-sided" in t.reason


# ---------------------------------------------------------------- property


@st.composite
def books_and_params(draw: st.DrawFn):
    tick = draw(st.sampled_from(ALL_TICKS))
    # levels on the tick's grid, or (after a tick change) on any finer grid
    grid = draw(st.sampled_from([g for g in ALL_TICKS if tick.pips % g.pips == 0]))
    n = MAX_PIPS // grid.pips
    bid_idx = draw(st.integers(1, n - 2))
    ask_idx = draw(st.integers(bid_idx + 1, min(n - 1, bid_idx + draw(st.sampled_from([1, 3, 20, n])))))
    bids = {bid_idx * grid.pips: draw(st.integers(1, 5000)) / 10}
    asks = {ask_idx * grid.pips: draw(st.integers(1, 5000)) / 10}
    for _ in range(draw(st.integers(0, 3))):  # deeper levels
        k = draw(st.integers(1, 50))
        if bid_idx - k >= 1:
            bids[(bid_idx - k) * grid.pips] = 1.0
        if ask_idx + k <= n - 1:
            asks[(ask_idx + k) * grid.pips] = 1.0
    tn = MAX_PIPS // tick.pips
    spread_ticks = draw(st.integers(2, max(2, min(tn - 1, draw(st.sampled_from([4, 40, tn]))))))
    params = MarketParams(
        spread=tick.decimal * spread_ticks,
        size=Decimal(draw(st.integers(500, 10_000_000))) / 100,
        layers=draw(st.integers(1, 5)),
        layer_step=tick.decimal * draw(st.integers(1, max(1, min(tn - 1, 30)))),
        position_limit=Decimal(draw(st.integers(1, 10_000))),
    )
    position = draw(
        st.one_of(
            st.sampled_from([Decimal(0), params.position_limit, -params.position_limit]),
            st.integers(-20_000, 20_000).map(Decimal),
            st.decimals(min_value=-20_000, max_value=20_000, places=2),
        )
    )
    return tick, bids, asks, params, position


@settings(max_examples=400, deadline=None)
@given(books_and_params())
def test_property_quotes_are_on_grid_inside_range_and_never_cross(case) -> None:
    tick, bids, asks, params, position = case
    params.check_for(_market(tick))  # the generated parameters are valid for this market
    view = _view(tick, bids, asks)
    assert view.best_bid == max(bids) and view.best_ask == min(asks)
    targets = fixed_quotes(view, position, params)
    quoted_bids, quoted_asks = _prices(targets.bids), _prices(targets.asks)
    assert len(quoted_bids) + len(quoted_asks) == len(targets.quotes)
    for q in targets.quotes:
        assert tick.on_grid(q.price), q
        assert tick.min_price <= q.price <= tick.max_price, q
        assert tick.valid(q.price)
        assert 0 < q.size <= params.size
    # a side's total never takes the position past its limit; below the room every layer is full size
    assert sum(q.size for q in targets.bids) <= max(params.position_limit - position, 0)
    assert sum(q.size for q in targets.asks) <= max(params.position_limit + position, 0)
    assert all(q.size == params.size for q in (*targets.bids[:-1], *targets.asks[:-1]))
    assert all(p < view.best_ask for p in quoted_bids)  # type: ignore[operator]
    assert all(p > view.best_bid for p in quoted_asks)  # type: ignore[operator]
    if quoted_bids and quoted_asks:
        assert max(quoted_bids) < min(quoted_asks)
    assert len(quoted_bids) <= params.layers and len(quoted_asks) <= params.layers
    assert len(set(quoted_bids)) == len(quoted_bids) and len(set(quoted_asks)) == len(quoted_asks)
    if position >= params.position_limit:
        assert quoted_bids == []
    if position <= -params.position_limit:
        assert quoted_asks == []
    assert targets.fair == (view.best_bid + view.best_ask) / 2  # type: ignore[operator]
    # best quotes first, each further layer one step further out
    assert quoted_bids == sorted(quoted_bids, reverse=True) and quoted_asks == sorted(quoted_asks)
    # a side that is allowed and has room inside [tick, 1 - tick] quotes every layer
    step = max(tick.ceil(int(params.layer_step * 10_000)), tick.pips)
    if quoted_bids and quoted_bids[0] - (params.layers - 1) * step >= tick.min_price:
        room = params.position_limit - position
        assert len(quoted_bids) == params.layers or sum(q.size for q in targets.bids) == room
    if quoted_asks and quoted_asks[0] + (params.layers - 1) * step <= tick.max_price:
        room = params.position_limit + position
        assert len(quoted_asks) == params.layers or sum(q.size for q in targets.asks) == room
