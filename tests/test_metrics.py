"""The Prometheus exporter, scraped over real HTTP while a demo engine trades against the stand-in."""

from __future__ import annotations

import math
from decimal import Decimal

import httpx
import pytest
from engines import Writes, demo_client, hit_our_bid, ours, running_engine
from prometheus_client.parser import text_string_to_metric_families

from polymm.config import ConfigError, load_settings
from polymm.domain.market import Market, Side
from polymm.domain.prices import Tick
from polymm.engine.engine import Engine
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.metrics import histogram_quantile, public_address, start_metrics_server
from polymm.venue.execution import OrderRequest
from polymm_standin.server import run_exchange

Samples = dict[tuple[str, frozenset], float]

#: what the exporter promises (sample names as scraped)
PROMISED = {
    "polymm_ws_connected", "polymm_ws_reconnects_total", "polymm_feed_resyncs_total", "polymm_feed_frames_total",
    "polymm_feed_frames_per_second", "polymm_orders_placed_total", "polymm_fills_total", "polymm_inventory_shares",
    "polymm_pnl_realized_dollars", "polymm_pnl_unrealized_dollars", "polymm_pnl_total_dollars",
    "polymm_pnl_today_dollars", "polymm_halted", "polymm_halt_info", "polymm_order_post_seconds_bucket",
    "polymm_order_post_seconds_count", "polymm_order_post_seconds_sum", "polymm_reconciling",
    "polymm_position_mismatches_total", "polymm_net_pnl",
}


