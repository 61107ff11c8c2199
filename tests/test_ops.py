"""The operator commands (cancel-all, status, markets, doctor) as the CLI runs them, against a real
stand-in on its own thread (``EmbeddedExchange``), and the programs' log formats."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from polymm.cli import main
from polymm.config import load_settings
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.ops.logs import JsonFormatter, TextFormatter, settings_secrets
from polymm.ops.programs import initial_markets
from polymm.ops.wallet import authed_client
from polymm.venue.rewards import read_earned
from polymm_standin.server import EmbeddedExchange

DEMO_ADDRESS = Account.from_key(DEMO_PRIVATE_KEY).address




@pytest.fixture
def venue():
    with EmbeddedExchange(seed=71, flow=False) as ex:
        yield ex


def _settings(ex: EmbeddedExchange, **kw):
    u = ex.urls
    return load_settings(_env_file=None, mode="demo", clob_url=u.clob_url, ws_url=u.ws_base, gamma_url=u.gamma_url,
                         data_url=u.data_url, **kw)


def _demo(ex: EmbeddedExchange) -> list[str]:
    return ["--demo", "--clob-url", ex.urls.clob_url]


def _rest_orders(ex: EmbeddedExchange, per_market: list[int]) -> list[str]:
    """Deep post-only bids of the demo wallet (they never fill): ``per_market[i]`` orders in market i."""
    from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions

    client = authed_client(_settings(ex))
    markets = [m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01"]
    ids = []
    for m, n in zip(markets, per_market, strict=False):
        for k in range(n):
            order = client.create_order(OrderArgsV2(token_id=m.yes_token, price=0.02 + 0.01 * k, size=5.0, side="BUY"),
                                        PartialCreateOrderOptions(tick_size="0.01", neg_risk=False))
            r = client.post_order(order, OrderType.GTC, post_only=True)
            assert r["success"], r
            ids.append(r["orderID"])
    return ids


def _ours(ex: EmbeddedExchange) -> list:
    def find() -> list:
        keys = {k.key for k in ex.standin.keys.keys_of(DEMO_ADDRESS)}
        return [o.id for o in ex.matching.open_orders() if o.owner in keys]

    return ex.call(find)


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- cancel-all
def test_cancel_all_cancels_every_order_of_ours_and_confirms_none_remain(clean, venue, capsys) -> None:
    _rest_orders(venue, [2, 1])
    assert len(_ours(venue)) == 3
    code, out, _ = _run(capsys, ["cancel-all", *_demo(venue)])
    assert code == 0, out
    assert f"cancelled 3 orders of wallet {DEMO_ADDRESS}" in out
    assert "GET /data/orders confirms none of ours remain" in out
    assert _ours(venue) == []


def test_cancel_all_falls_back_to_naming_the_orders_when_the_sweep_is_refused(clean, venue, capsys) -> None:
    _rest_orders(venue, [2])
    venue.call(venue.standin.faults.add_http_errors, 503, 5, 0.0, "/cancel-all")
    code, out, _ = _run(capsys, ["cancel-all", *_demo(venue)])
    assert code == 0, out
    assert "venue error: cancel: 503" in out and "cancelled 2 orders" in out
    assert _ours(venue) == []


def test_cancel_all_exits_1_naming_what_still_rests_when_the_venue_will_not_cancel(clean, venue, capsys) -> None:
    _rest_orders(venue, [2])
    venue.call(venue.standin.faults.add_http_errors, 503, 10, 0.0, "/cancel-all")
    venue.call(venue.standin.faults.add_http_errors, 503, 10, 0.0, "/orders")
    code, out, _ = _run(capsys, ["cancel-all", *_demo(venue)])
    assert code == 1
    assert "FAILED: GET /data/orders still shows 2 open orders of ours" in out
    assert len(_ours(venue)) == 2


def test_cancel_all_exits_1_when_it_cannot_confirm(clean, venue, capsys) -> None:
    _rest_orders(venue, [1])
    venue.call(venue.standin.faults.add_http_errors, 503, 10, 0.0, "/data/orders")
    code, out, _ = _run(capsys, ["cancel-all", *_demo(venue)])
    assert code == 1
    assert "cancelled 1 orders" in out and "FAILED: could not confirm" in out


def test_cancel_all_without_a_key_exits_2_naming_the_variable(clean, venue, capsys) -> None:
    code, out, err = _run(capsys, ["cancel-all", "--clob-url", venue.urls.clob_url])
    assert code == 2 and out == ""
    assert "POLYMM_PRIVATE_KEY" in err and "64 hex" in err and "--demo" in err


# ---------------------------------------------------------------- status
def test_status_shows_venue_clock_orders_per_market_balance_positions_and_the_journal(
    clean, venue, capsys, tmp_path: Path
) -> None:
    journal = pytest.importorskip("polymm.journal", reason="the journal module is not in this build")
    if not hasattr(journal, "read_status"):
        pytest.skip("polymm.journal.read_status is not written yet")
    m0, m1 = [m for m in venue.markets if not m.neg_risk and m.tick.text == "0.01"][:2]
    path = tmp_path / "journal.sqlite"
    j = journal.Journal(path)
    j.record_latch(True, "daily loss limit")
    j.record_params(m0.condition_id, {"spread": Decimal("0.03")})
    j.close()
    _rest_orders(venue, [2, 1])

    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(path)])
    assert code == 0, out
    assert f"venue      {venue.urls.clob_url}  reachable" in out and "CLOB version 2" in out
    assert "skew" in out and "in step with ours" in out
    assert DEMO_ADDRESS in out and "demo wallet" in out
    assert "balance    " in out and "pUSD" in out
    assert "3 open orders of ours in 2 markets" in out
    assert m0.condition_id in out and m0.question in out and m1.condition_id in out
    assert "2 bids, 0 asks: BUY Yes 5.00 @ 0.02, BUY Yes 5.00 @ 0.03" in out
    assert "positions  none (Data API)" in out
    assert f"journal    {path}: HALTED (daily loss limit)" in out and "spread=0.03" in out

    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(path), "--json"])
    doc = json.loads(out)
    assert code == 0
    assert doc["venue"]["reachable"] is True and abs(doc["venue"]["skew_s"]) < 2
    assert doc["wallet"] == DEMO_ADDRESS
    assert Decimal(doc["collateral"]) > 0
    assert {o["condition_id"]: (o["bids"], o["asks"]) for o in doc["orders"]} == \
        {m0.condition_id: (2, 0), m1.condition_id: (1, 0)}
    assert doc["journal"]["latched"] is True and doc["journal"]["params"] == {m0.condition_id: {"spread": "0.03"}}


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d")


def _earn(ex: EmbeddedExchange) -> str:
    """The demo wallet earns liquidity rewards today in one reward market: bids and asks (a NO bid) at the
    book's best, at the market's reward minimum size, then one sample of the stand-in's ledger (its own
    sampler is put off for a day). Returns the market's condition id."""
    from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions

    profile = next(p for p in ex.standin.profiles if p.has_rewards and p.market.tick.text == "0.01"
                   and not p.market.neg_risk)
    m = profile.market
    ex.call(ex.standin.rewards.set_sample_s, 86_400)
    book = ex.call(ex.matching.market_book, m.condition_id)
    bid, ask = ex.call(book.bids.best) / 10_000, ex.call(book.asks.best) / 10_000
    client = authed_client(_settings(ex))
    options = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)
    for token, price in ((m.yes_token, bid), (m.no_token, round(1 - ask, 2))):
        order = client.create_order(OrderArgsV2(token_id=token, price=price, size=float(m.reward_min_size),
                                                side="BUY"), options)
        assert client.post_order(order, OrderType.GTC, post_only=True)["success"]
    sample = ex.call(ex.standin.rewards.sample_now)
    assert sample.markets[m.condition_id].credits.get(DEMO_ADDRESS.lower(), 0) > 0
    return m.condition_id


