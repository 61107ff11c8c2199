"""Offline, deterministic simulations of the market maker (simulated time, no sockets).

``synthetic``: our ``MarketBrain`` quoting one stand-in market against the stand-in's own seeded
synthetic order flow (noise makers and takers, the informed trader, the competing maker) on a
``MatchingEngine``, faster than real time. ``simulate(seed, model)`` returns a ``Report``;
``scenarios`` names regimes of that flow (``calm``, ``trending``, ``informed``, ``volatile``).

``replay``: the engine's strategy, risk checks, order diffing and paper fills over a recording made by
``venue.recorder``, the clock being each frame's recorded receive time (``replay(path)``).

``metrics`` (markouts at 1/10/60 s, the equity curve) and ``report`` (``RunReport``, text with a
sparkline chart, JSON) are shared by both; ``commands`` holds ``polymm replay`` and ``polymm backtest``;
``recording`` writes a synthetic recording offline (benches, test fixtures).
"""

from .simulation import OWNER, SIM_START_MS, Report, Simulation, bench_params, simulate

__all__ = ["OWNER", "SIM_START_MS", "Report", "Simulation", "bench_params", "simulate"]
