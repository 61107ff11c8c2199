"""The command line as a user runs it: real processes, real stand-in, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from polymm.cli import main
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.exchange import run_exchange

POLYMM = [sys.executable, "-m", "polymm.cli"]
DEMO_ADDRESS = Account.from_key(DEMO_PRIVATE_KEY).address


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")}
    env.update(extra)
    return env


def test_bad_setting_stops_startup_naming_the_variable_and_allowed_values(tmp_path) -> None:
    r = subprocess.run([*POLYMM, "run"], cwd=tmp_path, env=_env(POLYMM_MODE="turbo"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "POLYMM_MODE" in r.stderr and "'paper', 'live' or 'demo'" in r.stderr


def test_bad_private_key_is_rejected_without_echoing_it(tmp_path) -> None:
    secret = "0x" + "zz" * 32
    r = subprocess.run([*POLYMM, "run"], cwd=tmp_path, env=_env(POLYMM_PRIVATE_KEY=secret), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "POLYMM_PRIVATE_KEY" in r.stderr and "64 hex" in r.stderr
    assert secret not in r.stderr and "zzzz" not in r.stderr


def test_live_without_credentials_refuses(tmp_path) -> None:
    r = subprocess.run([*POLYMM, "run", "--live"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert "POLYMM_PRIVATE_KEY" in r.stderr


def test_live_with_credentials_needs_a_terminal_confirmation(tmp_path) -> None:
    r = subprocess.run([*POLYMM, "run", "--live"], cwd=tmp_path, env=_env(POLYMM_PRIVATE_KEY="0x" + "11" * 32),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert "confirmation" in r.stderr
    assert "11111111" not in r.stderr + r.stdout


def test_exchange_command_prints_its_urls_and_serves_books(tmp_path) -> None:
    p = subprocess.Popen([*POLYMM, "exchange", "--port", "0", "--seed", "3"], cwd=tmp_path, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [p.stdout.readline() for _ in range(6)]  # type: ignore[union-attr]
        text = "".join(lines)
        m = re.search(r"CLOB REST\s+(http://127\.0\.0\.1:\d+)", text)
        assert m, text
        assert "/ws/market" in text and "/ws/user" in text and "/gamma-api" in text and "/data-api" in text
        base = m.group(1)
        markets = httpx.get(f"{base}/gamma-api/markets", timeout=5).json()
        assert len(markets) >= 6
        token = eval(markets[0]["clobTokenIds"])[0]  # a JSON-encoded list of strings, as on Polymarket
        book = httpx.get(f"{base}/book", params={"token_id": token}, timeout=5).json()
        assert book["bids"] and book["asks"]
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)


def test_headless_demo_quotes_and_sigint_cancels_and_exits_0(tmp_path) -> None:
    """The embedded stand-in (``--demo``), text logs: quote, then Ctrl-C; the venue confirms none rest."""
    p = subprocess.Popen([*POLYMM, "run", "--demo"], cwd=tmp_path, env=_env(POLYMM_QUOTE_INTERVAL_S="0.2"),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the first of our quotes fills: quoting for real
            line = p.stdout.readline()  # type: ignore[union-attr]
            seen.append(line)
            if not line or " fill " in line:
                break
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    out = "".join(seen) + out
    assert p.returncode == 0, out
    assert "polymm DEMO: 6 markets" in out and "feed running" in out and " fill " in out
    assert "SIGINT: stopping; cancelling every order of ours at the venue" in out
    assert re.search(r"stopped: \d+ resting orders cancelled; the venue confirms none of ours rest", out), out
    assert "Traceback" not in out


async def test_sigterm_cancels_every_order_of_ours_at_the_venue_then_exits_0(tmp_path: Path, wait_until) -> None:
    """``polymm run`` as the demo wallet against a stand-in of the test's own, on a market file, with JSON
    logs: orders rest, SIGTERM, exit 0 — and the venue holds zero orders of ours (well before the
    venue's own heartbeat expiry, ~10 s, could have done it)."""
    async with run_exchange(port=0, seed=81, flow_rate=10) as ex:
        a, b = [m for m in ex.markets if not m.neg_risk][:2]
        market_file = tmp_path / "markets.txt"
        market_file.write_text(f"# curated\n{a.condition_id} size=7\n{b.condition_id} spread=0.06\n")
        metrics_port = _free_port()
        proc = await asyncio.create_subprocess_exec(
            *POLYMM, "run", "--demo", "--clob-url", ex.clob_url, "--market-file", str(market_file),
            "--log-format", "json", "--metrics-port", str(metrics_port), cwd=tmp_path,
            env=_env(POLYMM_QUOTE_INTERVAL_S="0.2"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        lines: list[str] = []

        async def drain() -> None:
            async for raw in proc.stderr:  # type: ignore[union-attr]
                lines.append(raw.decode())

        reader = asyncio.create_task(drain())

        def ours() -> list:
            keys = {k.key for k in ex.standin.keys.keys_of(DEMO_ADDRESS)}
            return [o for o in ex.engine.open_orders() if o.owner in keys]

        try:
            await wait_until(lambda: {o.market.condition_id for o in ours()} == {a.condition_id, b.condition_id},
                             timeout=30, why=lambda: "".join(lines[-5:]))
            assert {o.original for o in ours() if o.market.condition_id == a.condition_id} == {7_000_000}
            async with httpx.AsyncClient() as http:  # --metrics-port: the exporter serves while it runs
                scrape = await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scrape.status_code == 200 and "polymm_" in scrape.text
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=20)
            assert ours() == []
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await reader
        assert code == 0, "".join(lines)
        docs = [json.loads(line) for line in lines]  # every line is one JSON object
        assert all({"ts", "level", "logger", "msg"} <= set(d) for d in docs)
        start = next(d for d in docs if d["msg"].startswith("polymm DEMO: 2 markets"))
        assert start["mode"] == "DEMO" and start["markets"] == 2 and start["market_file"] == str(market_file)
        assert any(d["msg"] == "SIGTERM: stopping; cancelling every order of ours at the venue" for d in docs)
        last = docs[-1]
        assert last["msg"].endswith("the venue confirms none of ours rest") and last["orders_left"] == 0
        text = "".join(lines)
        secrets = [DEMO_PRIVATE_KEY[2:]] + [v for k in ex.standin.keys.keys_of(DEMO_ADDRESS)
                                             for v in (k.secret, k.passphrase)]
        assert secrets and not any(s in text for s in secrets)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(("argv", "env", "words"), [
    (["run", "--market-file", "missing.txt"], {}, ["--market-file / POLYMM_MARKET_FILE", "no such file",
                                                   "missing.txt", "<condition_id> [key=value ...]"]),
    (["run"], {"POLYMM_MARKET_FILE": "nowhere.txt"}, ["POLYMM_MARKET_FILE", "no such file", "nowhere.txt"]),
    (["run"], {"POLYMM_LOG_FORMAT": "xml"}, ["POLYMM_LOG_FORMAT", "'text' or 'json'", "'xml'"]),
    (["run"], {"POLYMM_METRICS_PORT": "70000"}, ["POLYMM_METRICS_PORT", "65535"]),
    (["cancel-all"], {"POLYMM_MODE": "turbo"}, ["POLYMM_MODE", "'paper', 'live' or 'demo'"]),
])
def test_bad_settings_of_the_new_commands_exit_2_naming_the_field_and_allowed_values(
    monkeypatch, capsys, argv, env, words
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(argv) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(("argv", "words"), [
    (["run", "--log-format", "xml"], ["--log-format", "invalid choice", "'xml'", "text", "json"]),
    (["run", "--metrics-port", "70000"], ["--metrics-port", "from 0 (off) to 65535", "'70000'"]),
    (["run", "--metrics-port", "http"], ["--metrics-port", "from 0 (off) to 65535"]),
])
def test_bad_run_options_exit_2_naming_the_option_and_allowed_values(capsys, argv, words) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err


@pytest.mark.usefixtures("clean")
def test_a_market_file_that_is_not_text_stops_startup(capsys, tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_bytes(b"\xff\xfe\x00")
    assert main(["run", "--market-file", "m.txt"]) == 2
    assert "cannot read 'm.txt': not UTF-8" in capsys.readouterr().err


@pytest.mark.usefixtures("clean")
def test_a_metrics_port_already_taken_stops_run_with_code_2(capsys) -> None:
    import importlib.util
    import socket

    from polymm.exchange import EmbeddedExchange

    if importlib.util.find_spec("polymm.metrics") is None:
        assert main(["run", "--metrics-port", "9464"]) == 2  # not in this build: said at once
        assert "this build has no metrics module" in capsys.readouterr().err
        return
    with socket.socket() as busy, EmbeddedExchange(seed=83, flow=False) as ex:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["run", "--demo", "--clob-url", ex.urls.clob_url, "--metrics-port", str(port)]) == 2
    assert f"metrics_port: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.usefixtures("clean")
def test_replay_and_backtest_are_registered_when_their_module_is_present(capsys) -> None:
    import importlib.util

    if importlib.util.find_spec("polymm.backtest.commands") is None:
        pytest.skip("polymm.backtest.commands is not in this build yet")
    for command in ("replay", "backtest"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0 and f"usage: polymm {command}" in capsys.readouterr().out
    assert main(["replay", "no-such-recording"]) == 2  # dispatched to its handler, which refuses bad input
    assert "no-such-recording" in capsys.readouterr().err


async def test_the_dashboard_follows_its_market_file(tmp_path: Path) -> None:
    """``polymm-tui --market-file --metrics-port``: the app starts on the file's markets with their
    parameters, a line added while it runs adds that market, and the metrics endpoint answers."""
    from engines import demo_settings, until

    from polymm import ops
    from polymm.cli import _program_app

    async with run_exchange(port=0, seed=82, flow_rate=10) as ex:
        a, b = [m for m in ex.markets if not m.neg_risk][:2]
        market_file = tmp_path / "markets.txt"
        market_file.write_text(f"{a.condition_id} size=8\n")
        metrics_port = _free_port()
        settings = demo_settings(ex, market_file=str(market_file), metrics_port=metrics_port)
        markets = await ops.initial_markets(settings)
        assert [m.condition_id for m in markets] == [a.condition_id]
        app = _program_app(settings, "DEMO", markets)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.engine is not None and a.condition_id in app.engine.markets)
            await until(pilot, lambda: app.engine.params[a.condition_id].size == 8)
            market_file.write_text(f"{a.condition_id} size=8\n{b.condition_id} size=9\n")
            await until(pilot, lambda: b.condition_id in app.engine.markets
                        and app.engine.params[b.condition_id].size == 9, timeout=10)
            assert set(app.engine.markets) == {a.condition_id, b.condition_id}
            async with httpx.AsyncClient() as http:  # --metrics-port: the dashboard serves metrics too
                scrape = await http.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scrape.status_code == 200 and "polymm_" in scrape.text


def test_live_confirmation_shows_the_wallet_address_never_the_key_and_a_wrong_answer_sends_nothing(
    tmp_path,
) -> None:
    import pty
    import select

    from eth_account import Account

    key = "0x" + "22" * 32
    address = Account.from_key(key).address
    leader, follower = pty.openpty()
    p = subprocess.Popen([*POLYMM, "run", "--live"], cwd=tmp_path, env=_env(POLYMM_PRIVATE_KEY=key),
                         stdin=follower, stdout=follower, stderr=follower)  # a terminal on all three, as in real use
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while b"confirm:" not in seen and time.monotonic() < deadline and p.poll() is None:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            seen += os.read(leader, 1024)
    os.write(leader, b"yes please\n")
    p.wait(timeout=30)
    while select.select([leader], [], [], 0.2)[0]:
        try:
            seen += os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
    os.close(leader)
    text = seen.decode()
    assert address in text and "LIVE" in text
    assert "2222222222" not in text
    assert p.returncode == 2 and "not confirmed" in text