def _capital_journal(path: Path, cid: str, question: str, earned: dict[str, Decimal]) -> None:
    """A journal holding one confirmed merge of 10 pairs in ``cid`` and today's rewards ``earned``."""
    import time

    from polymm.journal import CapitalRecord, Journal

    j = Journal(path)
    now = time.time()
    j.record_capital_op(CapitalRecord("cap-1", "merge", cid, question, Decimal(10), "eoa", "tx-1", "0x" + "1" * 64,
                                      "confirmed", 1, "", now - 5, now - 2))
    j.record_rewards(_today(), earned)
    j.close()


def test_status_shows_positions_per_market_capital_operations_and_todays_rewards_from_the_venue(
    clean, venue, capsys, tmp_path: Path
) -> None:
    m = next(m for m in venue.markets if not m.neg_risk and m.tick.text == "0.01")
    venue.call(venue.standin.accounts.set_shares, DEMO_ADDRESS, m.yes_token, Decimal("12.5"))
    venue.call(venue.standin.accounts.set_shares, DEMO_ADDRESS, m.no_token, Decimal(8))
    earning = _earn(venue)
    path = tmp_path / "journal.sqlite"
    _capital_journal(path, m.condition_id, m.question, {earning: Decimal("0.25")})

    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(path), "--json"])
    doc = json.loads(out)
    assert code == 0, doc["problems"]
    # one entry per market: YES and NO share counts, the pairs that merge, the venue's flags
    [pos] = [p for p in doc["positions"] if p["condition_id"] == m.condition_id]
    assert {"condition_id", "question", "yes", "no", "mergeable", "redeemable", "avg_price_yes", "avg_price_no",
            "cur_price", "cash_pnl"} <= set(pos)
    assert (pos["question"], pos["yes"], pos["no"], pos["mergeable"], pos["redeemable"]) == \
        (m.question, "12.5", "8", "8", False)
    assert Decimal(pos["avg_price_yes"]) > 0 and Decimal(pos["avg_price_no"]) > 0 and 0 < Decimal(pos["cur_price"]) < 1
    assert sorted(o["side"] for o in pos["outcomes"]) == ["NO", "YES"]
    assert len({p["condition_id"] for p in doc["positions"]}) == len(doc["positions"])
    # the journal's capital operations, newest first; amounts are plain decimals
    [op] = doc["capital_ops"]
    assert {k: op[k] for k in ("op", "condition_id", "amount", "status")} == \
        {"op": "merge", "condition_id": m.condition_id, "amount": "10", "status": "confirmed"}
    # today's rewards, as the venue reports them (not the journal's 0.25)
    earned = read_earned(authed_client(_settings(venue)), _today())
    rw = doc["rewards"]
    assert rw["source"] == "venue" and rw["date"] == _today()
    assert Decimal(rw["today"]) == earned.total > 0
    assert {c: Decimal(v) for c, v in rw["by_market"].items()} == earned.by_market
    assert earning in rw["by_market"]

    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(path)])
    assert code == 0, out
    shown = re.search(rf"rewards    today \({_today()} UTC\) (\d+\.\d{{2,6}}) pUSD from the venue, 1 market", out)
    assert shown and Decimal(shown[1]) == Decimal(rw["today"]), out  # to the cent, more only where it has more
    assert "positions  1 market (Data API)" in out
    held = (r"YES 12\.50 @ 0\.\d{2,4}, NO 8\.00 @ 0\.\d{2,4}, YES now 0\.\d{2,4}; 8\.00 pairs mergeable; "
            r"P&L [-+]\d+\.\d\d pUSD")
    assert re.search(held, out), out
    assert "capital    1 operation in the journal:" in out
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC  merge 10\.00 pairs  confirmed  ", out), out


