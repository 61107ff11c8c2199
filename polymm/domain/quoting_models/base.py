"""What every quoting model shares: the common parameters, and the contract a model implements.

Units: parameters are in price units (``0.02`` = 2 cents), shares and seconds; ``QuoteInputs`` carries
the book view (pips), the position (shares) and the model state (pips, seconds).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..model_state import ModelState
from ..order_book import BookView
from ..quoting import Targets
from ..signals import SignalsSnapshot


class QuoteShape(BaseModel):
    """The parameters that shape every model's quotes (the first fields of ``MarketParams``).

    * ``model``: the quoting model's name (checked against the registered models by ``MarketParams``).
    * ``spread``: the full quoted width (ask − bid) in price units; for the adaptive models the
      minimum width, widened by volatility, signals and inventory.
    * ``size`` (inner layer), ``layers`` (per side), ``layer_step`` (price units between layers),
      ``size_mult`` (size multiplier per outer layer).
    * ``requote_threshold``: how far the fair value must move (price units) before a model that holds
      its quotes (``QuotingModel.holds_quotes``) requotes.
    * ``position_limit``: net YES shares either way; the adding side tapers to 0 at the limit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "fixed"
    spread: Decimal = Field(Decimal("0.04"), gt=0, lt=1)
    size: Decimal = Field(Decimal("10"), gt=0, le=100_000)
    layers: int = Field(1, ge=1, le=5)
    layer_step: Decimal = Field(Decimal("0.01"), gt=0, lt=1)
    requote_threshold: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    position_limit: Decimal = Field(Decimal("100"), gt=0, le=1_000_000)
    size_mult: float = Field(1.0, ge=0.1, le=5.0)

    @field_validator("size")
    @classmethod
    def _two_decimals(cls, v: Decimal) -> Decimal:
        if v != v.quantize(Decimal("0.01")):
            raise ValueError("must have at most 2 decimals (shares are traded in 0.01 steps)")
        return v


class CommonParams(QuoteShape):
    """Every model's parameters: ``QuoteShape`` and these (the last fields of ``MarketParams``).

    * ``fee_ticks``: extra half-spread (the adaptive models).
    * ``tolerance_ticks``: a resting order within this many ticks of its target keeps its place in the
      queue; ``max_order_age_s``: older orders are replaced anyway.
    * ``capital_weight``: this market's share of the total capital, relative to the other markets'.
    * ``enabled``: False quotes nothing.
    * ``size_usd``: when set, the inner layer's size in dollars (shares = size_usd / mid, in cents of a
      share) instead of ``size``; ``max_size_usd``: no quote locks more dollars than this;
      ``max_notional_side``: a side's quotes together lock at most this (the outer layers cut first).
      A quote locks its price a share as a bid and 1 − its price as an ask (a NO bought at 1 − p).
      0 = not used.
    * ``jitter_ticks``, ``jitter_size``: the outer layers (not the inner quote) are moved away from the
      book by 0..``jitter_ticks`` ticks and shrunk by up to ``jitter_size`` of their size — a ladder
      that is not an exact pattern for others to read. Seeded (``jitter_seed``) and drawn from the
      layer and its inner price, so a quote that stays put keeps its draw (no requote churn).
    """

    fee_ticks: float = Field(0.0, ge=0, le=100)
    tolerance_ticks: int = Field(1, ge=0, le=100)
    max_order_age_s: float = Field(300.0, gt=0, le=86_400)
    capital_weight: float = Field(1.0, ge=0, le=100)
    enabled: bool = True
    size_usd: Decimal = Field(Decimal(0), ge=0, le=10_000_000)
    max_size_usd: Decimal = Field(Decimal(0), ge=0, le=10_000_000)
    max_notional_side: Decimal = Field(Decimal(0), ge=0, le=100_000_000)
    jitter_ticks: int = Field(0, ge=0, le=20)
    jitter_size: float = Field(0.0, ge=0, lt=1)
    jitter_seed: int = Field(0, ge=0, le=2**32 - 1)


@dataclass(frozen=True, slots=True)
class EditorField:
    """A parameter the operator's editor offers: the ``MarketParams`` field, its label and what it does
    (the editor adds the allowed range from the field's bounds)."""

    name: str
    label: str
    help: str


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    """Everything a model may read for one step of one market.

    ``params`` is the market's ``MarketParams`` (it has every registered model's fields); ``state`` the
    advanced EWMA state, ``signals`` this step's snapshot, ``now`` and ``end_time`` (the market's end,
    None when unknown) epoch seconds."""

    view: BookView
    position: Decimal
    params: CommonParams
    state: ModelState
    signals: SignalsSnapshot
    now: float
    end_time: float | None


class QuotingModel(ABC):
    """A quoting model: its name, what it offers the editor, how it behaves around the quotes, and
    ``quote``. One instance per model, registered through its ``ModelFields`` (package docstring)."""

    name: ClassVar[str]
    #: the parameters the editor offers besides the common ones
    editor_fields: ClassVar[tuple[EditorField, ...]] = ()
    #: resting quotes stay until something moves (``requote.plan_orders``), instead of following the
    #: targets on every step
    holds_quotes: ClassVar[bool] = False
    #: where the market pays liquidity rewards, the inner layer is pulled into the reward band
    #: (``rewards.pull_into_band``); False: the model's prices stand
    chases_rewards: ClassVar[bool] = True

    @abstractmethod
    def quote(self, inputs: QuoteInputs) -> tuple[Targets, float]:
        """This step's targets, and the spread multiplier the signals applied (1 when none)."""


class ModelFields(QuoteShape):
    """One quoting model's own parameters: fields of ``MarketParams``, which has one of these per
    registered model among its bases. ``quoting_model`` is the model they belong to.

    (Extending ``QuoteShape`` places the model's fields after it in ``MarketParams``, in the order the
    models were registered.)"""

    quoting_model: ClassVar[QuotingModel]
