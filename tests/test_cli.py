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
from polymm_standin.server import run_exchange

POLYMM = [sys.executable, "-m", "polymm.cli"]
DEMO_ADDRESS = Account.from_key(DEMO_PRIVATE_KEY).address


@pytest.fixture(autouse=True)
def _state_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every program here keeps its state (the instance locks) in a tmp dir, never the developer's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


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
    # started as a shell starts a background job: SIGINT inherited *ignored* — Ctrl-C must still stop it
    p = subprocess.Popen([*POLYMM, "exchange", "--port", "0", "--seed", "3"], cwd=tmp_path, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
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
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()  # never leave a stand-in behind
            raise


def test_headless_demo_quotes_and_sigint_cancels_and_exits_0(tmp_path) -> None:
    """The embedded stand-in (``--demo``), text logs: quote, then Ctrl-C; the venue confirms none rest. With
    ``--profile`` the hot functions' table follows on exit."""
    p = subprocess.Popen([*POLYMM, "run", "--demo", "--profile"], cwd=tmp_path, env=_env(POLYMM_QUOTE_INTERVAL_S="0.2"),
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
    table = out[out.index("profile (--profile)"):]
    assert re.search(r"^MarketBrain\.decide +[1-9][\d,]* ", table, re.M), table  # called, and counted
    assert re.search(r"^LiveExecution\._sign_many +[1-9]", table, re.M), table


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
            return [o for o in ex.matching.open_orders() if o.owner in keys]

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


async def test_a_kill_latched_before_a_restart_holds_until_run_is_given_rearm(tmp_path: Path, wait_until) -> None:
    """The journal says HALTED: ``polymm run`` starts, catches up with the venue and quotes nothing;
    ``polymm run --rearm`` clears the latch after the catch-up and quotes."""
    from polymm.journal import Journal, read_status

    journal = tmp_path / "j.sqlite"
    j = Journal(journal)
    j.record_latch(True, "daily loss 120.00 over limit 100.00")
    j.close()
    async with run_exchange(port=0, seed=82, flow=False) as ex:
        (a,) = [m for m in ex.markets if not m.neg_risk][:1]
        market_file = tmp_path / "markets.txt"
        market_file.write_text(f"{a.condition_id}\n")

        def ours() -> list:
            keys = {k.key for k in ex.standin.keys.keys_of(DEMO_ADDRESS)}
            return [o for o in ex.matching.open_orders() if o.owner in keys]

        async def run(rearm: bool) -> str:
            proc = await asyncio.create_subprocess_exec(
                *POLYMM, "run", "--demo", "--clob-url", ex.clob_url, "--market-file", str(market_file),
                *(["--rearm"] if rearm else []), cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                env=_env(POLYMM_QUOTE_INTERVAL_S="0.2", POLYMM_JOURNAL_PATH=str(journal)),
                stderr=asyncio.subprocess.PIPE)
            lines: list[str] = []

            async def drain() -> None:
                async for raw in proc.stderr:  # type: ignore[union-attr]
                    lines.append(raw.decode())

            reader = asyncio.create_task(drain())
            try:
                if rearm:
                    await wait_until(lambda: ours() != [], timeout=30, why=lambda: "".join(lines[-5:]))
                else:  # caught up (the venue's truth is in) and the feed running, yet nothing is placed
                    await wait_until(lambda: any("feed running" in ln for ln in lines), timeout=30,
                                     why=lambda: "".join(lines[-5:]))
                    # time is what is tested: ~5 steps (every 0.2 s) place nothing. A child process shows no
                    # step count (no log line, no metric) to wait on instead
                    await asyncio.sleep(1.0)
                    assert ours() == []
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), timeout=20) == 0, "".join(lines)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                await reader
            return "".join(lines)

        for rearm in (False, True):
            text = await run(rearm)
            assert ("re-armed at start (--rearm); it was HALTED: daily loss 120.00 over limit 100.00" in text) == rearm
            assert "HALTED: daily loss 120.00 over limit 100.00" in text, text
        assert not read_status(journal).latched  # the re-arm is journaled


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
    (["run"], {"POLYMM_SELECT_PRICE_MIN": "0.8", "POLYMM_SELECT_PRICE_MAX": "0.2"},
     ["POLYMM_SELECT_PRICE_MAX", "must be above POLYMM_SELECT_PRICE_MIN (0.8)", "(got 0.2)"]),
    (["run"], {"POLYMM_SELECT_MAX_SPREAD": "2"}, ["POLYMM_SELECT_MAX_SPREAD", "less than 1", "(got 2)"]),
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
    (["run", "--price-range", "0.9:0.1"], ["--price-range", "0 ≤ LO < HI ≤ 1", "'0.9:0.1'"]),
    (["run", "--price-range", "0.5"], ["--price-range", "LO:HI", "'0.5'"]),
    (["run", "--hours-to-end", "48:24"], ["--hours-to-end", "MIN or MIN:MAX hours", "'48:24'"]),
    (["run", "--max-spread", "1"], ["--max-spread", "above 0 and below 1", "'1'"]),
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

    from polymm_standin.server import EmbeddedExchange

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

    if importlib.util.find_spec("polymm.commands.backtest") is None:
        pytest.skip("polymm.commands.backtest is not in this build yet")
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

    from polymm.commands.dashboard import program_app
    from polymm.ops.programs import initial_markets

    async with run_exchange(port=0, seed=82, flow_rate=10) as ex:
        a, b = [m for m in ex.markets if not m.neg_risk][:2]
        market_file = tmp_path / "markets.txt"
        market_file.write_text(f"{a.condition_id} size=8\n")
        metrics_port = _free_port()
        settings = demo_settings(ex, market_file=str(market_file), metrics_port=metrics_port)
        markets = await initial_markets(settings)
        assert [m.condition_id for m in markets] == [a.condition_id]
        app = program_app(settings, "DEMO", markets)
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


