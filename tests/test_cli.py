"""The command line as a user runs it: real processes, real stand-in, real signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

POLYMM = [sys.executable, "-m", "polymm.cli"]


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


def test_headless_demo_quotes_and_exits_cleanly_on_sigint(tmp_path) -> None:
    p = subprocess.Popen([*POLYMM, "run", "--demo"], cwd=tmp_path, env=_env(POLYMM_QUOTE_INTERVAL_S="0.2"),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(6)
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out
    assert "polymm DEMO: 6 markets" in out
    assert "feed running" in out
    assert "Traceback" not in out


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