class Scrape:
    """One parsed exposition: ``s["name", {"label": "v"}]`` is a sample's value (KeyError if absent)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: Samples = {}
        self.info: dict[str, dict[str, str]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                self.samples[s.name, frozenset(s.labels.items())] = s.value
                if s.name.endswith("_info"):  # an info metric (the text format calls it a gauge of 1)
                    assert s.value == 1
                    self.info[s.name] = s.labels

    def __getitem__(self, key: str | tuple[str, dict[str, str]]) -> float:
        name, labels = (key, {}) if isinstance(key, str) else key
        return self.samples[name, frozenset(labels.items())]

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def series(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for n, labels in self.samples if n == name]


async def scrape(url: str) -> Scrape:
    async with httpx.AsyncClient() as client:
        r = await client.get(url, timeout=5.0)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return Scrape(r.text)


def _address() -> str:
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    return Account.from_key(DEMO_PRIVATE_KEY).address


async def scrape_until(wait_until, url: str, cond, timeout: float = 15.0) -> Scrape:
    """The first scrape that satisfies ``cond``; on time-out the error shows the last one."""
    last: list[Scrape] = []

    async def satisfied() -> Scrape | None:
        last[:] = [await scrape(url)]
        return last[0] if cond(last[0]) else None

    return await wait_until(satisfied, timeout=timeout, step=0.1,
                            why=lambda: "metrics never satisfied the condition:\n" + (last[0].text if last else ""))


async def test_a_position_taken_from_the_venue_is_counted_and_shown_per_token(wait_until) -> None:
    async with run_exchange(port=0, seed=72, flow=False) as ex, running_engine(ex, count=1) as engine:
        server = await start_metrics_server(engine, 0)
        try:
            cid = next(iter(engine.markets))
            market = engine.markets[cid]
            await wait_until(lambda: engine.execution.ready()[0])
            # the venue says we hold 3 NO: taken from it and counted (the reconciliation compares balances
            # every 30 s: ask for it now)
            ex.standin.accounts.set_shares(_address(), market.no_token, Decimal(3))
            engine.execution._positions_due = 0.0
            engine.execution._wake.set()
            s = await scrape_until(wait_until, server.url, lambda s: s["polymm_position_mismatches_total"] >= 1)
            assert s["polymm_inventory_shares", {"market": cid, "outcome": "NO", "token": market.no_token}] == 3
            assert s["polymm_position_shares", {"market": cid}] == -3
        finally:
            await server.stop()


async def test_a_demo_engine_exports_feed_orders_fills_inventory_pnl_risk_and_latency(wait_until) -> None:
    async with run_exchange(port=0, seed=71, flow=False) as ex, running_engine(
        ex, count=1, default_size=Decimal(10)
    ) as engine:
        server = await start_metrics_server(engine, 0)  # before anything is quoted: every order is counted
        try:
            assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/metrics"
            cid = next(iter(engine.markets))
            market = engine.markets[cid]
            await wait_until(lambda: any(o.yes_side is Side.BUY for o in ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)

            market_0 = {"channel": "market", "shard": "0"}
            user_0 = {"channel": "user", "shard": "0"}
            s = await scrape_until(wait_until, server.url, lambda s: s["polymm_ws_connected", market_0] == 1)
            assert PROMISED - s.names() == set()
            assert s["polymm_ws_connected", user_0] == 1
            assert s["polymm_feed_shard_status", {"shard": "0", "status": "RUNNING"}] == 1
            assert s["polymm_feed_shard_status", {"shard": "0", "status": "DEGRADED"}] == 0
            assert s["polymm_feed_frames_total", {"shard": "0"}] > 0
            assert s["polymm_feed_frames_per_second"] > 0  # our orders and the fill moved the book meanwhile
            assert s["polymm_feed_resyncs_total"] >= 1  # the start-up REST snapshot
            assert s["polymm_ws_reconnects_total", market_0] == 0
            resting = len(ours(ex, engine))
            assert s["polymm_orders_placed_total"] >= resting + 1 >= 2  # the bid that was hit, and what rests
            assert s["polymm_fills_total", {"side": "buy"}] == 1 and s["polymm_fills_total", {"side": "sell"}] == 0
            assert s["polymm_filled_shares_total", {"side": "buy"}] == float(size)
            assert s["polymm_fills_reversed_total"] == 0
            assert s["polymm_fills_per_minute"] == 1  # the one fill, just now
            sent = s["polymm_quotes_sent_total", {"side": "buy"}], s["polymm_quotes_sent_total", {"side": "sell"}]
            assert sent[0] >= 1 and sent[1] >= 1 and sum(sent) >= resting + 1  # both sides quoted, the hit bid too
            assert s["polymm_parity_gaps_total", {"action": "taken"}] == 0
            qty = engine.portfolio.position(cid).qty
            assert s["polymm_inventory_shares", {"market": cid, "outcome": "YES", "token": market.yes_token}] \
                == float(qty) == float(size)
            assert s["polymm_inventory_shares", {"market": cid, "outcome": "NO", "token": market.no_token}] == 0
            assert s["polymm_position_shares", {"market": cid}] == float(qty)
            assert s["polymm_order_post_seconds_count"] >= 1
            assert 0 < s["polymm_order_post_seconds_sum"] < 5 * s["polymm_order_post_seconds_count"]
            assert s["polymm_halted"] == 0 and s.info["polymm_halt_info"] == {"reason": ""}
            assert s.info["polymm_info"] == {"mode": "DEMO", "execution": "live",
                                             "venue": public_address(ex.clob_url)}
            assert s["polymm_heartbeat_age_seconds"] < 10
            assert s["polymm_reconciling"] == 0 and s["polymm_position_mismatches_total"] == 0


            # drop every socket: the reconnects are counted and both channels come back
            await ex.standin.drop_all_websockets()
            both = (market_0, user_0)
            await scrape_until(wait_until, server.url, lambda s: all(
                s["polymm_ws_reconnects_total", ch] >= 1 and s["polymm_ws_connected", ch] == 1 for ch in both
            ))

            await engine.kill("metrics test")
            s = await scrape(server.url)
            assert s["polymm_halted"] == 1 and s.info["polymm_halt_info"] == {"reason": "metrics test"}
            assert s["polymm_open_orders"] == 0
            # once halted nothing moves (no flow, no quotes): the store's P&L and the scrape agree exactly
            # strategy passes and risk ticks publish the quiet state
            steps, ticks = Writes(engine.store, f"book/{cid}"), Writes(engine.store, "risk")
            await wait_until(lambda: steps() >= 2 and ticks() >= 2)
            s = await scrape(server.url)
            pf, risk = engine.store.get("portfolio"), engine.store.get("risk")
            assert s["polymm_pnl_realized_dollars"] == float(pf.realized_pnl) == 0  # nothing closed yet
            assert s["polymm_pnl_unrealized_dollars"] == float(pf.unrealized_pnl)
            assert s["polymm_fees_dollars"] == float(pf.fees)
            assert s["polymm_pnl_total_dollars"] == pytest.approx(
                s["polymm_pnl_realized_dollars"] + s["polymm_pnl_unrealized_dollars"] - s["polymm_fees_dollars"])
            assert s["polymm_pnl_today_dollars"] == float(risk.daily_pnl)
            assert s["polymm_daily_loss_limit_dollars"] == float(risk.daily_loss_limit) > 0

            creds = (await demo_client(ex)).creds  # the wallet's L2 credentials, as the engine derived them
            for secret in (DEMO_PRIVATE_KEY, DEMO_PRIVATE_KEY[2:], creds.api_key, creds.api_secret,
                           creds.api_passphrase):
                assert secret not in s.text
        finally:
            await server.stop()
        ex_ = engine.execution
        assert "place_many" not in vars(ex_) and ex_.on_post_latency is None
        assert ex_.on_fill == engine._on_fill  # unhooked: the engine is as it was
        with pytest.raises(httpx.ConnectError):
            await scrape(server.url)


async def test_a_paper_engine_exports_without_user_channel_or_latency_and_two_exporters_count_alike() -> None:
    engine = Engine(load_settings(_env_file=None), [], mode="PAPER")
    first = await start_metrics_server(engine, 0)
    try:
        second = await start_metrics_server(engine, 0)
        with pytest.raises(ConfigError, match=f"metrics_port: cannot listen on 127.0.0.1:{first.port}"):
            await start_metrics_server(engine, first.port)  # taken: refused, and it unhooked itself
        m = Market("0x" + "ab" * 32, "101", "102", "Will it?", Tick.parse("0.01"))
        reqs = [OrderRequest(Side.BUY, 4_500, Decimal(5)), OrderRequest(Side.SELL, 5_500, Decimal(5))]
        assert len(await engine.execution.place_many(m, None, reqs)) == 2
        assert (await scrape(second.url))["polymm_orders_placed_total"] == 2
        await second.stop()
        assert len(await engine.execution.place_many(m, None, reqs[:1])) == 1  # only the first counts this one
        s = await scrape(first.url)
        assert s["polymm_orders_placed_total"] == 3
        assert s["polymm_open_orders"] == 3
        assert s.series("polymm_ws_connected") == []  # no shards, and paper has no user channel
        assert s["polymm_order_post_seconds_count"] == 0  # no venue round trip to time
        assert s["polymm_fills_total", {"side": "buy"}] == 0
        assert s["polymm_halted"] == 0
        assert s.info["polymm_info"]["execution"] == "paper"
    finally:
        await first.stop()
        await engine.public.aclose()
    assert "place_many" not in vars(engine.execution)
    assert engine.execution.on_fill == engine._on_fill


def reward_market(ex) -> Market:
    """The stand-alone reward market on the 0.01 grid with the smallest reward minimum size (quotes of that
    size, 2 cents either side of the mid, score: its max spread is 3.5 or 4.5 cents)."""
    market = min((p.market for p in ex.standin.profiles if p.has_rewards and p.market.tick.text == "0.01"
                  and not p.market.neg_risk), key=lambda m: m.reward_min_size)
    assert market.reward_min_size <= 100 and market.reward_max_spread > 2  # within the default position limit
    return market


async def test_rewards_earned_today_and_net_pnl_are_exported_and_a_failed_reading_says_so(wait_until) -> None:
    """The engine's own quotes score (both sides, at the reward minimum size, inside the max spread): the
    stand-in pays the demo wallet for a sample, ``rewards_once`` reads it, and the scrape shows it per
    market and as the venue's total, with net P&L = trading + rewards − fees. A reading that fails
    keeps the last figures and sets ``polymm_rewards_up`` to 0."""
    async with run_exchange(port=0, seed=7, flow=False) as ex:
        await ex.standin.rewards.stop()  # only this test's samples
        market = reward_market(ex)
        async with running_engine(ex, markets=[market], default_size=market.reward_min_size) as engine:
            server = await start_metrics_server(engine, 0)
            try:
                cid = market.condition_id
                await wait_until(lambda: engine.store.get("rewards") is not None, timeout=20)  # the loop's first
                await wait_until(lambda: {o.yes_side for o in ours(ex, engine, cid)} == {Side.BUY, Side.SELL},
                                 timeout=20)
                sample = ex.standin.rewards.sample_now()
                assert sample.markets[cid].credits.get(_address().lower(), 0) > 0  # our quotes scored
                state = await engine.rewards_once()
                assert state.known and not state.error and state.today > 0 and state.by_market[cid] > 0
                s = await scrape(server.url)
                assert s["polymm_rewards_up"] == 1
                assert s["polymm_rewards_earned_today", {"market": "total"}] == float(state.today)
                assert s["polymm_rewards_earned_today", {"market": cid}] == float(state.by_market[cid])
                assert s["polymm_rewards_read_timestamp_seconds"] == state.read_at
                assert s["polymm_net_pnl"] == pytest.approx(
                    s["polymm_pnl_total_dollars"] + s["polymm_rewards_earned_today", {"market": "total"}])
                assert s["polymm_net_pnl"] != s["polymm_pnl_total_dollars"]

                ex.standin.faults.add_http_errors(503, 1, 0.0, "/rewards/user")
                failed = await engine.rewards_once()
                assert failed.error and failed.today == state.today  # the last good figure is kept
                s = await scrape(server.url)
                assert s["polymm_rewards_up"] == 0
                assert s["polymm_rewards_earned_today", {"market": "total"}] == float(state.today)
                assert s.series("polymm_capital_ops_total") == []  # no capital manager without auto merge/redeem
            finally:
                await server.stop()


async def test_capital_operations_are_counted_by_op_and_status_once_each_and_in_flight(wait_until) -> None:
    """The engine's capital manager (POLYMM_AUTO_MERGE): an operation under way shows in flight; one that
    ended is counted by op and status, once however often it is scraped. Paper earns no rewards: no
    rewards series, and net P&L is the trading total."""
    import asyncio

    from polymm.engine.capital import CapitalManager, Holding, plan_merges
    from polymm.venue.capital import Polled, Submitted

    release = asyncio.Event()
    slow, bad = (Market(f"0x{i:064x}", f"{i}1", f"{i}2", f"market {i}", Tick.parse("0.01")) for i in (1, 2))

    class Path:
        """Confirms ``slow``'s merge once released, fails ``bad``'s at once."""

        name, batch_limit, metered = "eoa", 1, False

        def submit(self, calls):
            return Submitted(calls[0][1].condition_id, "")

        def poll(self, sub):
            if sub.tx_id == bad.condition_id:
                return Polled("failed", "STATE_FAILED: reverted")
            return Polled("confirmed", "") if release.is_set() else Polled("pending", "")

    async def run(fn, *args):
        return fn(*args)

    engine = Engine(load_settings(_env_file=None, auto_merge=True), [], mode="PAPER")
    assert engine.capital is not None
    engine.capital = CapitalManager(Path(), poll_s=0.01, backoff_s=60, run=run)
    server = await start_metrics_server(engine, 0)
    try:
        s = await scrape(server.url)
        for op in ("merge", "redeem", "split"):
            for status in ("confirmed", "failed", "deferred"):
                assert s["polymm_capital_ops_total", {"op": op, "status": status}] == 0
            assert s["polymm_capital_ops_in_flight", {"op": op}] == 0
        assert s.series("polymm_rewards_earned_today") == [] and s.series("polymm_rewards_up") == []
        assert s["polymm_net_pnl"] == s["polymm_pnl_total_dollars"]

        ops = plan_merges([Holding(slow, Decimal(5), Decimal(7)), Holding(bad, Decimal(3), Decimal(3))], Decimal(1),
                          "eoa")
        task = asyncio.create_task(engine.capital.execute(ops))
        cap = engine.capital  # the failed one ends at once; the other waits for its release
        await wait_until(lambda: cap.failed == 1 and slow.condition_id in cap.in_flight)
        s = await scrape(server.url)
        assert s["polymm_capital_ops_total", {"op": "merge", "status": "failed"}] == 1
        assert s["polymm_capital_ops_total", {"op": "merge", "status": "confirmed"}] == 0
        assert s["polymm_capital_ops_in_flight", {"op": "merge"}] == 1
        release.set()
        done = await asyncio.wait_for(task, 10)
        assert sorted(op.status for op in done) == ["confirmed", "failed"]
        for _ in range(2):  # counted once, however often scraped
            s = await scrape(server.url)
            assert s["polymm_capital_ops_total", {"op": "merge", "status": "confirmed"}] == 1
            assert s["polymm_capital_ops_total", {"op": "merge", "status": "failed"}] == 1
            assert s["polymm_capital_ops_in_flight", {"op": "merge"}] == 0
    finally:
        await server.stop()
        await engine.public.aclose()


def test_the_venue_address_drops_user_info_and_query() -> None:
    assert public_address("https://user:s3cret@clob.example.com:8443/api?key=abc#x") == \
        "https://clob.example.com:8443/api"
    assert public_address("http://[::1]:9000") == "http://[::1]:9000"
    assert public_address("not a url") == ""


async def test_the_strategy_steps_run_are_counted() -> None:
    """``polymm_strategy_steps_total``: the steps run (each a market's signals, model, risk check and plan)
    — the load the strategy puts on the event loop, beside the frames that caused it."""
    from test_scale_engine import paper_engine, show_book

    engine = paper_engine(1)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    server = await start_metrics_server(engine, 0)
    try:
        assert (await scrape(server.url))["polymm_strategy_steps_total"] == 0
        await engine.step(m.condition_id)
        await engine.step(m.condition_id)
        assert (await scrape(server.url))["polymm_strategy_steps_total"] == 2
    finally:
        await server.stop()
        await engine.stop(cancel_orders=False)
        await engine.public.aclose()


async def test_tick_to_trade_quantiles_read_from_the_histogram_are_within_a_millisecond() -> None:
    """``polymm_tick_to_trade_seconds`` is read with ``histogram_quantile`` (a dashboard, scale_bench's
    headless figure): at 300 markets most posts leave in 1–2 ms and a few percent in 5–8 ms (a frame that
    waited for its market's orders in flight). With one bucket from 5 to 10 ms, a p99 of 6.8 ms read as
    9.3; the buckets keep every quantile up to 10 ms within 1 ms of the samples'."""
    import random

    rng = random.Random(16)
    samples = sorted([rng.lognormvariate(math.log(0.0013), 0.4) for _ in range(930)]
                     + [rng.uniform(0.005, 0.008) for _ in range(70)])
    engine = Engine(load_settings(_env_file=None), [], mode="PAPER")
    server = await start_metrics_server(engine, 0)
    try:
        for seconds in samples:  # as the live execution reports each post (``LiveExecution._told_left``)
            engine.execution.on_tick_to_trade(seconds)
        s = await scrape(server.url)
    finally:
        await server.stop()
        await engine.public.aclose()
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in s.samples.items()
                     if name == "polymm_tick_to_trade_seconds_bucket")
    assert buckets[-1] == (math.inf, len(samples))
    for q in (0.5, 0.9, 0.99):
        exact = samples[int(q * len(samples))]
        assert abs(histogram_quantile(q, buckets) - exact) <= 0.001, (q, exact, buckets)


async def test_a_scrape_reads_the_engine_on_the_loop_and_makes_its_text_off_it(monkeypatch) -> None:
    """The engine is read on its event loop (one instant of it); the text (~170 kB at 300 markets) is
    made and gzipped on a worker thread — made on the loop, one scrape held it ~9 ms. ``Accept-Encoding``
    and ``name[]`` are honoured as ``prometheus_client``'s own handler honours them."""
    import threading

    from test_scale_engine import paper_engine, show_book

    import polymm.metrics as metrics

    engine = paper_engine(1)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    read_on: list[int] = []
    made_on: list[int] = []
    collect, choose = metrics.EngineCollector.collect, metrics.choose_encoder

    def reading(self):
        read_on.append(threading.get_ident())
        return collect(self)

    def making(accept):
        made_on.append(threading.get_ident())
        return choose(accept)

    monkeypatch.setattr(metrics.EngineCollector, "collect", reading)
    monkeypatch.setattr(metrics, "choose_encoder", making)
    server = await start_metrics_server(engine, 0)
    try:
        async with httpx.AsyncClient() as client:
            plain = await client.get(server.url, headers={"Accept-Encoding": "identity"})
            zipped = await client.get(server.url, headers={"Accept-Encoding": "gzip"})
            only = await client.get(server.url, params={"name[]": "polymm_strategy_steps_total"})
        assert read_on and set(read_on) == {threading.get_ident()}  # the loop's thread, every time
        assert len(made_on) == 3 and threading.get_ident() not in made_on
        assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
        assert int(zipped.headers["content-length"]) < len(zipped.content)  # sent compressed
        assert Scrape(zipped.text).names() == Scrape(plain.text).names() >= {"polymm_strategy_steps_total",
                                                                            "polymm_feed_frames_total"}
        assert Scrape(only.text).names() == {"polymm_strategy_steps_total"}
    finally:
        await server.stop()
        await engine.stop(cancel_orders=False)
        await engine.public.aclose()