def test_status_takes_todays_rewards_from_the_journal_when_the_venue_does_not_answer(
    clean, venue, capsys, tmp_path: Path
) -> None:
    m = next(m for m in venue.markets if not m.neg_risk)
    path = tmp_path / "journal.sqlite"
    _capital_journal(path, m.condition_id, m.question, {m.condition_id: Decimal("0.25"), "0x" + "ef" * 32:
                                                        Decimal("0.000001")})
    venue.call(venue.standin.faults.add_http_errors, 503, 1, 0.0, "/rewards/user")
    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(path), "--json"])
    rw = json.loads(out)["rewards"]
    assert code == 0
    assert rw["source"] == "journal" and rw["today"] == "0.250001"
    assert rw["by_market"] == {m.condition_id: "0.25", "0x" + "ef" * 32: "0.000001"}
    assert "did not answer" in rw["note"] and "503" in rw["note"]

    # neither: no journal there, and the venue refuses again
    venue.call(venue.standin.faults.add_http_errors, 503, 1, 0.0, "/rewards/user")
    code, out, _ = _run(capsys, ["status", *_demo(venue), "--journal", str(tmp_path / "none.sqlite"), "--json"])
    doc = json.loads(out)
    assert code == 1
    assert doc["rewards"]["today"] is None and doc["rewards"]["source"] is None
    assert doc["capital_ops"] == []
    assert any(p.startswith("rewards unavailable: ") for p in doc["problems"])


