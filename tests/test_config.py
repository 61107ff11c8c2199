"""Settings from the environment: errors name ``POLYMM_<FIELD>`` and the allowed values; secrets never
leak. Per-market parameters: checked against the market, rejected edits leave the value unchanged."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from polymm.config import ConfigError, MarketParams, Settings, load_settings
from polymm.domain.market import Market
from polymm.domain.prices import Tick

KEY = "0x" + "a1" * 32
API_KEY = "11111111-2222-3333-4444-555555555555"
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
PASSPHRASE = "passphrase-do-not-show-9f3k"
SECRETS = (KEY, KEY[2:], API_KEY, API_SECRET, PASSPHRASE)


@pytest.fixture
def config_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no POLYMM_* variables and a cwd without a developer's ``.env``."""
    for name in list(os.environ):
        if name.upper().startswith("POLYMM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _load(**overrides: object) -> Settings:
    return load_settings(_env_file=None, **overrides)


def _error(env: pytest.MonkeyPatch, **variables: str) -> str:
    for k, v in variables.items():
        env.setenv(k, v)
    with pytest.raises(ConfigError) as info:
        _load()
    return str(info.value)


def _assert_no_secrets(text: str) -> None:
    for s in SECRETS:
        assert s not in text


# ---------------------------------------------------------------- Settings


def test_defaults(config_env: pytest.MonkeyPatch) -> None:
    s = _load()
    assert s.mode == "paper"
    assert s.clob_url == "https://clob.polymarket.com"
    assert s.ws_url == "wss://ws-subscriptions-clob.polymarket.com"
    assert s.chain_id == 137
    assert s.private_key is None and s.api_key is None
    assert not s.has_live_credentials
    assert s.market_ids == []
    p = s.default_params()
    assert (p.spread, p.size, p.layers, p.position_limit) == (Decimal("0.04"), Decimal(10), 1, Decimal(100))


def test_values_from_the_environment(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("POLYMM_MODE", "demo")
    config_env.setenv("POLYMM_CLOB_URL", "http://127.0.0.1:8080/")
    config_env.setenv("POLYMM_WS_URL", "ws://127.0.0.1:8080/")
    config_env.setenv("POLYMM_CHAIN_ID", "80002")
    config_env.setenv("POLYMM_MARKETS", " 0xa, ,0xb ")
    config_env.setenv("POLYMM_DEFAULT_SPREAD", "0.06")
    config_env.setenv("POLYMM_LOG_LEVEL", "DEBUG")
    s = _load()
    assert s.mode == "demo"
    assert s.clob_url == "http://127.0.0.1:8080"  # trailing slash stripped
    assert s.ws_url == "ws://127.0.0.1:8080"
    assert s.chain_id == 80002
    assert s.market_ids == ["0xa", "0xb"]
    assert s.default_params().spread == Decimal("0.06")
    assert s.log_level == "DEBUG"
    assert _load(mode="live").mode == "live"  # explicit overrides win


def test_dotenv_in_cwd_is_read_unless_disabled(config_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLYMM_MODE=demo\n")
    assert load_settings().mode == "demo"
    assert _load().mode == "paper"


@pytest.mark.parametrize(
    ("var", "value", "allowed"),
    [
        ("POLYMM_MODE", "bogus", ["'paper'", "'live'", "'demo'"]),
        ("POLYMM_CLOB_URL", "ftp://x", ["http://", "https://"]),
        ("POLYMM_GAMMA_URL", "gamma.example", ["http://", "https://"]),
        ("POLYMM_DATA_URL", "wss://x", ["http://", "https://"]),
        ("POLYMM_WS_URL", "https://x", ["ws://", "wss://"]),
        ("POLYMM_CHAIN_ID", "1", ["137", "80002"]),
        ("POLYMM_SIGNATURE_TYPE", "9", ["0", "1", "2", "3"]),
        ("POLYMM_LOG_LEVEL", "LOUD", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("POLYMM_MAX_MARKETS", "0", ["greater than or equal to 1"]),
        ("POLYMM_MAX_MARKETS", "501", ["less than or equal to 500"]),
        ("POLYMM_RATE_ORDERS_BURST", "10", ["greater than or equal to 15"]),
        ("POLYMM_DEFAULT_SPREAD", "1.5", ["less than 1"]),
        ("POLYMM_DEFAULT_LAYERS", "many", ["integer"]),
        ("POLYMM_FUNDER", "0x123", ["0x-prefixed 20-byte address"]),
        ("POLYMM_PRIVATE_KEY", "0x1234", ["64 hex characters"]),
        ("POLYMM_PRIVATE_KEY", "zz" * 32, ["64 hex characters"]),
    ],
)
def test_bad_values_name_the_variable_and_the_allowed_values(
    config_env: pytest.MonkeyPatch, var: str, value: str, allowed: list[str]
) -> None:
    msg = _error(config_env, **{var: value})
    assert msg.startswith(var + ":")
    for a in allowed:
        assert a in msg
    if "KEY" in var:
        assert value not in msg and "<hidden>" in msg
    else:
        assert f"(got {value!r})" in msg or f"(got {value})" in msg  # non-secret input is echoed back


def test_every_bad_variable_is_reported_at_once(config_env: pytest.MonkeyPatch) -> None:
    msg = _error(config_env, POLYMM_MODE="x", POLYMM_WS_URL="y", POLYMM_MAX_MARKETS="0")
    assert all(v in msg for v in ("POLYMM_MODE", "POLYMM_WS_URL", "POLYMM_MAX_MARKETS"))


@pytest.mark.parametrize("key", [KEY, KEY[2:], KEY.upper().replace("0X", "0x")])
def test_private_key_formats(config_env: pytest.MonkeyPatch, key: str) -> None:
    config_env.setenv("POLYMM_PRIVATE_KEY", key)
    s = _load()
    assert s.private_key is not None and s.private_key.get_secret_value() == key
    assert s.has_live_credentials


def test_empty_private_key_is_none(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("POLYMM_PRIVATE_KEY", "")
    assert _load().private_key is None


@pytest.mark.parametrize(
    "given",
    [
        {"POLYMM_API_KEY": API_KEY},
        {"POLYMM_API_SECRET": API_SECRET},
        {"POLYMM_API_KEY": API_KEY, "POLYMM_API_PASSPHRASE": PASSPHRASE},
    ],
)
def test_api_credentials_go_together_and_the_error_shows_no_secret(
    config_env: pytest.MonkeyPatch, given: dict[str, str]
) -> None:
    config_env.setenv("POLYMM_PRIVATE_KEY", KEY)
    msg = _error(config_env, **given)
    for var in ("POLYMM_API_KEY", "POLYMM_API_SECRET", "POLYMM_API_PASSPHRASE"):
        assert var in msg
    assert "go together" in msg
    assert "POLYMM_VALUE" not in msg  # a rule over several fields is not a variable of its own
    _assert_no_secrets(msg)


def test_bad_key_error_shows_no_secret_even_next_to_other_errors(config_env: pytest.MonkeyPatch) -> None:
    msg = _error(config_env, POLYMM_PRIVATE_KEY=KEY[:-2], POLYMM_API_KEY=API_KEY, POLYMM_MODE="x")
    assert "POLYMM_PRIVATE_KEY" in msg and "POLYMM_MODE" in msg
    _assert_no_secrets(msg)
    assert KEY[:-2] not in msg and KEY[2:-2] not in msg


def test_secrets_never_in_repr_str_or_dumps(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("POLYMM_PRIVATE_KEY", KEY)
    config_env.setenv("POLYMM_API_KEY", API_KEY)
    config_env.setenv("POLYMM_API_SECRET", API_SECRET)
    config_env.setenv("POLYMM_API_PASSPHRASE", PASSPHRASE)
    s = _load()
    assert s.api_secret is not None and s.api_secret.get_secret_value() == API_SECRET  # really loaded
    for text in (
        repr(s),
        str(s),
        s.model_dump_json(),
        str(s.model_dump()),
        repr(s.model_dump()),
        f"{s}",
        f"{s!r}",
        repr(s.private_key),
        str(s.api_passphrase),
    ):
        _assert_no_secrets(text)
    assert "**********" in s.model_dump_json()


def test_settings_are_frozen(config_env: pytest.MonkeyPatch) -> None:
    s = _load()
    with pytest.raises(pydantic.ValidationError):
        s.mode = "live"  # type: ignore[misc]
    assert s.mode == "paper"


# ---------------------------------------------------------------- MarketParams


def _market(tick: str = "0.01", min_size: str = "5") -> Market:
    return Market("0x" + "c" * 64, "1", "2", "q?", Tick.parse(tick), min_order_size=Decimal(min_size))


def test_check_for_accepts_valid_params() -> None:
    p = MarketParams(spread=Decimal("0.04"), size=Decimal(5), layer_step=Decimal("0.02"))
    assert p.check_for(_market()) is p
    assert MarketParams(spread=Decimal("0.002"), layer_step=Decimal("0.001")).check_for(_market("0.001"))


@pytest.mark.parametrize(
    ("params", "market", "expected"),
    [
        ({"spread": Decimal("0.045")}, _market("0.01"), ["spread", "multiple of the tick 0.01", "0.045"]),
        ({"spread": Decimal("0.01")}, _market("0.01"), ["spread", "at least two ticks", "0.02"]),
        ({"spread": Decimal("0.0025")}, _market("0.0025"), ["spread", "at least two ticks", "0.0050"]),
        ({"layer_step": Decimal("0.015")}, _market("0.01"), ["layer_step", "multiple of the tick 0.01"]),
        ({"size": Decimal("4.99")}, _market("0.01"), ["size", "at least the market minimum 5", "4.99"]),
        ({"size": Decimal(10)}, _market("0.01", "15"), ["size", "market minimum 15"]),
        ({"spread": Decimal("0.05")}, _market("0.1"), ["spread", "multiple of the tick 0.1"]),
    ],
)
def test_check_for_names_the_field_and_the_rule(params: dict, market: Market, expected: list[str]) -> None:
    p = MarketParams(**params)
    with pytest.raises(ConfigError) as info:
        p.check_for(market)
    for e in expected:
        assert e in str(info.value)


def test_check_for_lists_every_problem() -> None:
    p = MarketParams(spread=Decimal("0.015"), layer_step=Decimal("0.005"), size=Decimal(1))
    with pytest.raises(ConfigError) as info:
        p.check_for(_market())
    msg = str(info.value)
    assert "spread:" in msg and "layer_step:" in msg and "size:" in msg


def test_updated_returns_a_new_validated_value() -> None:
    p = MarketParams()
    q = p.updated(spread="0.06", layers=3)
    assert (q.spread, q.layers) == (Decimal("0.06"), 3)
    assert (p.spread, p.layers) == (Decimal("0.04"), 1)
    assert q.size == p.size and q is not p


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"spread": "1.5"}, ["spread", "less than 1", "(got 1.5)"]),
        ({"spread": "0"}, ["spread", "greater than 0", "(got 0)"]),
        ({"layers": 9}, ["layers", "less than or equal to 5", "9"]),
        ({"size": "10.005"}, ["size", "at most 2 decimals"]),
        ({"size": "-1"}, ["size", "greater than 0", "(got -1)"]),
        ({"position_limit": "abc"}, ["position_limit", "decimal", "(got 'abc')"]),
        ({"requote_threshold": "-0.1"}, ["requote_threshold", "greater than or equal to 0"]),
        ({"enabled": "maybe"}, ["enabled", "boolean"]),
        ({"sprad": "0.05"}, ["sprad", "Extra inputs are not permitted"]),
    ],
)
def test_rejected_update_names_the_field_and_leaves_the_value_unchanged(
    change: dict, expected: list[str]
) -> None:
    p = MarketParams(spread=Decimal("0.03"), size=Decimal(20), layers=2)
    before = p.model_dump()
    with pytest.raises(ConfigError) as info:
        p.updated(**change)
    for e in expected:
        assert e in str(info.value)
    assert p.model_dump() == before


def test_market_params_are_frozen_and_validated_on_construction() -> None:
    p = MarketParams()
    with pytest.raises(pydantic.ValidationError):
        p.spread = Decimal("0.5")  # type: ignore[misc]
    assert p.spread == Decimal("0.04")
    with pytest.raises(pydantic.ValidationError):
        MarketParams(layers=0)


@pytest.mark.parametrize(
    ("var", "value", "attr", "expected"),
    [
        ("POLYMM_CHAIN_ID", "137", "chain_id", 137),
        ("POLYMM_CHAIN_ID", "80002", "chain_id", 80002),
        ("POLYMM_SIGNATURE_TYPE", "0", "signature_type", 0),
        ("POLYMM_SIGNATURE_TYPE", "2", "signature_type", 2),
    ],
)
def test_integer_choices_from_the_environment(
    config_env: pytest.MonkeyPatch, var: str, value: str, attr: str, expected: int
) -> None:
    config_env.setenv(var, value)
    assert getattr(_load(), attr) == expected


def test_every_setting_is_documented_in_env_example():
    """Each Settings field has a POLYMM_<NAME> line in .env.example (the operator's reference)."""
    from pathlib import Path

    from polymm.config import Settings

    text = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    missing = [n for n in Settings.model_fields if f"POLYMM_{n.upper()}=" not in text]
    assert missing == []


# ---------------------------------------------------------------- values shown as typed
@pytest.mark.parametrize(("change", "message"), [
    ({"spread": Decimal("-1")}, "spread: Input should be greater than 0 (got -1)"),
    ({"size": Decimal("0")}, "size: Input should be greater than 0 (got 0)"),
    ({"spread": Decimal("1.50")}, "spread: Input should be less than 1 (got 1.50)"),
    ({"size": Decimal("1E+6")}, "size: Input should be less than or equal to 100000 (got 1000000)"),
    ({"layers": 0}, "layers: Input should be greater than or equal to 1 (got 0)"),
    ({"size_mult": 5.000000000000001 + 1}, "size_mult: Input should be less than or equal to 5 (got 6)"),  # noise
])
def test_the_parameter_editors_values_are_shown_as_typed_never_as_a_decimal_repr(change: dict, message: str) -> None:
    """The dashboard's editor hands ``updated`` Decimals: the error shows them as the user typed them."""
    with pytest.raises(ConfigError) as info:
        MarketParams().updated(**change)
    assert str(info.value) == message
    assert "Decimal(" not in str(info.value) and "E+" not in str(info.value)


def test_settings_errors_show_the_value_as_typed(config_env: pytest.MonkeyPatch) -> None:
    assert "POLYMM_DEFAULT_SPREAD: Input should be greater than 0 (got -1)" in _error(config_env,
                                                                                     POLYMM_DEFAULT_SPREAD="-1")
    config_env.delenv("POLYMM_DEFAULT_SPREAD")
    with pytest.raises(ConfigError) as info:
        _load(default_size=Decimal("0"), max_order_size=Decimal("-2.50"))
    assert str(info.value) == ("POLYMM_DEFAULT_SIZE: Input should be greater than 0 (got 0); "
                               "POLYMM_MAX_ORDER_SIZE: Input should be greater than 0 (got -2.50)")


def test_check_for_and_the_caps_write_ticks_and_values_plainly() -> None:
    with pytest.raises(ConfigError) as info:
        MarketParams(spread=Decimal("0.01"), size=Decimal("4.00")).check_for(_market("0.01", "5.000"))
    assert str(info.value) == ("spread: must be at least two ticks, 0.02 (got 0.01); "
                               "size: must be at least the market minimum 5 (got 4.00)")
    with pytest.raises(ConfigError) as info:
        MarketParams(size=Decimal("600")).check_caps(Decimal("5E+2"), Decimal("1000"))
    assert str(info.value) == "size: must be at most the risk cap 500 (got 600)"


def test_a_market_files_bad_value_is_shown_as_written_in_the_file() -> None:
    from polymm.engine.watchlist import parse_market_file

    cid = "0x" + "ab" * 32
    parsed = parse_market_file(f"{cid} spread=-1\n{cid.replace('ab', 'cd')} size=0 layers=2\n"
                               f"{cid.replace('ab', 'ef')} spread=abc\n")
    assert [e.message for e in parsed.errors] == [
        "spread: Input should be greater than 0 (got -1)",
        "size: Input should be greater than 0 (got 0)",
        "spread: Input should be a valid decimal (got 'abc')",
    ]
