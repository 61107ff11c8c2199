"""Make ``docs/dashboard.svg``, the README's picture of the dashboard: ``polymm-tui --demo`` on the
embedded stand-in (seed 7), 160×48, after its first quotes and a few fills (Textual's SVG export).

    .venv/bin/python docs/screenshot.py [OUT.svg] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


async def main(out: Path, seconds: float) -> int:
    from polymm.config import load_settings
    from polymm.tui.app import PolymmApp
    from polymm_standin.server import run_exchange

    async with run_exchange(port=0, seed=7) as ex:
        settings = load_settings(_env_file=None, mode="demo", clob_url=ex.clob_url, ws_url=ex.ws_base,
                                 gamma_url=ex.gamma_url, data_url=ex.data_url, journal_path="off")
        app = PolymmApp(settings, mode="DEMO", venue_host=ex.clob_url)
        async with app.run_test(size=(160, 48)) as pilot:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (app.engine and app.engine.execution.open_orders()):
                await pilot.pause(0.2)  # until the first quotes rest
            end = time.monotonic() + seconds
            while time.monotonic() < end:  # let the synthetic traders fill some of them
                await pilot.pause(0.5)
            app.save_screenshot(filename=out.name, path=str(out.parent))
            await app.stop_engine()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="?", default=str(Path(__file__).with_name("dashboard.svg")))
    p.add_argument("--seconds", type=float, default=20.0, help="how long the demo trades before the picture")
    a = p.parse_args()
    sys.exit(asyncio.run(main(Path(a.out), a.seconds)))
