"""The fault-and-crash acceptance test of issue 11 (``tests/chaos.py`` has the scenario and the verdict).

Seeded and short: the stand-in in its own process with every ``/_admin/`` fault once, ``polymm run``
``kill -9``ed twice and SIGTERMed once (each time restarted on the same journal), a catalog market and a
new listing appended to the market file mid-run, a market resolved. Judged from the venue after the
final SIGTERM: nothing of ours rests, no duplicate orders, the journal's fill legs are the venue's, the
position path through the venue's trades stays within the limits, the journal's positions are the
venue's balances, and no traceback.
"""

from __future__ import annotations

from pathlib import Path

from chaos import MUST_BE_ZERO, ScenarioConfig, make_schedule, run_scenario, summary
from engines import demo_client

SEED = 11
#: a 0.02 spread on every market-file line: more of our quotes are hit in 30 s
CONFIG = ScenarioConfig(seed=SEED, seconds=30.0, kills=2, sigterms=1, line_params="spread=0.02")


def test_the_schedule_is_seeded_and_holds_every_fault() -> None:
    a, b = make_schedule(CONFIG), make_schedule(CONFIG)
    assert a == b
    assert make_schedule(ScenarioConfig(seed=SEED + 1)) != a
    kinds = {e.kind for e in a}
    assert set(CONFIG.kinds) <= kinds
    assert [e.kind for e in a].count("kill9") == 2 and [e.kind for e in a].count("sigterm") == 1
    assert "add_market" in kinds
    assert all(0 <= e.t <= CONFIG.seconds for e in a)


def test_faults_kills_and_restarts_leave_the_venue_and_the_journal_in_agreement(tmp_path: Path) -> None:
    v = run_scenario(CONFIG, tmp_path / "chaos")
    report = summary(v)
    print(report)  # shown with -s / -rP
    # the scenario did what it says (else a zero proves nothing)
    assert v["kills"] == 2 and v["sigterms"] == 1 and v["restarts"] == 3, report
    assert v["faults"] >= len(CONFIG.kinds) - 1, report  # heartbeat_reply_without_id: when the venue has it
    assert v["markets_listed"] == 1 and v["markets_resolved"] == 1 and v["markets_quoted"] >= 5, report
    assert v["fills"] > 0 and v["seconds_quoting"] > 5, report
    assert v["unexpected_exits"] == 0 and v["final_exit"] == 0 and v["sigterm_exit_codes"] == [0], report
    assert v["venue_views_disagree"] == 0, report  # REST and the venue's records tell the same story
    # the verdict
    bad = {k: v[k] for k in MUST_BE_ZERO if v[k]}
    assert not bad, f"{bad}\n{report}"


# ------------------------------------------------------------------ the verdict itself catches what it must
YES, NO, CID = "1" * 10, "2" * 10, "0x" + "cd" * 32


def _dump(trades: list[dict], orders: list[dict] = (), resolutions: list[dict] = ()) -> dict:
    return {"markets": [{"cid": CID, "yes": YES, "no": NO}], "trades": trades, "orders": list(orders),
            "resolutions": list(resolutions), "now_ms": 100_000}


def _trade(ms: int, token: str, side: str, shares: float, status: str = "CONFIRMED", failed_ms: int = 0,
           order_id: str = "o") -> dict:
    return {"id": f"t{ms}", "cid": CID, "status": status, "match_ms": ms, "last_update_ms": failed_ms or ms,
            "legs": [{"order_id": order_id, "token": token, "side": side, "size": int(shares * 1e6)}]}


