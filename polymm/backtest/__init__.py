"""Offline, deterministic simulations of the market maker (simulated time, no sockets).

``synthetic``: our ``MarketBrain`` quoting one stand-in market against the stand-in's own seeded
synthetic order flow (noise makers and takers, the informed trader, the competing maker) on a
``MatchingEngine``, faster than real time. ``simulate(seed, model)`` returns a ``Report``.
"""

from .synthetic import OWNER, SIM_START_MS, Report, Simulation, bench_params, simulate

__all__ = ["OWNER", "SIM_START_MS", "Report", "Simulation", "bench_params", "simulate"]
