"""Named market regimes for the synthetic backtest, built from the stand-in's ``SyntheticFlow`` knobs.

A scenario changes only what the stand-in's own flow already exposes: the step rate (actions per
simulated second), the hidden fair value's walk (``FairValue.sigma``), its jumps (probability per
step, size range, and how many steps ahead the informed trader knows them: ``LEAD_STEPS``), and —
for a trend — its anchor, moved a few pips every step (the walk mean-reverts to the anchor, so the
fair value follows it; the trend turns around near the edges of the tradable range). The traders'
behaviour (noise makers and takers, the informed trader, the competing maker) is the stand-in's,
unchanged. Every knob is applied after the flow is built, so the draw sequence of every generator is
the same as the stand-in's for that seed: ``standin`` is exactly the flow ``compare_models`` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from polymm_standin.sim import DEFAULT_FLOW_RATE, FairValue, SyntheticFlow


@dataclass(frozen=True, slots=True)
class Scenario:
    """One regime (module docstring). Multipliers scale the stand-in's per-market defaults."""

    name: str
    about: str
    rate: float = DEFAULT_FLOW_RATE  # flow steps per simulated second
    sigma_mult: float = 1.0  # × the fair value's per-step σ
    jump_prob: float = FairValue.JUMP_PROB  # chance per step that a jump is scheduled
    jump_mult: float = 1.0  # × the jump size range
    lead_steps: tuple[int, int] = FairValue.LEAD_STEPS  # steps between the informed trader's tip and the jump
    drift_pips: float = 0.0  # anchor move per step (a trend), in pips

    def install(self, flow: SyntheticFlow) -> Callable[[], None] | None:
        """Apply the knobs to ``flow``; returns a hook to call after every flow step (None when the
        scenario needs none)."""
        fair = flow.fair
        fair.sigma *= self.sigma_mult
        lo, hi = fair.jump_range
        fair.jump_range = (lo * self.jump_mult, hi * self.jump_mult)
        fair.JUMP_PROB = self.jump_prob  # an instance value shadows the class default
        fair.LEAD_STEPS = self.lead_steps
        if not self.drift_pips:
            return None
        step = [self.drift_pips]
        margin = 0.1 * (fair.hi - fair.lo)

        def trend() -> None:
            a = fair.anchor + step[0]
            if not fair.lo + margin <= a <= fair.hi - margin:
                step[0] = -step[0]  # turn around before the edge
                a = fair.anchor + step[0]
            fair.anchor = a

        return trend


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("standin", "the stand-in's own flow, unchanged (what bench/compare_models.py runs)"),
        Scenario("calm", "slow flow, half the walk's volatility, rare jumps", rate=4.0, sigma_mult=0.5,
                 jump_prob=0.003),
        Scenario("trending", "the fair value trends ~0.11 per 10 simulated minutes, turning near the edges",
                 drift_pips=0.3),
        Scenario("informed", "three times the jumps, larger, tipped off earlier: heavy adverse selection",
                 jump_prob=0.03, jump_mult=1.5, lead_steps=(10, 40)),
        Scenario("volatile", "fast flow, 2.5x the walk's volatility, frequent large jumps", rate=10.0,
                 sigma_mult=2.5, jump_prob=0.02, jump_mult=1.5),
    )
}


def scenario(name: str) -> Scenario:
    """The named scenario; ``ValueError`` naming the allowed ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"scenario: unknown {name!r}; allowed: {', '.join(SCENARIOS)}") from None