def test_status_groups_the_data_apis_rows_per_market_and_writes_plain_numbers() -> None:
    """Per-outcome rows → one entry per market (YES by outcomeIndex 0, whatever its label); only NO held:
    the YES price is 1 − NO's; the venue's redeemable flag; more capital operations than the text lists."""
    from polymm.journal import CapitalRecord
    from polymm.ops.status import JournalView, StatusReport, group_positions, render_status
    from polymm.ops.venue import Ping

    a, b = "0x" + "a1" * 32, "0x" + "b2" * 32
    rows = [
        {"conditionId": a, "title": "Lakers or Celtics?", "outcome": "Lakers", "outcomeIndex": 0, "size": 1e1,
         "avgPrice": 0.45, "curPrice": 0.5, "cashPnl": 0.5, "asset": "1", "redeemable": False},
        {"conditionId": b, "title": "Will it rain?", "outcome": "No", "outcomeIndex": 1, "size": 3.25,
         "avgPrice": 0.3, "curPrice": 0.2, "cashPnl": -0.325, "asset": "4", "redeemable": True},
        {"conditionId": a, "title": "Lakers or Celtics?", "outcome": "Celtics", "outcomeIndex": 1, "size": 4,
         "avgPrice": 0.52, "curPrice": 0.5, "cashPnl": -0.08, "asset": "2", "redeemable": False},
    ]
    first, second = group_positions(rows)
    assert (first.condition_id, first.yes, first.no, first.mergeable, first.redeemable) == \
        (a, Decimal(10), Decimal(4), Decimal(4), False)
    assert (first.avg_price_yes, first.avg_price_no, first.cur_price, first.cash_pnl) == \
        (Decimal("0.45"), Decimal("0.52"), Decimal("0.5"), Decimal("0.42"))
    assert (second.yes, second.no, second.mergeable, second.redeemable, second.avg_price_yes, second.cur_price) == \
        (Decimal(0), Decimal("3.25"), Decimal(0), True, None, Decimal("0.8"))
    ops = tuple(CapitalRecord(f"cap-{i}", "redeem", b, "Will it rain?", Decimal("1E+1"), "eoa", "", "", "failed", 4,
                              "relayer unreachable", 1_795_000_000.0 - i, 1_795_000_000.0 - i) for i in range(7))
    report = StatusReport(Ping("http://venue", False, error="ConnectError"), positions=(first, second),
                          journal=JournalView("j.sqlite", "present"), capital_ops=ops)
    doc = report.as_json()
    assert [p["yes"] for p in doc["positions"]] == ["10", "0"] and doc["positions"][1]["avg_price_yes"] is None
    assert {op["amount"] for op in doc["capital_ops"]} == {"10"} and len(doc["capital_ops"]) == 7
    text = render_status(report)
    assert "positions  2 markets (Data API)" in text
    assert "YES 10.00 @ 0.45, NO 4.00 @ 0.52, YES now 0.50; 4.00 pairs mergeable; P&L +0.42 pUSD  Lakers or Celtics?" \
        in text  # a price never as 0.5 beside 0.45
    assert "NO 3.25 @ 0.30, YES now 0.80; redeemable; P&L -0.32 pUSD  Will it rain?" in text  # to the cent, half even
    assert "capital    the journal's latest 5 operations, newest first:" in text
    assert text.count("  redeem for 10.00 pUSD  failed (relayer unreachable)  0xb2b2b2…b2b2  Will it rain?") == 5
    assert "E+" not in text and "E+" not in report.to_json()


def test_status_text_writes_every_number_plainly_whatever_was_stored() -> None:
    """An older journal's ``1E+1``, a balance with a 1e-6 residue, a float-noise order size: plain digits,
    amounts to the cent (more only where the value has them), prices to the tick."""
    from polymm.ops.status import JournalView, MarketOrders, StatusReport, _group_orders, render_status
    from polymm.ops.venue import Ping

    cid = "0x" + "c3" * 32
    orders = _group_orders([{"market": cid, "side": "BUY", "outcome": "Yes", "price": "0.3",
                             "original_size": 10.000000000000002, "size_matched": "0E-7"}], {})
    assert orders == (MarketOrders(cid, "", 1, 0, ("BUY Yes 10.00 @ 0.30",)),)
    journal = JournalView("j.sqlite", "present", positions={cid: Decimal("1E+1")},
                          params={cid: {"size": "1E+1", "spread": "0.030", "model": "pm4"}})
    report = StatusReport(Ping("http://venue", True, 3.0, 2, 1_795_000_000, 0.0), "0xW",
                          collateral=Decimal("1234.000001"), orders=orders, journal=journal)
    text = render_status(report)
    assert "balance    1,234.000001 pUSD" in text
    assert "0xc3c3c3…c3c3  10.00 YES" in text and "model=pm4 size=10 spread=0.03" in text
    assert "E+" not in text and "E-" not in text and "Decimal(" not in text


def test_status_without_credentials_or_journal_still_reports_the_venue(clean, venue, capsys, tmp_path: Path) -> None:
    u = venue.urls
    code, out, _ = _run(capsys, ["status", "--clob-url", u.clob_url, "--gamma-url", u.gamma_url,
                                 "--journal", str(tmp_path / "none.sqlite")])
    assert code == 0, out
    assert "reachable" in out
    assert "no credentials: POLYMM_PRIVATE_KEY" in out
    assert "no journal there yet" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_of_an_unreachable_venue_exits_1(clean, capsys) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, out, _ = _run(capsys, ["status", "--demo", "--clob-url", url])
    assert code == 1
    assert f"venue      {url}  UNREACHABLE: connection refused (nothing listens there" in out


