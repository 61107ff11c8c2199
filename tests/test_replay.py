"""Replay and backtest: recordings carry their markets, the replay runs the engine's pieces in recorded
time and is deterministic, the backtest sweeps scenarios and grids, the report and its chart."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from backtest_cli import cli, run_cli

from polymm.backtest.commands import PARAMS
from polymm.backtest.measures import Curve, Markouts
from polymm.backtest.recording import record_synthetic
from polymm.backtest.replay import Replay, ReplayConfig, replay
from polymm.backtest.report import BLOCKS, sparkline, to_json
from polymm.backtest.scenarios import SCENARIOS, scenario
from polymm.backtest.simulation import Simulation, bench_params, simulate
from polymm.domain.market import Market, Side
from polymm.domain.params import MarketParams
from polymm.domain.prices import Tick
from polymm.domain.risk import RiskLimits
from polymm.venue.recorder import FrameReader, FrameWriter, MarketsLine, market_from_json, market_to_json, record
from polymm_standin.server import run_exchange
from polymm_standin.sim.catalog import market_profiles
from polymm_standin.sim.flow import FairValue, SyntheticFlow
from polymm_standin.sim.matching import MatchingEngine

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "replay"
T0 = 1_788_220_800 * 10**9  # 2026-09-01T00:00:00Z in ns
S = 10**9
COND = "0x" + "ab" * 32
YES, NO = "1001", "1002"
MARKET = Market(COND, YES, NO, "Will the replay work?", Tick.parse("0.01"), Decimal(5), neg_risk=True,
                neg_risk_market_id="0x" + "cd" * 32, reward_min_size=Decimal(50), reward_max_spread=Decimal("3.5"),
                end_date="2027-03-01T12:00:00Z")


def _fixed(**kw: object) -> ReplayConfig:
    """The engine's settings with the ``fixed`` model: these tests pin the fill mechanics on known
    quotes (fixed: 2 cents either side of the mid), whatever the default model is."""
    return ReplayConfig(base=MarketParams(), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- helpers


def _book(t_ms: int, bids: dict[str, str], asks: dict[str, str], tick: str = "0.01") -> str:
    return orjson.dumps({
        "event_type": "book", "market": COND, "asset_id": YES, "timestamp": str(t_ms), "hash": "h",
        "bids": [{"price": p, "size": s} for p, s in bids.items()],
        "asks": [{"price": p, "size": s} for p, s in asks.items()], "tick_size": tick,
    }).decode()


def _print(t_ms: int, price: str, size: str, side: str) -> str:
    return orjson.dumps({"event_type": "last_trade_price", "market": COND, "asset_id": YES, "price": price,
                         "size": size, "side": side, "timestamp": str(t_ms)}).decode()


def _level(t_ms: int, price: str, size: str, side: str) -> str:
    return orjson.dumps({"event_type": "price_change", "market": COND, "timestamp": str(t_ms),
                         "price_changes": [{"asset_id": YES, "price": price, "size": size, "side": side}]}).decode()


def _record(directory: Path, frames: list[tuple[int, str]], markets: list[Market] | None = None) -> Path:
    w = FrameWriter(directory)
    if markets is None:
        markets = [MARKET]
    if markets:
        w.add_markets(markets, frames[0][0])
    for t, raw in frames:
        w.write(raw, t)
    w.close()
    return directory




# ------------------------------------------------------------------------------------------- recorder format


def test_market_definitions_round_trip_and_errors_name_the_field() -> None:
    assert market_from_json(market_to_json(MARKET)) == MARKET
    assert market_from_json(orjson.loads(orjson.dumps(market_to_json(MARKET)))) == MARKET
    doc = market_to_json(MARKET)
    with pytest.raises(ValueError, match=r"tick: .*allowed: .*0\.01"):
        market_from_json({**doc, "tick": "0.02"})
    with pytest.raises(ValueError, match="missing yes_token"):
        market_from_json({**doc, "yes_token": ""})
    with pytest.raises(ValueError, match="min_order_size must be a decimal number >= 0"):
        market_from_json({**doc, "min_order_size": "-1"})
    with pytest.raises(ValueError, match="neg_risk must be true or false"):
        market_from_json({**doc, "neg_risk": "yes"})


def test_every_rotated_file_starts_with_the_market_definitions(tmp_path: Path) -> None:
    other = Market("0x" + "ee" * 32, "2001", "2002", "Another?", Tick.parse("0.001"))
    w = FrameWriter(tmp_path, rotate_bytes=1500)
    w.add_markets([MARKET], T0)
    frames = [(T0 + i * S, _level(i, "0.40", str(10 + i), "BUY")) for i in range(40)]
    for t, raw in frames[:20]:
        w.write(raw, t)
    w.add_markets([MARKET, other], T0 + 20 * S)  # only the new one is written into the open file
    for t, raw in frames[20:]:
        w.write(raw, t)
    w.close()
    assert len(w.files) >= 4
    heads = []
    for f in w.files:
        with gzip.open(f, "rb") as fh:
            heads.append(orjson.loads(fh.readline()))
    assert all("markets" in h for h in heads)
    assert [m["condition_id"] for m in heads[0]["markets"]] == [COND]
    assert [m["condition_id"] for m in heads[-1]["markets"]] == [COND, other.condition_id]
    # every file alone knows its markets; iteration gives the frames only, none counted bad
    for f in w.files:
        r = FrameReader(f)
        list(r)
        assert COND in r.markets and r.bad_lines == 0
    r = FrameReader(tmp_path)
    assert list(r) == frames
    assert (r.frames, r.bad_lines) == (40, 0)
    assert r.markets == {COND: MARKET, other.condition_id: other}
    kinds = [type(item).__name__ for _, item in FrameReader(tmp_path).records()]
    assert kinds.count("MarketsLine") == len(w.files) + 1  # one head per file, plus the added market


def test_replay_reads_old_recordings_with_a_markets_file(tmp_path: Path, capsys, clean) -> None:
    rec = _record(tmp_path / "old", [(T0, _book(0, {"0.46": "100"}, {"0.54": "100"})),
                                     (T0 + S, _print(1000, "0.40", "50", "SELL"))], markets=[])
    assert FrameReader(rec).markets == {}
    code, out, err = run_cli(capsys, "replay", str(rec))
    assert code == 2 and "--markets-file" in err and out == ""
    defs = tmp_path / "markets.json"
    defs.write_text(json.dumps([market_to_json(MARKET)]))
    code, out, err = run_cli(capsys, "replay", str(rec), "--markets-file", str(defs), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [m["condition_id"] for m in doc["markets"]] == [COND]
    assert doc["fills"] == 1  # the print through our bid
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**market_to_json(MARKET), "tick": "0.3"}]))
    code, _, err = run_cli(capsys, "replay", str(rec), "--markets-file", str(bad))
    assert code == 2 and "--markets-file" in err and "tick" in err and "allowed" in err


# ------------------------------------------------------------------------------------------- replay mechanics


def test_fills_come_from_recorded_prints_through_the_queue_at_recorded_times(tmp_path: Path) -> None:
    frames = [
        (T0, _book(0, {"0.48": "100", "0.40": "50"}, {"0.56": "100"})),  # mid 0.52: fixed quotes 0.50 / 0.54
        (T0 + 2 * S, _print(2000, "0.50", "40", "SELL")),  # at our bid, nobody ahead of us: fills our 10
        (T0 + 3 * S, _print(3000, "0.57", "4", "BUY")),  # through our ask: fills 4 of 10
        (T0 + 4 * S, _print(4000, "0.53", "100", "BUY")),  # not up to our ask: nothing
    ]
    rp = Replay(_fixed(), source="t")
    report = rp.run(FrameReader(_record(tmp_path, frames)))
    pos = rp.portfolio.position(COND)
    assert report.fills == pos.fills == 2
    assert pos.qty == Decimal(10) - Decimal(4)
    assert pos.realized == (Decimal("0.54") - Decimal("0.50")) * 4
    assert report.realized == pytest.approx(0.16)
    assert report.volume == 14 and report.notional == pytest.approx(10 * 0.50 + 4 * 0.54)
    # every resting order was placed at a recorded instant (the simulated clock, not the wall clock)
    placed = [o.placed_at for o in rp.venue.open_orders()]
    assert placed and all(T0 / S <= p <= T0 / S + 4 for p in placed)
    assert report.sim_seconds == 4.0
    # the engine sees its own orders in the book: after the bid filled, the mid with our ask 0.54 in it
    # is 0.51, so the new bid is 0.49 (the ask stays: within a tick of 0.53); the mark is that book's mid
    assert sorted((o.side, o.price, o.remaining) for o in rp.venue.open_orders()) == [
        (Side.BUY, 4900, Decimal(10)), (Side.SELL, 5400, Decimal(6))]
    [m] = report.markets
    assert m.position == 6 and m.fills == 2 and m.mark == pytest.approx(0.515)


def test_queue_ahead_is_eaten_before_we_fill(tmp_path: Path) -> None:
    frames = [
        (T0, _book(0, {"0.48": "100"}, {"0.52": "100"})),  # mid 0.50: our bid joins 0.48 behind 100
        (T0 + S, _print(1000, "0.48", "60", "SELL")),  # eats 60 of the 100 ahead
        (T0 + 2 * S, _print(2000, "0.48", "30", "SELL")),  # 30 more: still ahead of us
        (T0 + 3 * S, _print(3000, "0.48", "17", "SELL")),  # 10 ahead, then 7 to us
    ]
    rp = Replay(_fixed())
    rp.run(FrameReader(_record(tmp_path, frames)))
    fills = rp.portfolio.position(COND)
    assert fills.qty == 7 and fills.fills == 1


def test_the_frames_of_one_instant_are_all_applied_before_the_step(tmp_path: Path) -> None:
    """A print and the book it changed arrive at one instant (the venue sends them together, the live feed
    consumes them in one go): the step after the fill sees the book after the trade, not the one before."""
    frames = [
        (T0, _book(0, {"0.48": "100"}, {"0.56": "100"})),  # mid 0.52: fixed quotes 0.50 / 0.54
        (T0 + 2 * S, _print(2000, "0.57", "150", "BUY")),  # a sweep through our ask: fills our 10
        (T0 + 2 * S, _book(2000, {"0.60": "100"}, {"0.64": "100"})),  # the book it left, the same instant
        (T0 + 3 * S, _level(3000, "0.10", "5", "BUY")),
    ]
    path = _record(tmp_path, frames)
    rp = Replay(ReplayConfig(), {"model": "fixed"})
    report = rp.run(FrameReader(path))
    assert report.fills == 1 and dict(report.counters)["post_only_rejects"] == 0
    assert min(o.price for o in rp.venue.open_orders() if o.side is Side.SELL) > 6000  # requoted on the new book
    # stepping between the frames, on the book before the trade, quotes into the new book: refused
    rp = Replay(ReplayConfig(), {"model": "fixed"})
    rp.batch_instants = False
    report = rp.run(FrameReader(path))
    assert report.fills == 1 and dict(report.counters)["post_only_rejects"] >= 1


def test_book_changes_coalesce_into_one_step_per_gap(tmp_path: Path) -> None:
    frames = [(T0, _book(0, {"0.48": "100"}, {"0.52": "100"}))]
    frames += [(T0 + k * 5_000_000, _level(5 * k, "0.40", str(k), "BUY")) for k in range(1, 19)]  # to +90 ms
    path = _record(tmp_path, frames)
    coalesced = Replay(ReplayConfig(min_step_gap_s=0.05)).run(FrameReader(path))
    every = Replay(ReplayConfig(min_step_gap_s=0.0)).run(FrameReader(path))
    assert coalesced.steps == 2  # at 0 ms and at 50 ms; the changes after 50 ms wait for 100 ms
    assert every.steps == 19


def test_a_tick_change_pulls_quotes_until_a_snapshot_on_the_new_grid(tmp_path: Path) -> None:
    tick_change = orjson.dumps({"event_type": "tick_size_change", "market": COND, "asset_id": YES,
                                "old_tick_size": "0.01", "new_tick_size": "0.001", "timestamp": "1000"}).decode()
    base = [(T0, _book(0, {"0.46": "100"}, {"0.54": "100"})), (T0 + S, tick_change)]
    path = _record(tmp_path / "a", base)
    rp = Replay(_fixed())
    rp.run(FrameReader(path))
    assert rp.venue.open_orders() == []  # untrusted: pulled
    path = _record(tmp_path / "b", [*base, (T0 + 2 * S, _book(2000, {"0.451": "100"}, {"0.552": "100"}, "0.001")),
                                    (T0 + 3 * S, _level(3000, "0.1", "5", "BUY"))])  # later: our orders landed
    rp = Replay(_fixed())
    rp.run(FrameReader(path))
    bids = [o.price for o in rp.venue.open_orders() if o.side is Side.BUY]
    assert bids == [4810]  # (0.451 + 0.552 − 0.04) / 2 on the 0.001 grid (0.48 on the old one)
    assert rp.markets[COND].tick == Tick.parse("0.001")


def test_the_daily_loss_limit_halts_the_replay(tmp_path: Path) -> None:
    free = replay(FIXTURE, _fixed())
    assert min(free.path.pnl) < -1.0  # the fixture's run dips more than a dollar: the limit below bites
    limited = replay(FIXTURE, _fixed(limits=RiskLimits(daily_loss_limit=Decimal("1"))))
    assert any(n.startswith("halted at +") and "daily loss" in n for n in limited.notes)
    assert limited.places < free.places
    assert limited.pnl != free.pnl


def test_unknown_tokens_and_bad_frames_are_counted_not_fatal(tmp_path: Path) -> None:
    stranger = orjson.dumps({"event_type": "price_change", "market": "0x" + "99" * 32, "price_changes": [
        {"asset_id": "777", "price": "0.5", "size": "1", "side": "BUY"}]}).decode()
    frames = [(T0, _book(0, {"0.48": "100"}, {"0.52": "100"})), (T0 + S, stranger), (T0 + 2 * S, "{not json")]
    report = Replay(ReplayConfig()).run(FrameReader(_record(tmp_path, frames)))
    assert any("no known market" in n for n in report.notes)
    assert any("malformed" in n for n in report.notes)
    assert report.steps >= 1


# ------------------------------------------------------------------------------------------- the command


def test_replay_json_is_byte_identical_across_runs(capsys, clean) -> None:
    code1, a, _ = run_cli(capsys, "replay", str(FIXTURE), "--json")
    code2, b, _ = run_cli(capsys, "replay", str(FIXTURE), "--json")
    assert code1 == code2 == 0
    assert a == b
    doc = json.loads(a)
    assert doc["fills"] > 0 and doc["steps"] > 0  # a run that traded, or equality proves little
    assert [m["horizon_s"] for m in doc["markouts"]] == [1, 10, 60]
    assert doc["markouts"][0]["count"] >= doc["markouts"][1]["count"] >= doc["markouts"][2]["count"] > 0
    assert len(doc["path"]["t"]) == len(doc["path"]["pnl"]) >= 80
    assert len(doc["path"]["inventory"]) == len(doc["markets"]) == 2
    assert doc["counters"]["frames"] == len(list(FrameReader(FIXTURE)))
    code, c, _ = run_cli(capsys, "replay", str(FIXTURE), "--json", "--set", "spread=0.06")
    assert code == 0 and json.loads(c)["params"] == {"spread": "0.06"} and c != a


def test_replay_text_report_has_figures_and_chart(capsys, clean) -> None:
    code, out, _ = run_cli(capsys, "replay", str(FIXTURE), "--model", "pm4", "--width", "40")
    assert code == 0
    assert "model pm4" in out
    for label in ("P&L", "realised", "unrealised", "fills", "max drawdown", "markouts", "1 s", "10 s", "60 s"):
        assert label in out, label
    chart = [ln for ln in out.splitlines() if ln.strip().startswith(("P&L (USDC)", "inv 0x"))]
    assert len(chart) == 3
    assert all(sum(ch in BLOCKS for ch in ln) == 40 for ln in chart)
    assert "x real time" in out
    # the chart ends at the report's figure, not at the last sampling boundary before the end
    pnl = next(ln for ln in out.splitlines() if ln.startswith("P&L "))
    figure = float(pnl.split()[1].replace(",", ""))
    end = float(chart[0].rsplit("(end ", 1)[1].rstrip(")").replace(",", ""))
    assert end == pytest.approx(figure, abs=1e-4)


def test_replay_single_file_equals_its_directory(clean) -> None:
    [f] = sorted(FIXTURE.glob("*.jsonl.gz"))
    a, b = replay(f), replay(FIXTURE)
    assert to_json(a).replace(str(f), "X") == to_json(b).replace(str(FIXTURE), "X")


def test_replay_bad_input_names_the_field(capsys, clean, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "replay", str(tmp_path / "nope.jsonl.gz"))
    assert code == 2 and "FILE: no such file or directory" in err
    code, _, err = run_cli(capsys, "replay", str(tmp_path))
    assert code == 2 and "no .jsonl.gz recordings" in err
    code, _, err = run_cli(capsys, "replay", str(FIXTURE), "--set", "sprad=0.05")
    assert code == 2 and "unknown parameter 'sprad'" in err and "allowed: " in err and "spread" in err
    code, _, err = run_cli(capsys, "replay", str(FIXTURE), "--set", "spread=0.015")
    assert code == 2 and "spread: must be a multiple of the tick" in err
    code, _, err = run_cli(capsys, "replay", str(FIXTURE), "--set", "layers=9")
    assert code == 2 and "layers" in err and "less than or equal to 5" in err
    with pytest.raises(SystemExit):
        cli("replay", str(FIXTURE), "--model", "magic")
    assert "invalid choice: 'magic'" in capsys.readouterr().err


async def test_replay_of_a_polymm_record_session(tmp_path: Path, clean) -> None:
    """``record`` (what ``polymm record`` runs) against the stand-in: the recording carries the markets
    it recorded and replays on its own."""
    async with run_exchange(port=0, seed=5, flow_rate=200) as ex:
        wanted = [ex.markets[0].condition_id, ex.markets[2].condition_id]
        _, ids = await record(ex.clob_url, ex.gamma_url, ex.ws_url, FrameWriter(tmp_path), wanted,
                              duration=1.5, stop_signals=False)
        expect = {m.condition_id: (m.yes_token, m.no_token, m.tick) for m in ex.markets if m.condition_id in ids}
    got = FrameReader(tmp_path)
    list(got)
    assert sorted(ids) == sorted(wanted)
    assert {c: (m.yes_token, m.no_token, m.tick) for c, m in got.markets.items()} == expect
    report = replay(tmp_path)
    assert [m.condition_id for m in report.markets] == ids
    assert report.steps > 0 and dict(report.counters)["frames"] > 0


def test_python_m_polymm_cli_replay(tmp_path: Path) -> None:
    """Through the real entry point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")}
    p = subprocess.run([sys.executable, "-m", "polymm.cli", "replay", str(FIXTURE), "--json"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == to_json(replay(FIXTURE))


# ------------------------------------------------------------------------------------------- backtest


def test_backtest_grid_gives_one_row_per_combination_and_is_deterministic(capsys, clean) -> None:
    argv = ("backtest", "--scenario", "volatile", "--seeds", "2", "--minutes", "1", "--model", "pm4",
            "--grid", "spread=0.02,0.04", "--grid", "size=10,20", "--json")
    code, a, err = run_cli(capsys, *argv)
    assert code == 0, err
    code, b, _ = run_cli(capsys, *argv)
    assert a == b
    doc = json.loads(a)
    assert doc["scenario"] == "volatile" and doc["model"] == "pm4" and doc["seeds"] == [1, 2]
    assert [r["params"] for r in doc["rows"]] == [
        {"spread": "0.02", "size": "10"}, {"spread": "0.02", "size": "20"},
        {"spread": "0.04", "size": "10"}, {"spread": "0.04", "size": "20"},
    ]
    for row in doc["rows"]:
        assert [r["seed"] for r in row["runs"]] == [1, 2]
        assert row["pnl_mean"] == pytest.approx(sum(r["pnl"] for r in row["runs"]) / 2, abs=1e-5)
        assert [m["horizon_s"] for m in row["markouts"]] == [1, 10, 60]
        assert all(r["sim_seconds"] >= 60 for r in row["runs"])
        assert len(row["path"]["t"]) == len(row["path"]["pnl"]) == len(row["path"]["inventory"]) >= 60
    assert len({json.dumps(r["runs"]) for r in doc["rows"]}) == 4  # the parameters changed the runs
    assert sum(r["fills_mean"] for r in doc["rows"]) > 0


def test_backtest_text_report(capsys, clean) -> None:
    code, out, _ = run_cli(capsys, "backtest", "--scenario", "trending", "--seeds", "1", "--minutes", "0.5")
    assert code == 0
    assert "scenario trending" in out and "P&L mean" in out and "mo 60s" in out and "max DD" in out
    assert sum(1 for ln in out.splitlines() if ln.strip().startswith(("P&L (USDC)", "inventory"))) == 2


def test_backtest_rejects_bad_input_with_the_allowed_values(capsys, clean) -> None:
    with pytest.raises(SystemExit):
        cli("backtest", "--scenario", "sideways")
    err = capsys.readouterr().err
    assert "invalid choice: 'sideways'" in err and all(name in err for name in SCENARIOS)
    code, _, err = run_cli(capsys, "backtest", "--grid", "spread=0.02,abc", "--minutes", "0.1", "--seeds", "1")
    assert code == 2 and "spread" in err and "decimal" in err
    code, _, err = run_cli(capsys, "backtest", "--grid", "colour=red,blue")
    assert code == 2 and "unknown parameter 'colour'" in err and ", ".join(PARAMS) in err
    code, _, err = run_cli(capsys, "backtest", "--grid", "spread=0.02", "--set", "spread=0.04")
    assert code == 2 and "more than once" in err
    code, _, err = run_cli(capsys, "backtest", "--market-index", "1", "--grid", "spread=0.0415")
    assert code == 2 and "spread: must be a multiple of the tick" in err  # market 1 trades on 0.001
    with pytest.raises(SystemExit):
        cli("backtest", "--seeds", "0")
    assert "--seeds" in capsys.readouterr().err
    with pytest.raises(ValueError, match="allowed: standin, calm, trending, informed, volatile"):
        scenario("nope")


def test_scenarios_turn_the_stand_in_flow_knobs() -> None:
    profile = market_profiles(3)[0]
    engine = MatchingEngine([profile.market], clock=lambda: 0)
    flow = SyntheticFlow(engine, profile, 3, 0, clock=lambda: 0)
    sigma, (lo, hi) = flow.fair.sigma, flow.fair.jump_range
    assert SCENARIOS["standin"].install(flow) is None
    assert (flow.fair.sigma, flow.fair.jump_range, flow.fair.JUMP_PROB) == (sigma, (lo, hi), FairValue.JUMP_PROB)
    assert SCENARIOS["volatile"].install(flow) is None
    assert flow.fair.sigma == pytest.approx(2.5 * sigma)
    assert flow.fair.jump_range == pytest.approx((1.5 * lo, 1.5 * hi))
    assert flow.fair.JUMP_PROB == 0.02 and FairValue.JUMP_PROB != 0.02  # the instance, not the class
    flow2 = SyntheticFlow(MatchingEngine([profile.market], clock=lambda: 0), profile, 3, 0, clock=lambda: 0)
    hook = SCENARIOS["trending"].install(flow2)
    assert hook is not None
    a0 = flow2.fair.anchor
    hook()
    hook()
    assert flow2.fair.anchor == pytest.approx(a0 + 0.6)
    flow2.fair.anchor = flow2.fair.hi - 0.1 * (flow2.fair.hi - flow2.fair.lo)  # at the turning line
    before = flow2.fair.anchor
    hook()
    assert flow2.fair.anchor < before  # turned around


def test_informed_scenario_brings_more_informed_flow_than_calm() -> None:
    base = bench_params()
    calm = simulate(2, "fixed", params=base, scenario=SCENARIOS["calm"], seconds=120)
    informed = simulate(2, "fixed", params=base, scenario=SCENARIOS["informed"], seconds=120)
    assert informed.informed_actions > 3 * max(calm.informed_actions, 1)
    assert calm.scenario == "calm" and informed.scenario == "informed"
    assert 120 <= calm.sim_seconds < 122 and 120 <= informed.sim_seconds < 121


def test_synthetic_report_has_the_three_horizons_and_a_path() -> None:
    sim = Simulation(4, "pm4", bench_params())
    r = sim.run_until(300)
    assert [s.horizon_s for s in r.markout_stats] == [1, 10, 60]
    ten = r.markout_stats[1]
    assert (ten.pips, ten.fair_pips, ten.count) == (r.markout10_pips, r.markout10_fair_pips, r.markouts)
    assert r.markout_stats[0].count >= ten.count >= r.markout_stats[2].count > 0
    assert r.realized + r.unrealized == pytest.approx(r.pnl)
    p = r.path
    # one point per boundary, then the end itself (where the report's figures are)
    assert p.t[0] == 0.0 and all(b - a == p.every_s for a, b in zip(p.t[:-1], p.t[1:-1], strict=False))
    assert len(p.t) == int(r.sim_seconds) + 2 and p.t[-1] == r.sim_seconds
    assert max(abs(q) for q in p.inventory[0]) <= r.max_abs_inventory
    assert any(p.inventory[0]) and p.pnl[0] == 0.0
    assert min(p.pnl) >= -r.max_drawdown - 1e-9  # the curve never fell further than its max drawdown
    assert p.pnl[-1] == pytest.approx(r.pnl) and p.inventory[0][-1] == r.final_inventory  # it ends at the report


# ------------------------------------------------------------------------------------------- metrics and chart


def test_markouts_resolve_at_the_reference_in_effect_at_the_horizon() -> None:
    mo = Markouts((1, 10), unit=1000)
    mo.add(0, "m", 1, 5000, 2.0)  # bought 2 at 0.50
    mo.add(500, "m", -1, 5100, 1.0)  # sold 1 at 0.51
    assert mo.next_due == 1000
    mo.resolve(1000, False, lambda k: 5050.0)  # before 1000: nothing due yet
    assert mo.stats()[0].count == 0
    mo.resolve(1000, True, lambda k: 5050.0)  # at 1000: the buy's 1 s markout, +50 pips
    assert mo.stats()[0].count == 1 and mo.stats()[0].pips == 50.0 and mo.next_due == 1500
    mo.resolve(20_000, True, lambda k: 5200.0, lambda k: 5000.0)
    one, ten = mo.stats(with_fair=True)
    assert one.count == 2 and one.pips == pytest.approx((2 * 50 + 1 * -100) / 3)
    assert ten.count == 2 and ten.pips == pytest.approx((2 * 200 - 100) / 3)
    assert ten.fair_pips == pytest.approx((2 * 0 + 100) / 3)
    assert mo.next_due is None


def test_curve_drawdown_and_bounded_aligned_path() -> None:
    c = Curve(1.0, markets=1, max_points=8)
    for i in range(100):
        eq = -5.0 if i == 55 else float(i % 10)
        c.observe(eq)
        c.sample(i, eq, (float(i),))
    assert c.max_drawdown == 14.0  # from the peak 9 down to −5
    p = c.path()
    assert 8 <= len(p.t) < 16 and p.every_s == 8.0
    assert list(p.t) == [8.0 * k for k in range(len(p.t))]  # thinned on the same grid
    assert list(p.inventory[0]) == list(p.t)  # each point holds the value at its instant


def test_sparkline_scales_and_resamples() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == BLOCKS
    assert sparkline(list(range(1000)), 20) == sparkline([(i + 1) * 50 - 1 for i in range(20)], 20)
    assert len(sparkline(list(range(1000)), 20)) == 20
    assert set(sparkline([3.0] * 10, 10)) == {BLOCKS[3]}
    assert sparkline([], 10) == ""


def test_record_synthetic_is_deterministic_and_replayable(tmp_path: Path) -> None:
    a = record_synthetic(tmp_path / "a", seed=3, markets=2, seconds=20)
    b = record_synthetic(tmp_path / "b", seed=3, markets=2, seconds=20)
    ra, rb = list(FrameReader(tmp_path / "a").records()), list(FrameReader(tmp_path / "b").records())
    assert ra == rb and a.frames == b.frames == sum(1 for _, x in ra if type(x) is not MarketsLine) > 100
    assert isinstance(ra[0][1], MarketsLine) and len(ra[0][1].markets) == 2
    stamps = [t for t, _ in ra]
    assert stamps == sorted(stamps) and (stamps[-1] - stamps[0]) / S == pytest.approx(20, abs=1)
    report = replay(tmp_path / "a")
    assert report.steps > 0 and dict(report.counters)["bad_lines"] == 0 and not report.notes


def test_fixture_is_small_and_carries_its_markets() -> None:
    files = sorted(FIXTURE.glob("*.jsonl.gz"))
    assert len(files) == 1 and files[0].stat().st_size < 200 * 1024
    r = FrameReader(FIXTURE)
    assert len(list(r)) > 1000 and len(r.markets) == 2 and r.bad_lines == 0
    assert {m.tick.text for m in r.markets.values()} == {"0.01", "0.001"}


async def test_a_session_the_engine_recorded_replays_with_its_markets(tmp_path: Path, wait_until, clean) -> None:
    """POLYMM_RECORD_DIR: the engine writes its market definitions into the recording (at start and
    for a market added while running), so `polymm replay DIR` needs nothing else."""
    from engines import running_engine

    async with run_exchange(port=0, seed=81, flow_rate=30) as ex:
        extra = [m for m in ex.markets if not m.neg_risk][2]
        async with running_engine(ex, count=2, record_dir=str(tmp_path)) as engine:
            await engine.add_market(extra)
            await wait_until(lambda: engine.feed.frames > 200, timeout=10)
    report = replay(tmp_path)
    assert dict(report.counters)["frames"] > 200 and report.steps > 0
    assert sorted(m.condition_id for m in report.markets) == sorted([*list(engine.markets)])
    assert extra.condition_id in {m.condition_id for m in report.markets}
