"""The venue's state is always known to the programs: an unreachable venue is retried with the reason
and a countdown in the store (what the status bar and the banner show) until it answers; unknown
market ids are named — a persistent notice in the dashboard, exit 2 for ``polymm run``."""

from __future__ import annotations

import socket

from engines import demo_settings, until
from eth_account import Account

from polymm.cli import main
from polymm.config import load_settings
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.tui.app import PolymmApp
from polymm_standin.server import EmbeddedExchange, run_exchange

DEMO = Account.from_key(DEMO_PRIVATE_KEY).address
UNKNOWN = "0x" + "ab" * 32


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on (bound, then released)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_venue_says_why_and_when_it_tries_again_until_it_answers() -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(_env_file=None, mode="paper", clob_url=url, ws_url=f"ws://127.0.0.1:{port}",
                             gamma_url=f"{url}/gamma-api", data_url=f"{url}/data-api")
    app = PolymmApp(settings, mode="PAPER")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: "venue unreachable" in (app.store.get("execution").reason or ""))
        reason = app.store.get("execution").reason
        assert "retrying in" in reason and not app.store.get("execution").ready
        assert app.engine is None  # nothing was built on a venue that never answered
        await until(pilot, lambda: "venue unreachable" in app.store.get("execution").reason
                    and app.store.get("execution").reason != reason)  # the countdown moves on
        assert any("venue unreachable" in e.text for e in app.store.get("events", ()))


async def test_unknown_market_ids_are_named_in_a_persistent_notice_and_the_known_ones_trade() -> None:
    async with run_exchange(port=0, flow=False, seed=71) as ex:
        known = next(m for m in ex.markets if not m.neg_risk)
        app = PolymmApp(demo_settings(ex, markets=f"{UNKNOWN},{known.condition_id}"), mode="DEMO")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.engine is not None)
            notice = app.store.get("notice")
            assert UNKNOWN in notice and "not found open at the venue" in notice
            assert list(app.engine.markets) == [known.condition_id]


def test_polymm_run_with_unknown_market_ids_exits_2_naming_them(clean, capsys) -> None:
    with EmbeddedExchange(seed=71, flow=False) as ex:
        code = main(["run", "--demo", "--clob-url", ex.urls.clob_url, "--markets", UNKNOWN])
    assert code == 2
    err = capsys.readouterr().err
    assert UNKNOWN in err and "not found open at the venue" in err