# ---------------------------------------------------------------- markets
def test_markets_are_ranked_by_the_chosen_column_with_a_limit(clean, venue, capsys) -> None:
    gamma = httpx.get(f"{venue.urls.gamma_url}/markets", params={"limit": 100}, timeout=5).json()
    by_volume = [m["conditionId"] for m in sorted(gamma, key=lambda m: -float(m.get("volume24hr") or 0))]

    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--sort", "volume", "--limit", "3", "--json"])
    rows = json.loads(out)
    assert code == 0
    assert [r["condition_id"] for r in rows] == by_volume[:3]
    assert {"volume_24h", "spread", "reward_daily_rate", "score", "question"} <= set(rows[0])

    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--sort", "spread", "--json"])
    spreads = [r["spread"] for r in json.loads(out) if r["spread"] is not None]
    assert spreads == sorted(spreads) and len(spreads) >= 3

    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--limit", "2"])
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert all(col in lines[0] for col in ("condition_id", "volume 24h", "spread", "reward/day", "score"))


def test_markets_sort_reward_ranks_by_the_reward_per_day_column_it_shows(clean, venue, capsys) -> None:
    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--sort", "reward", "--json"])
    rows = json.loads(out)
    rates = [r["reward_daily_rate"] for r in rows]
    assert code == 0 and len(set(rates)) >= 2, rates  # the stand-in pays different pools: the order means something
    assert rates == sorted(rates, reverse=True)
    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--sort", "reward"])
    table = out.splitlines()[1:]
    shown = [line.split()[4] for line in table]  # #, condition_id, volume, spread, reward/day, ...
    assert [line.split()[1] for line in table] == [r["condition_id"] for r in rows]
    assert [Decimal(x.replace(",", "")) if x != "-" else Decimal(0) for x in shown] == \
        [Decimal(str(r)).quantize(Decimal("0.01")) for r in rates]
    assert all(x == "-" or re.fullmatch(r"[\d,]+\.\d{2,6}", x) for x in shown), shown


def test_markets_reward_order_is_the_pool_per_day_not_the_yield() -> None:
    """A big pool whose band the spread misses (yield 0) still ranks first: the column the table shows."""
    from polymm.domain.market import Market
    from polymm.domain.prices import Tick
    from polymm.ops.markets import by_reward_per_day, render_markets
    from polymm.venue.discovery import Candidate, rank

    def cand(cid: str, rate: float, spread: float, tick: str = "0.01") -> Candidate:
        m = Market(cid, "1", "2", "q", Tick.parse(tick), reward_min_size=Decimal(50), reward_max_spread=Decimal(4))
        return Candidate(m, "1", 1000.0, 0.0, spread, 0.5 - spread / 2, 0.5 + spread / 2, None, None, None, rate,
                         50.0, 4.0)

    wide_rich, tight_poor = cand("0xa", 500.0, 0.2), cand("0xb", 20.0, 0.02)
    assert rank([wide_rich, tight_poor], by="reward")[0] is tight_poor  # the yield's order differs
    assert by_reward_per_day([tight_poor, wide_rich]) == [wide_rich, tight_poor]
    text = render_markets([wide_rich, tight_poor, cand("0xc", 0.0, 0.1 + 0.2 - 0.25, "0.005")])
    assert [line.split()[3:5] for line in text.splitlines()[1:]] == [["0.20", "500.00"], ["0.02", "20.00"],
                                                                     ["0.050", "-"]]  # the tick's decimals


def test_operator_commands_with_demo_and_no_url_say_they_act_on_a_fresh_stand_in(clean, capsys) -> None:
    code, out, err = _run(capsys, ["markets", "--demo", "--limit", "1", "--json"])
    assert code == 0 and len(json.loads(out)) == 1  # stdout stays the answer
    assert err.strip() == ("polymm markets: no --clob-url: acting on a fresh embedded stand-in, not on a running "
                           "demo; give --clob-url http://127.0.0.1:PORT to reach one")


def test_cancel_all_with_demo_and_no_url_refuses_rather_than_confirm_nothing(clean, venue, capsys) -> None:
    _rest_orders(venue, [1])
    code, out, err = _run(capsys, ["cancel-all", "--demo"])
    assert code == 2 and out == ""
    assert err.startswith("polymm cancel-all: --clob-url: required with --demo (a fresh embedded stand-in holds "
                          "no orders of ours") and "--clob-url http://127.0.0.1:PORT" in err
    assert len(_ours(venue)) == 1  # nothing was touched
    code, out, _ = _run(capsys, ["cancel-all", *_demo(venue)])
    assert code == 0 and "cancelled 1 orders" in out


