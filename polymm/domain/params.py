"""Per-market quoting parameters and the validation-error wording shared with ``config``."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .market import Market


class ConfigError(ValueError):
    """Invalid configuration; the message names each bad field and its allowed values."""


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        if not e["loc"]:  # a model-level rule: its input is every field, secrets included
            lines.append(e["msg"].removeprefix("Value error, "))
            continue
        name = ".".join(str(p) for p in e["loc"])
        field = f"{prefix}{name.upper()}" if prefix else name
        value = e.get("input")
        shown = "<hidden>" if any(s in name for s in ("key", "secret", "passphrase")) else repr(value)
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {msg} (got {shown})")
    return "; ".join(lines)


class MarketParams(BaseModel):
    """Quoting parameters of one market; immutable, validated. Changing one makes a new value.

    * ``model``: ``fixed`` (spread around the mid), ``avellaneda`` or ``pm4`` (``domain.models``).
    * ``spread``: the full quoted width (ask − bid) in price units; for ``avellaneda`` / ``pm4`` the
      minimum width, widened by volatility, signals and inventory.
    * ``size`` (inner layer), ``layers`` (per side), ``layer_step`` (price units between layers),
      ``size_mult`` (size multiplier per outer layer).
    * ``requote_threshold``: how far the fair value must move (price units) before ``fixed`` requotes.
    * ``position_limit``: net YES shares either way; the adding side tapers to 0 at the limit.
    * ``avellaneda``: ``gamma`` — risk aversion γ per USDC with the inventory in shares (the paper's
      units: a price is USDC per share); ``horizon_s`` — the time left ``T − t`` in seconds (the market's
      end date caps it when closer); ``kappa`` — the order-arrival decay κ per price unit (fills at the
      rate ``A·e^(−κδ)`` at ``δ`` from the mid), used until the market's own prints give an estimate.
    * ``pm4``: ``gamma_a`` (exponent of the inventory spread multiplier ``1/(1 − |q̂|)^γa``), ``k_vol``
      (half-spread per σ over one second), ``skew_ticks`` (price shift at the limit), ``j_min`` / ``j_max``
      (clip of the volatility ratio J, the original's 0.8 / 2.0).
    * ``fee_ticks``: extra half-spread (both adaptive models).
    * ``tolerance_ticks``: a resting order within this many ticks of its target keeps its place in the
      queue; ``max_order_age_s``: older orders are replaced anyway.
    * ``capital_weight``: this market's share of the total capital, relative to the other markets'.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Literal["fixed", "avellaneda", "pm4"] = "fixed"
    spread: Decimal = Field(Decimal("0.04"), gt=0, lt=1)
    size: Decimal = Field(Decimal("10"), gt=0, le=100_000)
    layers: int = Field(1, ge=1, le=5)
    layer_step: Decimal = Field(Decimal("0.01"), gt=0, lt=1)
    requote_threshold: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    position_limit: Decimal = Field(Decimal("100"), gt=0, le=1_000_000)
    size_mult: float = Field(1.0, ge=0.1, le=5.0)
    # 0.03 per USDC is the former default (3 per position-limit of inventory, at the default limit of
    # 100 shares) re-expressed in the paper's units; the strategy bench chooses the real default
    gamma: float = Field(0.03, ge=0, le=100)
    # 60 s stands for the former horizon of 100 strategy steps (a step every ~0.6 s)
    horizon_s: float = Field(60.0, gt=0, le=2_592_000)
    kappa: float = Field(100.0, gt=0, le=100_000)
    k_vol: float = Field(4.0, ge=0, le=50)
    skew_ticks: float = Field(12.0, ge=0, le=100)
    gamma_a: float = Field(1.0, ge=0, le=10)
    # J = 1 is "no change of regime": a clip that excludes it would scale every quote for good
    j_min: float = Field(0.8, gt=0, le=1)
    j_max: float = Field(2.0, ge=1, le=10)
    fee_ticks: float = Field(0.0, ge=0, le=100)
    tolerance_ticks: int = Field(1, ge=0, le=100)
    max_order_age_s: float = Field(300.0, gt=0, le=86_400)
    capital_weight: float = Field(1.0, ge=0, le=100)
    enabled: bool = True

    @field_validator("size")
    @classmethod
    def _two_decimals(cls, v: Decimal) -> Decimal:
        if v != v.quantize(Decimal("0.01")):
            raise ValueError("must have at most 2 decimals (shares are traded in 0.01 steps)")
        return v

    def check_for(self, market: Market) -> MarketParams:
        """Validate against the market's tick and minimum size; returns self or raises ConfigError."""
        tick = market.tick.decimal
        problems = []
        if self.spread % tick:
            problems.append(f"spread: must be a multiple of the tick {tick} (got {self.spread})")
        if self.spread < 2 * tick:
            problems.append(f"spread: must be at least two ticks, {2 * tick} (got {self.spread})")
        if self.layer_step % tick:
            problems.append(f"layer_step: must be a multiple of the tick {tick} (got {self.layer_step})")
        if self.size < market.min_order_size:
            problems.append(f"size: must be at least the market minimum {market.min_order_size} (got {self.size})")
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def fitted_to(self, market: Market) -> MarketParams:
        """These parameters as a market starts with them: spread and layer step rounded down to its
        tick (at least two ticks and one tick), size raised to its minimum; validated."""
        tick = market.tick.decimal
        return self.updated(spread=max(self.spread - self.spread % tick, 2 * tick),
                            size=max(self.size, market.min_order_size),
                            layer_step=max(self.layer_step - self.layer_step % tick, tick)).check_for(market)

    def check_caps(self, max_order_size: Decimal, max_total_position: Decimal) -> MarketParams:
        """Within the risk caps (``max_order_size``, ``max_total_position``); self or ConfigError."""
        if self.size > max_order_size:
            raise ConfigError(f"size: must be at most the risk cap {max_order_size} (got {self.size})")
        if self.position_limit > max_total_position:
            raise ConfigError(f"position_limit: must be at most the total position cap {max_total_position} "
                              f"(got {self.position_limit})")
        return self

    def updated(self, **changes: object) -> MarketParams:
        """A copy with ``changes`` applied and fully re-validated (raises ConfigError)."""
        try:
            return MarketParams.model_validate({**self.model_dump(), **changes})
        except ValidationError as e:
            raise ConfigError(describe_validation_error(e)) from None
