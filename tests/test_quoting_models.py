"""The quoting-model registry: each model declares its name, its parameters and its editor fields in
its own module; ``MarketParams``, the settings, the strategy, the order plan and the parameter editor
all follow the registry."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from books import book_view, market_on
from engines import until
from snapshot_scenario import build_app
from textual.widgets import Input, Select

from polymm.config import ConfigError, load_settings
from polymm.domain.params import QUOTING_MODELS, MarketParams
from polymm.domain.prices import Tick
from polymm.domain.quoting_models.avellaneda import AvellanedaFields
from polymm.domain.quoting_models.base import CommonParams, QuoteShape
from polymm.domain.quoting_models.fixed import FixedFields
from polymm.domain.quoting_models.pm4 import PM4Fields
from polymm.domain.requote import plan_orders
from polymm.domain.strategy import MODELS, MarketBrain
from polymm.tui.screens import ParamsEditor

T01 = Tick.parse("0.01")


def test_the_registry_lists_every_model_in_registration_order_with_its_own_fields() -> None:
    assert list(QUOTING_MODELS) == ["fixed", "avellaneda", "pm4"] == list(MODELS)
    for fields in (FixedFields, AvellanedaFields, PM4Fields):
        model = fields.quoting_model
        assert QUOTING_MODELS[model.name] is model
        assert issubclass(MarketParams, fields)
        # every editor field is a parameter of MarketParams
        assert {f.name for f in model.editor_fields} <= set(MarketParams.model_fields)
    # the fields keep their order: the shape, each model's own in registration order, the rest
    shape = QuoteShape.model_fields
    own = [n for f in (FixedFields, AvellanedaFields, PM4Fields) for n in f.model_fields if n not in shape]
    rest = [n for n in CommonParams.model_fields if n not in shape]
    assert list(MarketParams.model_fields) == [*shape, *own, *rest]
    assert own == ["gamma", "horizon_s", "kappa", "k_vol", "skew_ticks", "gamma_a", "j_min", "j_max", "c_risk",
                   "kappa0"]


def test_only_fixed_holds_its_quotes_and_leaves_the_reward_band_alone() -> None:
    assert [m.name for m in QUOTING_MODELS.values() if m.holds_quotes] == ["fixed"]
    assert [m.name for m in QUOTING_MODELS.values() if not m.chases_rewards] == ["fixed"]


@pytest.mark.parametrize("value", ["pm5", "", "FIXED", 3, None])
def test_an_unknown_model_names_the_field_and_the_allowed_ones(value: object) -> None:
    with pytest.raises(ConfigError) as e:
        MarketParams().updated(model=value)
    assert str(e.value) == f"model: Input should be 'fixed', 'avellaneda' or 'pm4' (got {value!r})"


def test_a_bad_default_model_names_the_variable_and_the_allowed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYMM_DEFAULT_MODEL", "bad")
    with pytest.raises(ConfigError) as e:
        load_settings(_env_file=None)
    assert str(e.value) == "POLYMM_DEFAULT_MODEL: Input should be 'fixed', 'avellaneda' or 'pm4' (got 'bad')"
    monkeypatch.setenv("POLYMM_DEFAULT_MODEL", "avellaneda")
    assert load_settings(_env_file=None).default_params().model == "avellaneda"


def test_the_strategy_and_the_order_plan_dispatch_through_the_registry() -> None:
    view = book_view(T01, {4800: 200.0}, {5200: 200.0})
    for name, model in QUOTING_MODELS.items():
        p = MarketParams(model=name)
        d = MarketBrain(market_on(T01)).decide(view, D(0), p, 1000.0)
        assert d.model == name and d.targets.quotes
        # the targets already rest and nothing moved: a model that holds its quotes has nothing to do,
        # the others re-diff and keep every order
        resting = [SimpleNamespace(order_id=str(i), side=q.side, price=q.price, size=q.size, remaining=q.size,
                                   placed_at=1000.0)
                   for i, q in enumerate(d.targets.quotes)]
        plan = plan_orders(resting, d.targets, view, p, T01, epoch_changed=False, forced=False,
                           last_fair=d.targets.fair, now=1001.0)
        if model.holds_quotes:
            assert plan is None
        else:
            assert plan is not None and plan.cancel == () and plan.place == ()
        assert MarketBrain(market_on(T01)).decide(view, D(0), p.updated(enabled=False), 1000.0).targets.quotes == ()


async def test_the_editor_shows_the_selected_models_own_fields() -> None:
    app = build_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ParamsEditor))
        editor = app.screen
        assert isinstance(editor, ParamsEditor)
        running = app.engine.params[editor.condition_id]
        assert running.model == "pm4"

        def shown() -> list[str]:
            return [i.id.removeprefix("edit-") for i in editor.query(Input) if i.id]

        def group(model: str) -> str:
            return str(editor.query_one(f"#group-model-{model}").render())

        # every parameter the market file takes is offered; the selected model's group says it is in use
        assert {"spread", "size", "layers", "layer_step", "position_limit", "skew_ticks", "gamma"} <= set(shown())
        assert "0–100; pm4 price shift at the limit" in str(editor.query_one("#hint-skew_ticks").render())
        assert group("pm4").endswith("— in use") and "used when the model is avellaneda" in group("avellaneda")
        select = editor.query_one("#edit-model", Select)
        select.value = "fixed"
        await until(pilot, lambda: "used when the model is pm4" in group("pm4"))
        assert editor.changes() == {"model": "fixed"}
        select.value = "pm4"
        await until(pilot, lambda: group("pm4").endswith("— in use"))
        assert editor.query_one("#edit-skew_ticks", Input).value == f"{running.skew_ticks:g}"
        assert editor.changes() == {}