def test_an_unreachable_venue_is_one_line_naming_the_cause(clean, capsys) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    for command in (["cancel-all"], ["markets", "--gamma-url", f"{url}/gamma-api"], ["merge"]):
        code, out, err = _run(capsys, [*command, "--demo", "--clob-url", url])
        assert code == 2 and out == "", (command, out)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"polymm {command[0]}: {url}: connection refused (nothing listens there"), err


def test_markets_search_keeps_only_matching_questions(clean, venue, capsys) -> None:
    word = venue.markets[0].question.split()[-1].strip("?")
    code, out, _ = _run(capsys, ["markets", *_demo(venue), "--search", word, "--json"])
    rows = json.loads(out)
    assert code == 0 and rows
    assert all(word.lower() in (r["question"] + r["slug"]).lower() for r in rows)


@pytest.mark.parametrize(("argv", "words"), [
    (["markets", "--sort", "bogus"], ["--sort", "invalid choice", "'bogus'", "score", "volume", "spread", "reward"]),
    (["markets", "--limit", "0"], ["--limit", "from 1 to 1000", "'0'"]),
    (["markets", "--min-volume", "lots"], ["--min-volume", "0 or more"]),
    (["doctor", "--timeout", "-1"], ["--timeout", "at most 600"]),
])
def test_bad_options_exit_2_naming_the_option_and_the_allowed_values(clean, capsys, argv, words) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    for w in words:
        assert w in err


@pytest.mark.parametrize("command", ["cancel-all", "status", "markets", "doctor", "run"])
def test_every_command_has_help(clean, capsys, command: str) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert f"usage: polymm {command}" in out and "--demo" in out and "--clob-url" in out


# ---------------------------------------------------------------- doctor
def test_doctor_checks_everything_against_the_stand_in(clean, venue, capsys) -> None:
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 0, out
    lines = out.splitlines()
    names = [line.split()[1] for line in lines[:-1]]
    assert names == ["credentials", "venue", "version", "clock", "auth", "balance", "allowances", "gamma", "market"]
    assert all(line.startswith("OK") for line in lines[:-1]), out
    assert DEMO_ADDRESS in out and DEMO_PRIVATE_KEY[2:12] not in out
    assert "subscribed, a book frame" in out
    assert lines[-1] == "9 checks: no failures"


def test_doctor_fails_on_a_dead_market_socket_and_missing_live_credentials(clean, venue, capsys) -> None:
    code, out, _ = _run(capsys, ["doctor", *_demo(venue), "--ws-url", f"ws://127.0.0.1:{_closed_port()}",
                                 "--timeout", "2"])
    assert code == 1
    assert any(line.startswith("FAIL  market ws") for line in out.splitlines()), out
    assert out.splitlines()[-1] == "9 checks: FAIL in market ws"

    clean.setenv("POLYMM_MODE", "live")
    code, out, _ = _run(capsys, ["doctor", "--clob-url", venue.urls.clob_url, "--gamma-url", venue.urls.gamma_url,
                                 "--ws-url", venue.urls.ws_base])
    assert code == 1
    assert "FAIL  credentials  POLYMM_PRIVATE_KEY not set" in out


def test_doctor_shows_a_configured_key_by_its_address_only(clean, venue, capsys) -> None:
    key = "0x" + "5e" * 32
    clean.setenv("POLYMM_PRIVATE_KEY", key)
    u = venue.urls
    code, out, err = _run(capsys, ["doctor", "--clob-url", u.clob_url, "--gamma-url", u.gamma_url,
                                   "--ws-url", u.ws_base])
    assert code == 0, out
    assert f"wallet {Account.from_key(key).address}" in out
    assert "5e5e5e5e" not in out + err


SDK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
V2_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"


def _reshape_balance_reply(monkeypatch, reshape) -> list[dict]:
    """Serve ``reshape(the stand-in's real reply)`` from the SDK's balance call: the stand-in answers
    the documented shape only; real replies also come in the others (docs/protocol.md §12). Everything else
    (auth, the request, the venue's numbers) stays real. Returns the real replies seen."""
    from py_clob_client_v2.client import ClobClient

    real = ClobClient.get_balance_allowance
    seen: list[dict] = []

    def reply(self, params=None):
        r = real(self, params)
        seen.append(r)
        return reshape(r)

    monkeypatch.setattr(ClobClient, "get_balance_allowance", reply)
    return seen


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[1:2] == [name])


def test_doctor_names_the_neg_risk_adapter_it_found_approved(clean, venue, capsys) -> None:
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 0, out
    line = _line(out, "allowances")
    assert line.startswith("OK") and "CTF Exchange V2, NegRisk Exchange V2" in line
    assert f"the SDK's neg-risk adapter ({SDK_ADAPTER}) only" in line  # the stand-in approves the SDK's


