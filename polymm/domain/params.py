"""Per-market quoting parameters, the registry of quoting models, and the validation-error wording
shared with ``config``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .market import Market
from .prices import as_typed, fmt_price, human
from .quoting_models.avellaneda import AvellanedaFields
from .quoting_models.base import CommonParams, ModelFields, QuotingModel
from .quoting_models.fixed import FixedFields
from .quoting_models.pm4 import PM4Fields


class ConfigError(ValueError):
    """Invalid configuration; the message names each bad field and its allowed values."""


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    """Each bad field as ``FIELD: what it allows (got VALUE)``, the value as the user typed it
    (``prices.as_typed``: ``got -1``, not ``got Decimal('-1')``; a secret's as ``<hidden>``)."""
    lines = []
    for e in err.errors():
        if not e["loc"]:  # a model-level rule: its input is every field, secrets included
            lines.append(e["msg"].removeprefix("Value error, "))
            continue
        name = ".".join(str(p) for p in e["loc"])
        field = f"{prefix}{name.upper()}" if prefix else name
        value = e.get("input")
        shown = "<hidden>" if any(s in name for s in ("key", "secret", "passphrase")) else as_typed(value)
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {msg} (got {shown})")
    return "; ".join(lines)


def check_model_name(v: object) -> object:
    """``v`` when it names a registered quoting model; else the error a ``Literal`` of the names gives
    (``Input should be 'fixed', 'avellaneda' or 'pm4'``), so a bad value names the allowed ones."""
    if isinstance(v, str) and v in QUOTING_MODELS:
        return v
    names = [repr(name) for name in QUOTING_MODELS]
    expected = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


# The bases after ``CommonParams`` are the registered quoting models' own parameters, one
# ``ModelFields`` class each, the newest first: Python lays out the fields of the last base first, so
# the fields (and ``QUOTING_MODELS``) read in registration order. Registering a model is adding its
# fields class right after ``CommonParams``.
class MarketParams(CommonParams, PM4Fields, AvellanedaFields, FixedFields):
    """Quoting parameters of one market; immutable, validated. Changing one makes a new value.

    The common ones are documented on ``QuoteShape`` and ``CommonParams``, each model's own on its
    fields class (``quoting_models``); ``model`` names one of ``QUOTING_MODELS``.
    """

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, v: object) -> object:
        return check_model_name(v)

    def check_for(self, market: Market) -> MarketParams:
        """Validate against the market's tick and minimum size; returns self or raises ConfigError."""
        tick = market.tick.decimal
        problems = []
        if self.spread % tick:
            problems.append(f"spread: must be a multiple of the tick {market.tick.text} (got {as_typed(self.spread)})")
        if self.spread < 2 * tick:
            problems.append(f"spread: must be at least two ticks, {fmt_price(2 * tick, market.tick)} "
                            f"(got {as_typed(self.spread)})")
        if self.layer_step % tick:
            problems.append(f"layer_step: must be a multiple of the tick {market.tick.text} "
                            f"(got {as_typed(self.layer_step)})")
        if self.size < market.min_order_size:
            problems.append(f"size: must be at least the market minimum {human(market.min_order_size)} "
                            f"(got {as_typed(self.size)})")
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
            raise ConfigError(f"size: must be at most the risk cap {human(max_order_size)} (got {as_typed(self.size)})")
        if self.position_limit > max_total_position:
            raise ConfigError(f"position_limit: must be at most the total position cap {human(max_total_position)} "
                              f"(got {as_typed(self.position_limit)})")
        return self

    def updated(self, **changes: object) -> MarketParams:
        """A copy with ``changes`` applied and fully re-validated (raises ConfigError)."""
        try:
            return MarketParams.model_validate({**self.model_dump(), **changes})
        except ValidationError as e:
            raise ConfigError(describe_validation_error(e)) from None


#: The quoting models by name, in registration order (``MarketParams``' bases).
QUOTING_MODELS: Mapping[str, QuotingModel] = {
    c.quoting_model.name: c.quoting_model
    for c in reversed(MarketParams.__mro__)
    if issubclass(c, ModelFields) and "quoting_model" in vars(c)
}
