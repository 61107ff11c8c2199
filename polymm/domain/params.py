"""Per-market quoting parameters and the validation-error wording shared with ``config``."""

from __future__ import annotations

from decimal import Decimal

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

    ``spread`` is the full quoted width (ask − bid) in price units; ``requote_threshold`` is how far
    the mid must move (price units) before resting quotes are replaced.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spread: Decimal = Field(Decimal("0.04"), gt=0, lt=1)
    size: Decimal = Field(Decimal("10"), gt=0, le=100_000)
    layers: int = Field(1, ge=1, le=5)
    layer_step: Decimal = Field(Decimal("0.01"), gt=0, lt=1)
    requote_threshold: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    position_limit: Decimal = Field(Decimal("100"), gt=0, le=1_000_000)
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

    def updated(self, **changes: object) -> MarketParams:
        """A copy with ``changes`` applied and fully re-validated (raises ConfigError)."""
        try:
            return MarketParams.model_validate({**self.model_dump(), **changes})
        except ValidationError as e:
            raise ConfigError(describe_validation_error(e)) from None
