"""The engine in a child process for the crash test (tests/test_journal.py): demo mode against the
stand-in at the given URLs, journaling to the given path, running until it is killed."""

from __future__ import annotations

import asyncio
import sys

from polymm.config import load_settings
from polymm.domain.market import Market
from polymm.engine.engine import Engine
from polymm.venue.rest import PublicClient


async def main(clob: str, ws: str, gamma: str, journal: str, count: int) -> None:
    settings = load_settings(_env_file=None, mode="demo", clob_url=clob, ws_url=ws, gamma_url=gamma,
                             data_url=f"{clob}/data-api", quote_interval_s=0.2, journal_path=journal)
    public = PublicClient(clob, gamma)
    markets: list[Market] = [m for m in await public.list_markets(limit=100) if not m.neg_risk][:count]
    await public.aclose()
    engine = Engine(settings, markets, mode="DEMO")
    print("ready", flush=True)
    await engine.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