# ---------------------------------------------------------------- one instance, private keys, every way out
def _demo_orders(ex) -> list:
    """The demo wallet's orders resting at the stand-in ``ex`` (judged from the venue's own book)."""
    keys = {k.key for k in ex.standin.keys.keys_of(DEMO_ADDRESS)}
    return [o for o in ex.matching.open_orders() if o.owner in keys]


_TUI = "import sys; from polymm.cli import tui_main; sys.exit(tui_main(sys.argv[1:]))"


async def test_a_second_program_on_the_same_wallet_and_venue_refuses_and_sighup_cancels_all(
    tmp_path: Path, wait_until
) -> None:
    """Two programs on one wallet would cancel each other's orders: the second refuses, naming the
    first, and leaves its orders alone. Then SIGHUP (the first one's terminal closed) stops the first
    the orderly way: cancel all, confirmed, exit 0."""
    async with run_exchange(port=0, seed=84, flow_rate=10) as ex:
        # a run under nohup keeps SIGHUP ignored on purpose (polymm run then outlives its terminal): the
        # child must not inherit that from however the tests were started
        hup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
        try:
            first = await asyncio.create_subprocess_exec(
                *POLYMM, "run", "--demo", "--clob-url", ex.clob_url, cwd=tmp_path,
                env=_env(POLYMM_QUOTE_INTERVAL_S="0.2"), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        finally:
            signal.signal(signal.SIGHUP, hup)
        lines: list[str] = []

        async def drain() -> None:
            async for raw in first.stderr:  # type: ignore[union-attr]
                lines.append(raw.decode())

        reader = asyncio.create_task(drain())
        try:
            await wait_until(lambda: len(_demo_orders(ex)) >= 2, timeout=30, why=lambda: "".join(lines[-5:]))
            for argv in ([*POLYMM, "run"], [sys.executable, "-c", _TUI]):
                second = await asyncio.create_subprocess_exec(
                    *argv, "--demo", "--clob-url", ex.clob_url, cwd=tmp_path, env=_env(),
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                _, err = await asyncio.wait_for(second.communicate(), timeout=30)
                assert second.returncode == 1, err.decode()
                assert re.search(rf"another polymm \(pid {first.pid}, polymm run, started [\d -]*\d\d:\d\d:\d\d\) is "
                                 rf"trading wallet {DEMO_ADDRESS} on {re.escape(ex.clob_url)}; stop it first",
                                 err.decode()), err.decode()
            assert _demo_orders(ex)  # the refused ones cancelled nothing of the first's
            first.send_signal(signal.SIGHUP)
            code = await asyncio.wait_for(first.wait(), timeout=20)
            assert _demo_orders(ex) == []
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
            await reader
        text = "".join(lines)
        assert code == 0, text
        assert "SIGHUP: stopping; cancelling every order of ours at the venue" in text
        assert re.search(r"stopped: \d+ resting orders cancelled; the venue confirms none of ours rest", text), text


@pytest.mark.usefixtures("clean")
def test_a_held_lock_stops_both_programs_before_they_start(capsys) -> None:
    from polymm.cli import tui_main
    from polymm.statedir import InstanceLock

    venue = "http://127.0.0.1:9"  # never reached: the lock is taken before anything starts
    with InstanceLock(venue, DEMO_ADDRESS, "polymm-tui"):
        assert main(["run", "--demo", "--clob-url", venue]) == 1
        assert tui_main(["--demo", "--clob-url", venue]) == 1
    err = capsys.readouterr().err
    for prog in ("polymm run", "polymm-tui"):
        assert f"{prog}: another polymm (pid {os.getpid()}, polymm-tui, started " in err
    assert err.count(f"is trading wallet {DEMO_ADDRESS} on {venue}; stop it first") == 2


@pytest.mark.usefixtures("clean")
def test_the_programs_warn_when_an_env_file_holding_the_key_is_readable_by_others(capsys, tmp_path: Path) -> None:
    from polymm.cli import tui_main

    key = "0x" + "4d" * 32
    env = tmp_path / ".env"
    env.write_text(f"POLYMM_PRIVATE_KEY={key}\n")
    os.chmod(env, 0o644)
    # a missing market file stops each program right after the warning: nothing needs a venue
    assert main(["run", "--market-file", "missing.txt"]) == 2
    assert tui_main(["--market-file", "missing.txt"]) == 2
    err = capsys.readouterr().err
    for prog in ("polymm run", "polymm-tui"):
        assert (f"{prog}: WARNING: .env is readable by others (mode 0644) and holds POLYMM_PRIVATE_KEY: "
                f"chmod 600 .env") in err
    assert "4d4d4d4d" not in err
    os.chmod(env, 0o600)
    assert main(["run", "--market-file", "missing.txt"]) == 2
    assert "WARNING" not in capsys.readouterr().err


class _Terminal:
    """A pseudo-terminal for ``polymm-tui`` (160×48), its output drained on the loop (a terminal nobody
    reads fills up and blocks the app)."""

    def __init__(self) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.leader, self.follower = pty.openpty()
        fcntl.ioctl(self.follower, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        self.output = bytearray()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.leader, self._read)
        self._open = True

    def _read(self) -> None:
        try:
            data = os.read(self.leader, 1 << 16)
        except OSError:  # EIO: nothing holds the other side any more
            data = b""
        if data:
            self.output.extend(data)
        else:
            self._loop.remove_reader(self.leader)

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does: the kernel sends SIGHUP to its session."""
        if self._open:
            self._open = False
            self._loop.remove_reader(self.leader)
            os.close(self.leader)

    async def start(self, *argv: str, cwd: Path) -> asyncio.subprocess.Process:
        """``polymm-tui argv`` in a session of its own with this terminal as its controlling terminal."""
        on_terminal = ("import fcntl, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); " + _TUI)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", on_terminal, *argv, cwd=cwd, env=_env(POLYMM_QUOTE_INTERVAL_S="0.2",
                                                                       TERM="xterm-256color"),
            stdin=self.follower, stdout=self.follower, stderr=self.follower, start_new_session=True)
        os.close(self.follower)
        return proc


@pytest.mark.parametrize("way_out", ["SIGTERM", "closed terminal"])
async def test_the_dashboard_cancels_all_on_sigterm_and_when_its_terminal_closes(
    tmp_path: Path, wait_until, way_out: str
) -> None:
    """``polymm-tui --demo`` on a terminal of its own against the test's stand-in: once its quotes rest,
    SIGTERM, or the terminal closes (SIGHUP, and every write to it fails): the demo wallet's orders are
    all cancelled before the process exits 0 by itself (the default for either signal would end it with
    them resting until the venue's heartbeat timeout)."""
    async with run_exchange(port=0, seed=85, flow_rate=10) as ex:
        term = _Terminal()
        proc = await term.start("--demo", "--clob-url", ex.clob_url, cwd=tmp_path)
        try:
            await wait_until(lambda: len(_demo_orders(ex)) >= 2, timeout=30,
                             why=lambda: term.output[-300:].decode(errors="replace"))
            if way_out == "SIGTERM":
                proc.send_signal(signal.SIGTERM)
            else:
                term.hang_up()
            code = await asyncio.wait_for(proc.wait(), timeout=20)
            assert _demo_orders(ex) == []
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            term.hang_up()
        assert code == 0, term.output[-2000:].decode(errors="replace")
        if way_out == "SIGTERM":  # the terminal is still there to read the last line
            text = term.output.decode(errors="replace")
            assert re.search(r"polymm-tui: stopped: \d+ resting orders cancelled; the venue confirms none of ours "
                             r"rest", text), text[-2000:]
            assert "Traceback" not in text
