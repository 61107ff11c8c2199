"""Paper execution: fills on prints through our price, at-price prints eat the queue first, NO mirrored."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from polymm.domain.market import Market, Side
from polymm.domain.messages import parse_frame
from polymm.domain.order_book import OrderBook
from polymm.domain.portfolio import Fill, Portfolio
from polymm.domain.prices import Tick
from polymm.state import OrderView
from polymm.venue.execution import OpenOrder, OrderRequest
from polymm.venue.paper import PaperExecution

D = Decimal
COND = "0x" + "aa" * 32
OTHER = "0x" + "bb" * 32
YES, NO = "101", "202"


async def _place(paper: PaperExecution, market: Market, book, side: Side, price: int, size: Decimal) -> str:
    return (await paper.place_many(market, book, [OrderRequest(side, price, size)]))[0]


def _setup(bids: dict[str, str] | None = None, asks: dict[str, str] | None = None):
    market = Market(COND, YES, NO, "q?", Tick.parse("0.01"))
    book = OrderBook(market)
    bids = {"0.48": "100", "0.47": "50"} if bids is None else bids
    asks = {"0.52": "80", "0.53": "40"} if asks is None else asks
    msg = {
        "event_type": "book",
        "market": COND,
        "asset_id": YES,
        "bids": [{"price": p, "size": s} for p, s in bids.items()],
        "asks": [{"price": p, "size": s} for p, s in asks.items()],
    }
    book.apply(parse_frame(orjson.dumps(msg))[0][0])
    fills: list[Fill] = []
    paper = PaperExecution(on_fill=fills.append, clock=lambda: 123.0)
    return market, book, paper, fills


def _set_level(book: OrderBook, asset: str, price: str, size: str, side: str) -> None:
    msg = {
        "event_type": "price_change",
        "market": COND,
        "price_changes": [{"asset_id": asset, "price": price, "size": size, "side": side}],
    }
    book.apply(parse_frame(orjson.dumps(msg))[0][0])


@pytest.mark.asyncio
async def test_through_print_fills_and_partial_fill_keeps_the_remainder() -> None:
    market, book, paper, fills = _setup()
    oid = await _place(paper, market, book, Side.BUY, 4800, D(10))
    [o] = paper.open_orders()
    assert (o.order_id, o.side, o.price, o.size, o.queue_ahead) == (oid, Side.BUY, 4800, D(10), 100.0)
    # a taker sell printing at 0.47 went through our 0.48 bid: we were first
    got = paper.on_trade(book, YES, 4700, 4.0, taker_is_buy=False)
    assert [(f.order_id, f.side, f.price, f.size) for f in got] == [(oid, Side.BUY, 4800, D(4))]
    assert fills == got and got[0].ts == 123.0 and got[0].condition_id == COND and got[0].trade_id
    [o] = paper.open_orders()
    assert o.filled == D(4) and o.remaining == D(6)
    got2 = paper.on_trade(book, YES, 4500, 25.0, taker_is_buy=False)
    assert [f.size for f in got2] == [D(6)]  # never more than the remainder
    assert paper.open_orders() == []
    assert got[0].trade_id != got2[0].trade_id


@pytest.mark.asyncio
async def test_at_price_print_eats_the_queue_ahead_first() -> None:
    market, book, paper, _ = _setup()
    oid = await _place(paper, market, book, Side.SELL, 5200, D(10))
    assert paper.open_orders()[0].queue_ahead == 80.0
    assert paper.on_trade(book, YES, 5200, 60.0, taker_is_buy=True) == []
    assert paper.open_orders()[0].queue_ahead == pytest.approx(20.0)
    got = paper.on_trade(book, YES, 5200, 25.0, taker_is_buy=True)
    assert [(f.order_id, f.size) for f in got] == [(oid, D(5))]
    o = paper.open_orders()[0]
    assert o.queue_ahead == 0.0 and o.filled == D(5)
    got = paper.on_trade(book, YES, 5200, 7.0, taker_is_buy=True)  # now first in the queue
    assert [f.size for f in got] == [D(5)]
    assert paper.open_orders() == []


@pytest.mark.asyncio
async def test_queue_shrinks_with_the_level() -> None:
    market, book, paper, _ = _setup()
    await _place(paper, market, book, Side.BUY, 4800, D(10))
    _set_level(book, YES, "0.48", "30", "BUY")  # orders ahead of us were cancelled
    paper.on_book(book)
    assert paper.open_orders()[0].queue_ahead == 30.0
    _set_level(book, YES, "0.48", "90", "BUY")  # orders joining behind us do not push us back
    paper.on_book(book)
    assert paper.open_orders()[0].queue_ahead == 30.0
    got = paper.on_trade(book, YES, 4800, 35.0, taker_is_buy=False)
    assert [f.size for f in got] == [D(5)]


@pytest.mark.asyncio
async def test_prints_that_do_not_reach_us_or_are_on_the_wrong_side_do_not_fill() -> None:
    market, book, paper, fills = _setup()
    await _place(paper, market, book, Side.BUY, 4800, D(10))
    await _place(paper, market, book, Side.SELL, 5200, D(10))
    assert paper.on_trade(book, YES, 4900, 100.0, taker_is_buy=False) == []  # sell above our bid
    assert paper.on_trade(book, YES, 5100, 100.0, taker_is_buy=True) == []  # buy below our ask
    assert paper.on_trade(book, YES, 4000, 100.0, taker_is_buy=True) == []  # a buy never hits bids
    assert paper.on_trade(book, YES, 6000, 100.0, taker_is_buy=False) == []  # a sell never lifts asks
    assert paper.on_trade(book, YES, 4000, 0.0, taker_is_buy=False) == []
    assert paper.on_trade(book, YES, 4000, float("nan"), taker_is_buy=False) == []  # bad wire size
    assert paper.on_trade(book, YES, 4000, float("inf"), taker_is_buy=False) == []
    assert fills == [] and len(paper.open_orders()) == 2


@pytest.mark.asyncio
async def test_no_token_prints_are_mirrored() -> None:
    market, book, paper, _ = _setup()
    ask = await _place(paper, market, book, Side.SELL, 5200, D(10))
    bid = await _place(paper, market, book, Side.BUY, 4800, D(10))
    # a taker BUY of NO at 0.53 is a taker SELL of YES at 0.47: through our YES bid at 0.48
    got = paper.on_trade(book, NO, 5300, 3.0, taker_is_buy=True)
    assert [(f.order_id, f.side, f.price, f.size) for f in got] == [(bid, Side.BUY, 4800, D(3))]
    # a taker SELL of NO at 0.47 is a taker BUY of YES at 0.53: through our YES ask at 0.52
    got = paper.on_trade(book, NO, 4700, 4.0, taker_is_buy=False)
    assert [(f.order_id, f.side, f.price, f.size) for f in got] == [(ask, Side.SELL, 5200, D(4))]
    # a taker SELL of NO at 0.49 is a YES buy at 0.51: below our ask, no fill
    assert paper.on_trade(book, NO, 4900, 4.0, taker_is_buy=False) == []


@pytest.mark.asyncio
async def test_best_price_fills_first_and_the_print_size_is_shared() -> None:
    market, book, paper, _ = _setup()
    low = await _place(paper, market, book, Side.BUY, 4600, D(10))
    high = await _place(paper, market, book, Side.BUY, 4700, D(10))
    got = paper.on_trade(book, YES, 4500, 12.0, taker_is_buy=False)
    assert [(f.order_id, f.size) for f in got] == [(high, D(10)), (low, D(2))]


@pytest.mark.asyncio
async def test_queue_eaten_by_one_order_is_not_reused_by_another() -> None:
    market, book, paper, _ = _setup(bids={"0.48": "3"})
    await _place(paper, market, book, Side.BUY, 4800, D(10))
    await _place(paper, market, book, Side.BUY, 4800, D(10))
    got = paper.on_trade(book, YES, 4800, 15.0, taker_is_buy=False)
    # 3 went to the queue ahead, 10 to the first order, only 2 are left for the second's queue
    assert [f.size for f in got] == [D(10)]
    assert sum(f.size for f in got) + 3 <= 15
    [second] = paper.open_orders()
    assert second.queue_ahead == pytest.approx(1.0) and second.filled == 0


@pytest.mark.asyncio
async def test_place_without_a_book_has_no_queue_and_cancel_paths() -> None:
    market, book, paper, _ = _setup()
    a = await _place(paper, market, None, Side.BUY, 4800, D(1))
    b = await _place(paper, market, book, Side.SELL, 5500, D(1))
    other = Market(OTHER, "7", "8", "other", Tick.parse("0.01"))
    c = await _place(paper, other, None, Side.BUY, 1000, D(1))
    assert len({a, b, c}) == 3
    assert paper.open_orders(COND)[0].queue_ahead == 0.0
    assert [o.order_id for o in paper.open_orders(OTHER)] == [c]
    assert await paper.cancel([a, "nope", a]) == [a]
    assert await paper.cancel_market(OTHER) == 1
    assert [o.order_id for o in paper.open_orders()] == [b]
    await _place(paper, market, book, Side.BUY, 4000, D(1))
    assert await paper.cancel_all() == 2
    assert paper.open_orders() == []
    assert paper.on_trade(book, YES, 100, 1000.0, taker_is_buy=False) == []
    assert await paper.cancel_all() == 0


@pytest.mark.asyncio
async def test_orders_of_other_markets_are_untouched() -> None:
    _, book, paper, _ = _setup()
    other = Market(OTHER, "7", "8", "other", Tick.parse("0.01"))
    await _place(paper, other, None, Side.BUY, 4800, D(5))
    assert paper.on_trade(book, YES, 4000, 100.0, taker_is_buy=False) == []
    assert len(paper.open_orders(OTHER)) == 1


@pytest.mark.asyncio
async def test_fills_book_into_a_portfolio_exactly() -> None:
    market, book, paper, _ = _setup()
    pf = Portfolio()
    paper.on_fill = lambda f: pf.apply(f)  # type: ignore[assignment,return-value]
    await _place(paper, market, book, Side.BUY, 4800, D("10.5"))
    await _place(paper, market, book, Side.SELL, 5200, D("10.5"))
    paper.on_trade(book, YES, 4700, 10.5, taker_is_buy=False)
    paper.on_trade(book, NO, 4700, 10.5, taker_is_buy=False)  # YES buy at 0.53 through our ask
    pos = pf.position(COND)
    assert pos.qty == 0 and pos.fills == 2
    assert pos.realized == D("0.42")  # (0.52 - 0.48) * 10.5, exact


def test_paper_order_view() -> None:
    o = OpenOrder("p1", COND, Side.SELL, 5200, D(10), D(3))
    assert o.remaining == D(7)
    assert o.view() == OrderView("p1", "SELL", 5200, D(10), D(3), o.placed_at)  # its age shows on screen


@pytest.mark.asyncio
async def test_the_per_market_and_per_token_indexes_always_match_a_scan_of_every_order() -> None:
    """``open_orders(market)`` and the free shares read paper's indexes (a scan of every order made a
    step O(all orders) at 300 markets); after any mix of places, fills, cancels and cancel-alls they
    hold exactly what a scan finds, in the same order."""
    import random

    rng = random.Random(5)
    markets = [Market("0x" + f"{i:064x}", f"{i}1", f"{i}2", f"m{i}", Tick.parse("0.01")) for i in range(4)]
    books = {m.condition_id: OrderBook(m) for m in markets}
    paper = PaperExecution(clock=lambda: 1.0)
    for _ in range(400):
        m = rng.choice(markets)
        roll = rng.random()
        if roll < 0.5:
            side = rng.choice([Side.BUY, Side.SELL])
            await _place(paper, m, None, side, rng.randrange(4000, 6000, 100), D(rng.randrange(1, 20)))
        elif roll < 0.7:
            paper.on_trade(books[m.condition_id], m.yes_token, rng.randrange(3000, 7000, 100), rng.randrange(1, 30),
                           taker_is_buy=rng.random() < 0.5)
        elif roll < 0.9:
            mine = paper.open_orders(m.condition_id)
            await paper.cancel([o.order_id for o in rng.sample(mine, min(len(mine), 2))])
        elif roll < 0.97:
            await paper.cancel_market(m.condition_id)
        else:
            await paper.cancel_all()
        every = paper.open_orders()
        for mk in markets:
            assert paper.open_orders(mk.condition_id) == [o for o in every if o.condition_id == mk.condition_id]
            for token in (mk.yes_token, mk.no_token):
                selling = sum((o.remaining for o in every if o.token_id == token and o.venue_side == "SELL"), D(0))
                assert paper.free_shares(token) == paper.ledger.shares(token) - selling
    assert paper.orders_placed > 150
    with pytest.raises(TypeError, match="pop"):
        del paper._orders["x"]