def test_the_position_path_counts_each_excursion_past_a_limit_failed_trades_and_resolutions() -> None:
    from chaos import position_path

    details: dict = {}
    within = _dump([_trade(1, YES, "BUY", 10), _trade(2, NO, "SELL", 5), _trade(3, YES, "SELL", 15)])
    assert position_path(within, details)["position_breaches"] == 0  # +10, +15 (selling NO is buying YES), 0
    # a FAILED sell undone two seconds later pushes the position back past the limit: one breach of 5
    failed = _dump([_trade(1, YES, "BUY", 15), _trade(2, YES, "SELL", 5, "FAILED", failed_ms=4000),
                    _trade(3, YES, "BUY", 5), _trade(5000, YES, "SELL", 10)])
    v = position_path(failed, details)
    assert v["position_breaches"] == 1 and v["worst_excess"] == 5.0 and v["peak_position"] == 20.0
    # a resolution redeems the market to zero: buying again afterwards starts from nothing
    resolved = _dump([_trade(1, NO, "BUY", 15), _trade(20, NO, "BUY", 15)], resolutions=[{"cid": CID, "ms": 10}])
    assert position_path(resolved, details)["position_breaches"] == 0
    assert position_path(_dump([_trade(1, NO, "BUY", 15), _trade(20, NO, "BUY", 15)]), details)["worst_excess"] == 15


def test_duplicates_are_the_same_quote_resting_twice_in_yes_terms_top_ups_apart() -> None:
    from chaos import order_overlaps

    def order(oid: str, token: str, side: str, price: int, created: int, ended: int | None) -> dict:
        return {"id": oid, "cid": CID, "token": token, "side": side, "price": price, "original": 5_000_000,
                "created_ms": created, "ended_ms": ended}

    details: dict = {}
    # BUY YES @0.40 and SELL NO @0.60 are the same bid; the second placed while the first rests
    twice = [order("a", YES, "BUY", 4000, 0, 500), order("b", NO, "SELL", 6000, 400, None)]
    assert order_overlaps(_dump([], twice), details)["duplicates"] == 1
    after = [order("a", YES, "BUY", 4000, 0, 500), order("b", YES, "BUY", 4000, 500, None)]
    assert order_overlaps(_dump([], after), details) == {"duplicates": 0, "refill_overlaps": 0, "same_side_overlaps": 0}
    other_price = [order("a", YES, "BUY", 4000, 0, 500), order("b", YES, "BUY", 3900, 400, None)]
    assert order_overlaps(_dump([], other_price), details)["same_side_overlaps"] == 1
    topped_up = _dump([_trade(300, YES, "BUY", 4, order_id="a")], twice)  # "a" filled 4 of 5 before "b"
    assert order_overlaps(topped_up, details) == {"duplicates": 0, "refill_overlaps": 1, "same_side_overlaps": 1}


def test_fill_legs_must_be_the_venues_once_each_with_failed_ones_reversed() -> None:
    from decimal import Decimal

    from chaos import leg_mismatches

    def leg(status: str, delta: str) -> dict:
        return {"cid": CID, "token": YES, "status": status, "delta": Decimal(delta)}

    def row(tid: str, oid: str, delta: str, status: str = "CONFIRMED") -> dict:
        return {"trade_id": tid, "order_id": oid, "cid": CID, "token": YES, "status": status, "delta": Decimal(delta)}

    venue = {("t1", "o1"): leg("CONFIRMED", "5"), ("t2", "o2"): leg("FAILED", "-3"), ("t3", "o3"): leg("FAILED", "2")}
    good = [row("t1", "o1", "5"), row("t2", "o2", "-3", "FAILED"), row("t2:failed", "o2", "3", "REVERSAL"),
            row("reconcile:x:1:0", "", "-7", "ADJUSTED")]  # t3 never booked: neither row
    details: dict = {}
    v = leg_mismatches(venue, good, details)
    assert (v["fill_mismatches"], v["failed_never_booked"], v["reversals"], v["adjustments"]) == (0, 1, 1, 1)
    missing, unreversed = good[1:], [r for r in good if r["trade_id"] != "t2:failed"]
    twice = [*good, row("t9", "o1", "5")]  # a leg the venue does not have
    resized = [row("t1", "o1", "4"), *good[1:]]
    for journal in (missing, unreversed, twice, resized):
        assert leg_mismatches(venue, journal, details)["fill_mismatches"] == 1, details["fill_mismatches"]