def test_doctor_reads_a_decimal_string_balance_and_a_single_allowance(clean, venue, capsys) -> None:
    """``{"balance": "250.500000", "allowance": "<int>"}``: the balance is in units already and the
    one allowance applies to every spender, both adapters included."""
    seen = _reshape_balance_reply(clean, lambda r: {
        "balance": f"{Decimal(r['balance']) / 1_000_000:.6f}",
        "allowance": next(iter(r["allowances"].values())),
    })
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 0, out
    cash = Decimal(seen[0]["balance"]) / 1_000_000
    assert cash > 1 and _line(out, "balance") == f"OK    balance      {cash:,.2f} pUSD"  # not 1e6 times too small
    line = _line(out, "allowances")
    assert line.startswith("OK") and f"both neg-risk adapters ({SDK_ADAPTER}, {V2_ADAPTER})" in line
    assert "(one allowance for every spender)" in line


def test_doctor_accepts_either_neg_risk_adapter_and_fails_without_both(clean, venue, capsys) -> None:
    keep_v2 = [True]

    def reshape(r: dict) -> dict:  # the SDK's adapter dropped; the V2 one approved while keep_v2
        spenders = {k: v for k, v in r["allowances"].items() if k.lower() != SDK_ADAPTER.lower()}
        return {**r, "allowances": {**spenders, V2_ADAPTER: "1000000"} if keep_v2[0] else spenders}

    _reshape_balance_reply(clean, reshape)
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 0, out
    assert f"the V2 neg-risk adapter ({V2_ADAPTER}) only" in _line(out, "allowances")

    keep_v2[0] = False
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 1
    line = _line(out, "allowances")
    assert line.startswith("FAIL") and f"either neg-risk adapter ({SDK_ADAPTER} or {V2_ADAPTER})" in line
    assert "Exchange V2 (" not in line  # the exchanges are approved: only the adapters are named
    assert out.splitlines()[-1] == "9 checks: FAIL in allowances"


def test_doctor_fails_naming_the_field_of_an_unreadable_reply(clean, venue, capsys) -> None:
    _reshape_balance_reply(clean, lambda r: {"balance": "lots"})
    code, out, _ = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 1
    assert _line(out, "balance") == "FAIL  balance      balance reply unreadable: balance: not a number: 'lots'"
    assert "neither 'allowances' nor 'allowance'" in _line(out, "allowances")


def test_doctor_fails_on_an_env_file_holding_the_key_that_others_can_read(clean, venue, capsys) -> None:
    """As ssh refuses a readable key: a ``.env`` holding POLYMM_PRIVATE_KEY at 0644 FAILs (the key never
    shown); at 0600 the same check is OK."""
    import os

    key = "0x" + "6a" * 32
    env = Path(".env")  # the settings read .env from the working directory (the clean fixture's tmp dir)
    env.write_text(f"POLYMM_PRIVATE_KEY={key}\n")
    os.chmod(env, 0o644)
    code, out, err = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 1, out
    assert ("FAIL  key file     .env is readable by others (mode 0644) and holds POLYMM_PRIVATE_KEY: chmod 600 .env"
            in out.splitlines())
    assert out.splitlines()[-1].endswith("FAIL in key file")
    assert f"wallet {Account.from_key(key).address}" in out and "6a6a6a6a" not in out + err

    os.chmod(env, 0o600)
    code, out, err = _run(capsys, ["doctor", *_demo(venue)])
    assert code == 0, out
    assert "OK    key file     .env holds POLYMM_PRIVATE_KEY, readable by its owner only" in out.splitlines()
    assert "6a6a6a6a" not in out + err


