"""The curated market file: strict parsing with line-numbered errors, and the watcher keeping a real
engine (demo mode, real orders) in line with the file against the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from engines import demo_settings, ours, running_engine

from polymm.engine.engine import Engine
from polymm.engine.watchlist import PARAM_KEYS, Watchlist, parse_market_file, read_market_file, resolve_markets
from polymm.venue.discovery import Discovery
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange

CID_A = "0x" + "a1" * 32
CID_B = "0x" + "B2" * 32


# ---------------------------------------------------------------- parsing
def test_good_lines_with_comments_and_blank_lines() -> None:
    parsed = parse_market_file(f"""
# curated markets
{CID_A}   spread=0.03 size=20 layers=2 model=pm4   # trailing comment

{CID_B}
""")
    assert parsed.errors == ()
    assert list(parsed.entries) == [CID_A, CID_B.lower()]  # file order; ids compared in lower case
    a = parsed.entries[CID_A]
    assert a.line == 3
    assert a.params == {"spread": Decimal("0.03"), "size": Decimal("20"), "layers": 2, "model": "pm4"}
    assert parsed.entries[CID_B.lower()].params == {}


@pytest.mark.parametrize(("line", "field", "words"), [
    ("0x1234 spread=0.03", "condition_id", ["0x followed by 64 hex digits", "'0x1234'"]),
    (f"{CID_A} model=pm5", "model", ["'fixed', 'avellaneda' or 'pm4'", "pm5"]),
    (f"{CID_A} spread=-0.01", "spread", ["greater than 0"]),
    (f"{CID_A} layers=9", "layers", ["less than or equal to 5"]),
    (f"{CID_A} size=1.234", "size", ["at most 2 decimals"]),
    (f"{CID_A} colour=red", "colour", ["unknown parameter", "allowed:", "spread", "capital_weight"]),
    (f"{CID_A} spread0.03", "parameter", ["'spread0.03' is not key=value", "size"]),
    (f"{CID_A} size=5 size=6", "size", ["given twice"]),
    (f"{CID_A} enabled=false", "enabled", ["unknown parameter"]),
])
def test_a_bad_line_names_its_number_the_field_and_the_allowed_values(line: str, field: str,
                                                                      words: list[str]) -> None:
    parsed = parse_market_file(f"# header\n{CID_B} size=7\n{line}\n")
    assert list(parsed.entries) == [CID_B.lower()]  # the other line still applies
    (err,) = parsed.errors
    assert err.line == 3 and err.field == field
    assert str(err).startswith(f"line 3: {field}")
    for w in words:
        assert w in err.message


def test_a_market_listed_twice_is_an_error_on_the_second_line_and_a_bad_line_holds_its_market() -> None:
    parsed = parse_market_file(f"{CID_A} size=7\n{CID_A} size=8\n{CID_B} model=nope\n")
    assert parsed.entries[CID_A].params == {"size": Decimal(7)}
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "condition_id"), (3, "model")]
    assert "already listed on line 1" in parsed.errors[0].message
    assert parsed.held == {CID_A, CID_B.lower()}


def test_every_parameter_key_is_a_market_parameter() -> None:
    line = " ".join(f"{k}={v}" for k, v in {
        "model": "avellaneda", "spread": "0.05", "size": "12", "layers": "2", "layer_step": "0.02",
        "requote_threshold": "0.01", "position_limit": "50", "size_mult": "1.5", "gamma": "2", "k_vol": "1",
        "skew_ticks": "1", "fee_ticks": "0.5", "tolerance_ticks": "2", "max_order_age_s": "60",
        "capital_weight": "2", "horizon_s": "300", "kappa": "150", "gamma_a": "1.5", "j_min": "0.9",
        "j_max": "1.8", "jitter_ticks": "2", "jitter_size": "0.2", "jitter_seed": "7",
        "size_usd": "25", "max_size_usd": "40", "max_notional_side": "100", "c_risk": "0.06", "kappa0": "2"}.items())
    parsed = parse_market_file(f"{CID_A} {line}")
    assert parsed.errors == ()
    assert set(parsed.entries[CID_A].params) == set(PARAM_KEYS)


def test_a_file_that_is_not_text_is_refused_naming_why(tmp_path: Path) -> None:
    p = tmp_path / "markets.txt"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_market_file(p)


# ---------------------------------------------------------------- against the stand-in
def _events(engine: Engine) -> list[str]:
    return [e.text for e in engine.store.get("events", ())]


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # make sure the change is visible even on a coarse mtime clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


async def test_one_pass_adds_retunes_reverts_and_removes_markets_on_an_unstarted_engine(tmp_path: Path) -> None:
    async with run_exchange(port=0, seed=61, flow=False) as ex:
        plain = [m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01"]
        a, b = plain[0], plain[1]
        engine = Engine(demo_settings(ex), [], mode="DEMO")
        try:
            path = tmp_path / "markets.txt"
            watch = Watchlist(engine, path)
            _write(path, f"{a.condition_id} spread=0.06 size=7\n{b.condition_id}\n")
            await watch.sync()
            assert set(engine.markets) == {a.condition_id, b.condition_id}
            assert (engine.params[a.condition_id].spread, engine.params[a.condition_id].size) == \
                (Decimal("0.06"), Decimal(7))
            default = engine.params[b.condition_id]
            assert default.spread == Decimal("0.04")

            _write(path, f"{a.condition_id} size=9\n")  # spread dropped from the line, b's line removed
            await watch.sync()
            assert set(engine.markets) == {a.condition_id}
            assert engine.params[a.condition_id].spread == default.spread  # back to what it was
            assert engine.params[a.condition_id].size == Decimal(9)
            assert any("removed" in t for t in _events(engine))
        finally:
            await engine.public.aclose()


async def test_market_specific_problems_are_reported_and_that_line_alone_is_ignored(tmp_path: Path) -> None:
    async with run_exchange(port=0, seed=62, flow=False) as ex:
        plain = [m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01"]
        a, b, c = plain[0], plain[1], plain[2]
        engine = Engine(demo_settings(ex), [a], mode="DEMO")
        try:
            path = tmp_path / "markets.txt"
            _write(path, f"{a.condition_id} spread=0.05\n"  # fine
                         f"{b.condition_id} spread=0.015\n"  # off b's 0.01 tick: b is not added
                         f"{c.condition_id} size=800\n"  # over the 500 risk cap: c is not added
                         f"0x{'0' * 64}\n")  # unknown to the venue
            watch = Watchlist(engine, path, retry_s=30)
            await watch.sync()
            assert set(engine.markets) == {a.condition_id}
            assert engine.params[a.condition_id].spread == Decimal("0.05")
            text = "\n".join(_events(engine))
            assert f"{path}:2: spread: must be a multiple of the tick" in text and "(got 0.015)" in text
            assert f"{path}:3: size: must be at most the risk cap 500" in text
            assert f"{path}:4: condition_id: no open market 0x{'0' * 64} at the venue" in text

            before = len(_events(engine))
            await watch.sync()  # the same file again: its problems are not repeated
            assert len(_events(engine)) == before

            _write(path, f"{a.condition_id} spread=0.035\n")  # a running market's bad edit keeps its values
            await watch.sync()
            assert engine.params[a.condition_id].spread == Decimal("0.05")
            assert any("keeps its parameters" in t for t in _events(engine))
        finally:
            await engine.public.aclose()


def _gamma_serving(markets: list[dict]) -> PublicClient:
    """A Gamma that answers every ``/markets`` look-up with ``markets``: the stand-in lists no
    position-id market (a shape only real Gamma has), so this one shape is served by hand."""
    client = PublicClient("http://clob.test", "http://gamma.test")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=markets)))
    return client


POSITION_ID_MARKET = json.loads((Path(__file__).parent / "fixtures" / "rest" / "market_position_ids.json").read_text())


async def test_a_position_id_market_in_the_file_is_refused_saying_why(tmp_path: Path, caplog) -> None:
    """Protocol-V2 markets sign for exchange version 3 (docs/protocol.md §12): the file's line is ignored with
    that reason, not 'no open market ... retrying' (the venue knows the market; retrying won't help)."""
    cid = POSITION_ID_MARKET["conditionId"]
    gamma = _gamma_serving([POSITION_ID_MARKET])
    parsed = parse_market_file(f"{cid} spread=0.05\n")
    with caplog.at_level(logging.WARNING, logger="polymm.engine.watchlist"):
        assert await resolve_markets(parsed, gamma) == []  # start-up: never quoted
    assert f"{cid}: position-id market (exchange version 3) is not supported yet" in caplog.text
    async with run_exchange(port=0, seed=64, flow=False) as ex:
        engine = Engine(demo_settings(ex), [], mode="DEMO")
        try:
            path = tmp_path / "markets.txt"
            _write(path, f"{cid} spread=0.05\n")
            watch = Watchlist(engine, path, retry_s=0)  # a retry would be due at once
            watch._discovery = Discovery(gamma)  # the running watcher's look-ups go to that Gamma
            await watch.sync()
            assert engine.markets == {}
            [problem] = watch.errors
            assert problem == (f"market file {path}:1: condition_id: {cid}: position-id market (exchange version 3) "
                               "is not supported yet; line ignored")
            assert problem in _events(engine)
            assert not await watch.poll()  # not retried: the file is unchanged and no look-up is due
        finally:
            await engine.public.aclose()
            await gamma.aclose()


async def test_a_provisional_market_whose_line_is_bad_for_it_is_dropped_by_the_first_pass(tmp_path: Path) -> None:
    async with run_exchange(port=0, seed=63, flow=False) as ex:
        a, b = [m for m in ex.markets if not m.neg_risk and m.tick.text == "0.01"][:2]
        engine = Engine(demo_settings(ex), [a, b], mode="DEMO")
        try:
            path = tmp_path / "markets.txt"
            _write(path, f"{a.condition_id} spread=0.015\n{b.condition_id}\n")
            watch = Watchlist(engine, path, provisional={a.condition_id, b.condition_id})
            await watch.sync()
            assert set(engine.markets) == {b.condition_id}
            assert set(watch.managed) == {b.condition_id}
        finally:
            await engine.public.aclose()


async def test_the_running_watcher_adds_retunes_and_removes_markets_at_the_venue(tmp_path: Path, wait_until) -> None:
    async with run_exchange(port=0, seed=64, flow_rate=20) as ex, running_engine(ex, count=1) as engine:
        own = next(iter(engine.markets))  # started by hand, not listed: the watcher never touches it
        others = [m for m in ex.markets if not m.neg_risk and m.condition_id != own]
        b, c = others[0], others[1]
        path = tmp_path / "markets.txt"
        _write(path, f"{b.condition_id} size={max(b.min_order_size, Decimal(6))}\n")
        watch = Watchlist(engine, path, poll_s=0.05, settle_s=0.02)
        task = asyncio.create_task(watch.run())
        try:
            # a busy 2-core machine: b's first quotes can take a while behind the fills of 20 flow steps/s
            await wait_until(lambda: len(ours(ex, engine, b.condition_id)) >= 2, timeout=30,
                             why=lambda: _events(engine)[-5:])
            assert all(o.original == int(engine.params[b.condition_id].size * 1_000_000)
                       for o in ours(ex, engine, b.condition_id))

            _write(path, f"{b.condition_id} size=11\n{c.condition_id} model=pm5\n")  # retune b; c's line is bad
            await wait_until(lambda: engine.params[b.condition_id].size == Decimal(11), timeout=5)
            await wait_until(lambda: any(":2: model:" in t for t in _events(engine)), timeout=5)
            assert c.condition_id not in engine.markets
            error = next(t for t in _events(engine) if ":2: model:" in t)
            assert "'fixed', 'avellaneda' or 'pm4'" in error and "line ignored" in error
            await wait_until(lambda: ours(ex, engine, b.condition_id)
                             and all(o.original == 11_000_000 for o in ours(ex, engine, b.condition_id)), timeout=10)

            _write(path, "# nothing to trade\n")
            await wait_until(lambda: b.condition_id not in engine.markets, timeout=5)
            assert ours(ex, engine, b.condition_id) == []  # its orders were cancelled at the venue
            assert own in engine.markets
            await wait_until(lambda: len(ours(ex, engine, own)) >= 2, timeout=5)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