# ------------------------------------------------------------------ the venue the verdict trusts (stand-in fixes)
async def _post(client, token: str, side: str, price: float, size: float):
    import asyncio

    from py_clob_client_v2.clob_types import OrderArgs, PartialCreateOrderOptions
    from py_clob_client_v2.clob_types import OrderType as ClobOrderType

    order = await asyncio.to_thread(client.create_order, OrderArgs(token_id=token, price=price, size=size, side=side),
                                    PartialCreateOrderOptions(tick_size="0.01", neg_risk=False))
    return await asyncio.to_thread(client.post_order, order, ClobOrderType.GTC, True)


def _bids(ex, m) -> list[int]:
    from polymm.domain.market import Side

    return sorted({o.yes_price for o in ex.matching.open_orders()
                   if o.market.condition_id == m.condition_id and o.yes_side is Side.BUY}, reverse=True)


async def test_a_ghost_fill_is_spent_on_a_trade_of_ours_not_on_a_synthetic_level_of_the_same_sweep() -> None:
    from decimal import Decimal

    from polymm.domain.market import Side
    from polymm_standin.server import run_exchange
    from polymm_standin.sim.matching import OrderType

    async with run_exchange(port=0, seed=5, flow=False) as ex:
        m = next(m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01")
        client = await demo_client(ex)
        ours = _bids(ex, m)[0] - 100  # behind the best synthetic bid: a sweep takes that level first
        await _post(client, m.yes_token, "BUY", ours / 10_000, 5)
        ahead = sum(o.remaining for o in ex.matching.open_orders() if o.market.condition_id == m.condition_id
                    and o.yes_side is Side.BUY and o.yes_price >= ours) - 5_000_000
        ex.faults.ghost_fills = 1
        ex.matching.place("taker", m.yes_token, Side.SELL, ours, Decimal(ahead) / 10**6 + 3, order_type=OrderType.FAK)
        mine = ex.trading.trades_of(client.get_address())
        assert len(mine) == 1 and mine[0].ghost and ex.faults.ghost_fills == 0


async def test_what_a_failing_trade_brought_in_cannot_be_sold_so_no_balance_goes_negative() -> None:
    import asyncio
    from decimal import Decimal

    from py_clob_client_v2.exceptions import PolyApiException

    from polymm.domain.market import Side
    from polymm_standin.server import run_exchange
    from polymm_standin.sim.matching import OrderType

    async with run_exchange(port=0, seed=5, flow=False) as ex:
        m = next(m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01")
        client = await demo_client(ex)
        bid = _bids(ex, m)[0] + 100
        await _post(client, m.yes_token, "BUY", bid / 10_000, 5)
        ex.faults.ghost_fills = 1
        # our bid, a ghost
        ex.matching.place("taker", m.yes_token, Side.SELL, bid, Decimal(5), order_type=OrderType.FAK)
        me = client.get_address()
        assert ex.accounts.position(me, m.yes_token) == 5  # counted at the match ...
        try:
            await _post(client, m.yes_token, "SELL", (bid + 500) / 10_000, 5)
            raise AssertionError("shares of a trade that is going to fail were sold")
        except PolyApiException as e:  # ... but not spendable (docs/protocol.md §10.5)
            assert "not enough balance" in str(e.error_msg)
        ex.trading.advance_trade(ex.trading.trades_of(me)[0].id)  # MATCHED → RETRYING
        ex.trading.advance_trade(ex.trading.trades_of(me)[0].id)  # → FAILED
        await asyncio.sleep(0)
        assert ex.trading.trades_of(me)[0].status == "FAILED" and ex.accounts.position(me, m.yes_token) == 0
