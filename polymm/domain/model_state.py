"""One market's model state: EWMA fair value (microprice), variance per second and the fast/slow regime.

Units: the state keeps floats in pips; time is in seconds, so the variance is pips² per second.
``ModelState`` / ``update`` are pure: a new state per book view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from .order_book import BookView


@dataclass(frozen=True, slots=True)
class EwmaParams:
    """Smoothing of the model state.

    Weights in (0, 1] per update, ``x ← (1 − α)·x + α·sample`` (α = 1 keeps only the last sample):
    ``alpha_fair`` smooths the microprice, ``alpha_fast`` and ``alpha_slow`` the absolute mid changes of
    the PM4 regime ``J``. The variance forgets in time, not in updates: ``vol_half_life`` seconds (the
    signals' volatility uses the same 60 s)."""

    alpha_fair: float = 0.2
    vol_half_life: float = 60.0
    alpha_fast: float = 0.3
    alpha_slow: float = 0.02

    def __post_init__(self) -> None:
        for name in ("alpha_fair", "alpha_fast", "alpha_slow"):
            a = getattr(self, name)
            if not 0 < a <= 1:
                raise ValueError(f"{name}: must be in (0, 1] (got {a!r})")
        if not self.vol_half_life > 0:
            raise ValueError(f"vol_half_life: must be > 0 seconds (got {self.vol_half_life!r})")


#: The PM4 original's clip of its volatility ratio J (``lambda_min`` / ``lambda_max``).
J_MIN, J_MAX = 0.8, 2.0


def regime_ratio(fast: float, slow: float, lo: float = J_MIN, hi: float = J_MAX) -> float:
    """``J = clip(fast / slow, lo, hi)``: 1 before any change, ``hi`` while only the fast EWMA moved."""
    if slow <= 0.0:
        return 1.0 if fast <= 0.0 else hi
    return min(max(fast / slow, lo), hi)


class ModelState(msgspec.Struct, frozen=True, gc=False):
    """EWMA state of one market, in pips and seconds. Start from ``ModelState()``; advance with ``update``.

    * ``fair``: EWMA of the microprice (``None`` until the first two-sided book).
    * ``var``: the mid's variance per second, pips²/s: ``sq / dt`` after each update (settable directly,
      e.g. by a simulation that knows σ); ``sigma = √var`` is σ over one second, pips.
    * ``sq`` / ``dt``: time-decayed sums of the squared mid changes and of the seconds they took.
    * ``abs_fast`` / ``abs_slow``: fast and slow EWMAs of ``|Δmid|`` (the PM4 regime ``J``).
    * ``last_mid`` / ``last_t``: the mid and time of the last sampled change; ``n``: two-sided updates seen.
    """

    fair: float | None = None
    last_mid: float | None = None
    var: float = 0.0
    abs_fast: float = 0.0
    abs_slow: float = 0.0
    n: int = 0
    last_t: float | None = None
    sq: float = 0.0
    dt: float = 0.0

    @property
    def sigma(self) -> float:
        return math.sqrt(self.var)

    def regime(self, lo: float = J_MIN, hi: float = J_MAX) -> float:
        """``J = clip(abs_fast / abs_slow, lo, hi)`` (``regime_ratio``)."""
        return regime_ratio(self.abs_fast, self.abs_slow, lo, hi)

    def with_fair(self, fair: float) -> ModelState:
        """This state with ``fair`` in place of its fair value (``msgspec.structs.replace``, without its
        lookup of the fields by name: a step makes one)."""
        return ModelState(fair, self.last_mid, self.var, self.abs_fast, self.abs_slow, self.n, self.last_t, self.sq,
                          self.dt)




def ewma(prev: float | None, sample: float, alpha: float) -> float:
    """``(1 − α)·prev + α·sample``; the first sample (``prev is None``) is taken as is."""
    return sample if prev is None else (1.0 - alpha) * prev + alpha * sample


def update(
    state: ModelState, view: BookView, ewma_params: EwmaParams = EwmaParams(), now: float | None = None
) -> ModelState:
    """Advance the state with one book view at ``now`` (seconds; default the view's own timestamp). A
    one-sided book leaves the state unchanged.

    ``fair ← EWMA(microprice)``. With ``d = mid − last_mid``, ``Δt = now − last_t`` > 0 and the decay
    ``w = 2^(−Δt / vol_half_life)``: ``sq ← w·sq + d²``, ``dt ← w·dt + Δt``, ``var = sq / dt`` (the
    realised variance per second of the last few half-lives), ``abs_fast ← EWMA_fast(|d|)``,
    ``abs_slow ← EWMA_slow(|d|)``. The first view only seeds ``fair``, ``last_mid`` and ``last_t``.

    Why realised variance over elapsed time, decayed in seconds, and not an average of ``d²/Δt`` per
    update: both estimate a random walk's variance per second, but with a memory counted in updates a
    burst of them milliseconds apart would take the estimate over (one tick in 1 ms reads as 10⁴ ticks²
    per second) and a quiet minute would count as one sample. A view at the same instant as the last
    sampled one (``Δt ≤ 0``) moves only the fair value: its change is counted by the next view with
    time elapsed, from the same reference mid, so it is not lost."""
    bb, ba = view.best_bid, view.best_ask
    if bb is None or ba is None:
        return state
    t = view.timestamp / 1000.0 if now is None else now
    # ``view.mid`` and ``view.microprice``, the same expressions inlined
    mid = (bb + ba) / 2
    total = view.bid_size + view.ask_size
    micro = mid if total <= 0 else (bb * view.ask_size + ba * view.bid_size) / total
    e = ewma_params
    prev = state.fair
    a = e.alpha_fair
    fair = micro if prev is None else (1.0 - a) * prev + a * micro
    last = state.last_mid
    last_t = state.last_t
    if last is None or last_t is None:
        return ModelState(fair, mid, state.var, state.abs_fast, state.abs_slow, state.n + 1, t, state.sq, state.dt)
    elapsed = t - last_t
    if elapsed <= 0.0:
        return ModelState(fair, last, state.var, state.abs_fast, state.abs_slow, state.n + 1, last_t, state.sq,
                          state.dt)
    d = mid - last
    ad = abs(d)
    b, c = e.alpha_fast, e.alpha_slow
    w = 2.0 ** (-elapsed / e.vol_half_life)
    sq = w * state.sq + d * d
    dt = w * state.dt + elapsed
    return ModelState(
        fair,
        mid,
        sq / dt,
        (1.0 - b) * state.abs_fast + b * ad,
        (1.0 - c) * state.abs_slow + c * ad,
        state.n + 1,
        t,
        sq,
        dt,
    )

