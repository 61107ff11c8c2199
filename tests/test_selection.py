"""The automatic market selection (no market list given): discovery's filters from the settings
(``POLYMM_SELECT_*`` or the command line), ranked by score, against the stand-in's Gamma."""

from __future__ import annotations

import argparse

import pytest
from engines import demo_settings

from polymm.commands.options import selection_args
from polymm.commands.startup import selection_overrides
from polymm.ops.programs import initial_markets
from polymm.venue.discovery import Discovery, describe_filters, selection_filters
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    selection_args(p)
    return p.parse_args(list(argv))


def test_the_command_line_sets_the_selection_settings() -> None:
    assert selection_overrides(_args()) == {}
    got = selection_overrides(_args("--price-range", "0.2:0.7", "--hours-to-end", "48:720", "--min-volume", "500",
                                    "--max-spread", "0.05", "--rewards-only"))
    assert got == {"select_price_min": 0.2, "select_price_max": 0.7, "select_min_hours_to_end": 48.0,
                   "select_max_hours_to_end": 720.0, "select_min_volume_24h": 500.0, "select_max_spread": 0.05,
                   "select_rewards_only": True}
    assert selection_overrides(_args("--hours-to-end", "12")) == {"select_min_hours_to_end": 12.0,
                                                                 "select_max_hours_to_end": None}


async def test_no_market_list_picks_by_the_selection_filters_then_by_score() -> None:
    async with run_exchange(port=0, seed=7, market_count=20, flow=False) as ex:
        fair = {m.condition_id: ex.standin.fair_value(m.condition_id) for m in ex.markets}
        assert min(fair.values()) < 0.3 and max(fair.values()) > 0.6  # the bounds below exclude some
        settings = demo_settings(ex, select_price_min=0.3, select_price_max=0.6, max_markets=4)
        picked = await initial_markets(settings)
        public = PublicClient(settings.clob_url, settings.gamma_url)
        try:
            everything = await Discovery(public).ranked(None, by="score")
        finally:
            await public.aclose()
        passing = [c for c in everything if 0.3 <= c.price <= 0.6 and c.hours_to_end is not None
                   and c.hours_to_end >= 24]
        assert len(passing) > 4 and len(passing) < len(everything)
        assert [m.condition_id for m in picked] == [c.condition_id for c in passing[:4]]  # best scores first

        # the defaults keep the venue's ordinary markets: YES 0.10–0.90, at least a day to the end
        default = await initial_markets(demo_settings(ex, max_markets=50))
        assert default and all(0.1 <= fair[m.condition_id] <= 0.9 for m in default)
        assert describe_filters(selection_filters(demo_settings(ex))) == "price 0.1–0.9, ≥ 24 h to end"


@pytest.mark.parametrize(("kw", "text"), [
    ({"select_rewards_only": True, "select_max_spread": 0.05}, "price 0.1–0.9, ≥ 24 h to end, spread ≤ 0.05, "
                                                               "rewards only"),
    ({"select_min_hours_to_end": 0, "select_min_volume_24h": 1500}, "price 0.1–0.9, volume 24h ≥ 1,500"),
])
def test_the_filters_read_as_a_person_writes_them(kw, text) -> None:
    from polymm.config import load_settings

    assert describe_filters(selection_filters(load_settings(_env_file=None, **kw))) == text