# ---------------------------------------------------------------- log formats
def _record(logger: logging.Logger, fmt: str, secrets: list[str]) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("placed %d orders with key %s", 3, secrets[0], extra={"market": "0xabc", "note": secrets[1]})
        try:
            raise RuntimeError(f"boom {secrets[0]}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_log_lines_carry_ts_level_logger_msg_and_fields_and_never_a_secret() -> None:
    secrets = ["0x" + "ab" * 32, "passphrase-that-must-not-show"]
    logger = logging.getLogger("polymm.test.json")
    logger.propagate = False
    text = _record(logger, "json", secrets)
    first, second = (json.loads(line) for line in text.splitlines() if line.startswith("{"))
    assert set(first) >= {"ts", "level", "logger", "msg", "market", "note"}
    assert first["level"] == "INFO" and first["logger"] == "polymm.test.json" and first["market"] == "0xabc"
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert first["msg"] == "placed 3 orders with key <hidden>" and first["note"] == "<hidden>"
    assert second["level"] == "ERROR" and "RuntimeError" in second["exc"]
    assert not any(s in text or s[2:] in text for s in secrets)


def test_text_log_lines_append_fields_and_blank_secrets() -> None:
    secrets = ["0x" + "cd" * 32, "another-secret-value"]
    logger = logging.getLogger("polymm.test.text")
    logger.propagate = False
    text = _record(logger, "text", secrets)
    assert "INFO polymm.test.text: placed 3 orders with key <hidden> market=0xabc note=<hidden>" in text
    assert not any(s in text for s in secrets)


def test_the_settings_secrets_include_the_configured_and_the_demo_key(clean) -> None:
    s = load_settings(_env_file=None, private_key="0x" + "77" * 32, api_key="k" * 36, api_secret="s" * 44,
                      api_passphrase="p" * 20)
    found = settings_secrets(s)
    assert "77" * 32 in found and "0x" + "77" * 32 in found and "s" * 44 in found and "p" * 20 in found
    assert DEMO_PRIVATE_KEY in found


async def test_the_engines_fill_line_has_the_size_to_the_cent_and_the_price_on_the_tick(clean, wait_until) -> None:
    """``fill BUY 10.00 @ 0.30 …``: one formatter for the log too (never ``1E+1``, never ``0.3`` beside
    ``0.29``)."""
    from engines import hit_our_bid, ours, running_engine, yes_bids

    from polymm_standin.server import run_exchange

    async with run_exchange(port=0, flow=False, seed=31) as ex:
        m = next(m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01")
        cid = m.condition_id
        async with running_engine(ex, markets=[m]) as engine:
            await wait_until(lambda: engine.execution.ready()[0] and yes_bids(ours(ex, engine, cid)), timeout=30)
            bid = max(o.yes_price for o in yes_bids(ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            line = await wait_until(lambda: next((e.text for e in engine.store.get("events", ())
                                                  if e.text.startswith("fill ")), None), timeout=30)
    shown = re.fullmatch(r"fill BUY (\d+\.\d{2,6}) @ (0\.\d\d) (.+)", line)
    assert shown, line
    assert Decimal(shown[1]) == size and shown[2] == f"{Decimal(bid) / 10_000:.2f}" and shown[3] == m.short_question


# ---------------------------------------------------------------- start-up against a busy venue
def test_the_start_up_listing_rides_out_a_busy_venue_and_then_gives_up_naming_the_last_answer(clean, venue) -> None:
    import asyncio

    from polymm.venue.retry import VenueUnavailable

    venue.call(lambda: venue.standin.faults.add_http_errors(503, 2, 0.05, "/gamma-api/markets"))
    said: list[str] = []
    found = asyncio.run(initial_markets(_settings(venue, venue_retry_s=10.0), on_retry=said.append))
    assert len(found) == 6 and len(said) == 2 and all("listing markets: 503" in s for s in said)
    venue.call(lambda: venue.standin.faults.add_http_errors(429, 10_000, 0.05, "/gamma-api/markets"))
    with pytest.raises(VenueUnavailable, match=r"listing markets: the venue kept failing for 1 s .*last: 429"):
        asyncio.run(initial_markets(_settings(venue, venue_retry_s=1.0), on_retry=said.append))
    venue.call(lambda: venue.standin.faults.clear())


def test_the_log_file_gets_the_lines_with_secrets_masked_and_the_dashboard_only_the_file(clean, tmp_path) -> None:
    """``POLYMM_LOG_FILE``: the same lines as stderr (``polymm run``), or only there (``polymm-tui``: the
    screen is the dashboard's); rotated by the standard library's handler; a secret never reaches it."""
    import io
    from logging.handlers import RotatingFileHandler

    from polymm.ops.logs import LOG_FILE_KEPT, LOG_FILE_MAX_BYTES, setup_logging

    key = "0x" + "9c" * 32
    path = tmp_path / "logs" / "polymm.log"
    s = load_settings(_env_file=None, private_key=key, log_file=str(path), log_level="INFO")
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        stream = io.StringIO()
        setup_logging(s, stream)
        logging.getLogger("polymm.test.file").info("signed with %s", key)
        files = [h for h in root.handlers if isinstance(h, RotatingFileHandler)]
        assert len(files) == 1 and (files[0].maxBytes, files[0].backupCount) == (LOG_FILE_MAX_BYTES, LOG_FILE_KEPT)
        files[0].flush()
        text = path.read_text()
        assert "polymm.test.file: signed with <hidden>" in text and key not in text and key[2:] not in text
        assert "signed with <hidden>" in stream.getvalue()  # and on the stream, as before
        setup_logging(s, to_stream=False)  # the dashboard: the file only
        assert [type(h) for h in root.handlers] == [RotatingFileHandler]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved:
            root.addHandler(h)
