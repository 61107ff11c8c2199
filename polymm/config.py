"""Settings from the environment and ``.env`` (pydantic-settings), and per-market parameters.

Every setting is an environment variable ``POLYMM_<NAME>`` (see ``.env.example``). A bad value
stops start-up with ``ConfigError`` naming the variable and the allowed values. Secrets are
``SecretStr``: they never appear in a repr, a log line or on screen.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.model_state import EwmaParams
from .domain.params import ConfigError, MarketParams, check_model_name, describe_validation_error
from .domain.prices import human
from .domain.risk import RiskLimits
from .domain.signals import EventConfig, HourConfig, ParityConfig, SignalsConfig

__all__ = ["ConfigError", "MarketParams", "Settings", "load_settings"]

#: MarketParams' own defaults: the model parameters' settings default to them (one source)
_P = {name: f.default for name, f in MarketParams.model_fields.items()}

ENV_PREFIX = "POLYMM_"

#: settings that must be above another (the upper end of a range → its lower end)
_ABOVE = {"select_price_max": "select_price_min", "select_max_hours_to_end": "select_min_hours_to_end",
          "select_max_spread": "select_min_spread", "regime_slow_half_life_s": "regime_fast_half_life_s"}


class Settings(BaseSettings):
    """Process settings. ``mode``: ``paper`` (default, simulated fills on live data), ``live`` (real
    orders; also needs ``--live`` and a confirmation) or ``demo`` (the embedded stand-in)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    mode: Literal["paper", "live", "demo"] = "paper"
    clob_url: str = "https://clob.polymarket.com"
    ws_url: str = "wss://ws-subscriptions-clob.polymarket.com"
    gamma_url: str = "https://gamma-api.polymarket.com"
    data_url: str = "https://data-api.polymarket.com"
    chain_id: Literal[137, 80002] = 137

    private_key: SecretStr | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None
    funder: str | None = None
    signature_type: Literal[0, 1, 2, 3] = 0

    markets: str = ""  # comma-separated condition ids to trade; empty = automatic selection (below)
    max_markets: int = Field(6, ge=1, le=500)
    # automatic selection (no market list given): discovery keeps the open markets that pass these, ranks
    # them by score and takes the first max_markets; the dashboard's picker shows the same selection
    # (polymm/venue/discovery.py selection_filters). None: no bound.
    select_min_volume_24h: float = Field(0.0, ge=0)  # USDC traded in the last 24 h
    select_min_volume_1wk: float = Field(0.0, ge=0)  # USDC traded in the last 7 days (Gamma's volume1wk); 0: any
    select_min_spread: float | None = Field(None, gt=0, lt=1)  # skip markets tighter than this (too competitive)
    select_max_spread: float | None = Field(None, gt=0, lt=1)  # best ask − best bid
    select_min_hours_to_end: float = Field(24.0, ge=0, le=100_000)  # hours left to the end date
    select_max_hours_to_end: float | None = Field(None, gt=0, le=100_000)
    select_price_min: float = Field(0.10, ge=0, le=1)  # YES price (mid, else last trade)
    select_price_max: float = Field(0.90, ge=0, le=1)
    select_rewards_only: bool = False  # only markets paying liquidity rewards
    select_min_liquidity: float = Field(0.0, ge=0)  # Gamma's liquidity (USDC resting in the book); 0: any
    # the trend: the last day's volume against the week's daily average, volume24hr / (volume1wk / 7) (1: steady,
    # 0.3: the last day traded 30% of an average day); the score: discovery's Candidate.score, its ranking. 0: any
    select_min_trend: float = Field(0.0, ge=0, le=1000)
    select_min_score: float = Field(0.0, ge=0, le=1000)
    default_spread: Decimal = Field(Decimal("0.04"), gt=0, lt=1)
    default_size: Decimal = Field(Decimal("10"), gt=0)
    default_layers: int = Field(1, ge=1, le=5)
    default_requote_threshold: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    default_position_limit: Decimal = Field(Decimal("100"), gt=0)
    # order upkeep (per market: tolerance_ticks, max_order_age_s, fee_ticks): a resting order this many ticks from
    # its target keeps its queue place; an order older than this is replaced; extra half-spread of the adaptive models
    default_tolerance_ticks: int = Field(_P["tolerance_ticks"], ge=0, le=100)
    default_max_order_age_s: float = Field(_P["max_order_age_s"], gt=0, le=86_400)
    default_fee_ticks: float = Field(_P["fee_ticks"], ge=0, le=100)
    # sizing in dollars (0: not used): the inner layer's size as dollars at the mid instead of shares, the dollars
    # one quote may lock at most, and what a side's quotes together may lock (a bid locks its price a share, an
    # ask 1 − its price)
    default_size_usd: Decimal = Field(_P["size_usd"], ge=0, le=10_000_000)
    default_max_size_usd: Decimal = Field(_P["max_size_usd"], ge=0, le=10_000_000)
    default_max_notional_side: Decimal = Field(_P["max_notional_side"], ge=0, le=100_000_000)
    # the outer layers moved away from the book by up to N ticks and shrunk by up to a fraction of their size,
    # drawn (deterministically) from the seed, the market, the layer and its inner price (0: no jitter)
    default_jitter_ticks: int = Field(_P["jitter_ticks"], ge=0, le=20)
    default_jitter_size: float = Field(_P["jitter_size"], ge=0, lt=1)
    jitter_seed: int = Field(_P["jitter_seed"], ge=0, le=2**32 - 1)

    # pm4, with the parameters below: chosen by bench/strategy_bench.py (docs/strategy.md has the tables)
    default_model: str = "pm4"  # a registered quoting model (domain/params.py QUOTING_MODELS)
    # model parameters (polymm/domain/params.py MarketParams explains each; the defaults are its own)
    default_gamma: float = Field(_P["gamma"], ge=0, le=100)  # avellaneda: risk aversion γ per USDC
    default_horizon_s: float = Field(_P["horizon_s"], gt=0, le=2_592_000)  # avellaneda: T − t in seconds
    default_kappa: float = Field(_P["kappa"], gt=0, le=100_000)  # avellaneda: κ per price unit until estimated
    default_gamma_a: float = Field(_P["gamma_a"], ge=0, le=10)  # pm4: exponent of 1/(1 − |q̂|)^γa
    default_k_vol: float = Field(_P["k_vol"], ge=0, le=50)  # pm4: half-spread per σ over one second
    default_skew_ticks: float = Field(_P["skew_ticks"], ge=0, le=100)  # pm4: price shift at the limit, ticks
    default_j_min: float = Field(_P["j_min"], gt=0, le=1)  # pm4: the volatility multiplier J at least (lambda_min)
    default_j_max: float = Field(_P["j_max"], ge=1, le=10)  # pm4: and at most (lambda_max)
    default_c_risk: float = Field(_P["c_risk"], ge=0, le=1)  # pm4: liquidity risk premium c_risk/κ (0: off)
    default_kappa0: float = Field(_P["kappa0"], gt=0, le=1000)  # pm4: κ = kappa0 · depth/size

    # risk (polymm/engine/risk.py explains every rule)
    risk_mode: Literal["enforce", "log"] = "enforce"  # log: vetoes and limit breaches are only logged
    max_total_position: Decimal = Field(Decimal("1000"), gt=0)
    max_order_size: Decimal = Field(Decimal("500"), gt=0)
    total_capital: Decimal = Field(Decimal("1000"), gt=0)  # dollars allocated across the markets
    max_market_exposure: Decimal = Field(Decimal("250"), gt=0)
    max_total_exposure: Decimal = Field(Decimal("1000"), gt=0)
    max_group_loss: Decimal = Field(Decimal("300"), gt=0)
    max_correlated_exposure: Decimal = Field(Decimal("500"), gt=0)
    daily_loss_limit: Decimal = Field(Decimal("100"), gt=0)
    # soft cap: a warning (event log, metric, amber status) once the total position, the total, worst market's or
    # correlated exposure uses this percentage of its hard cap; again after it fell 5 points below (100: off)
    soft_cap_pct: float = Field(80.0, gt=0, le=100)
    loss_tighten_min: float = Field(0.25, gt=0, le=1)
    error_cooldown_errors: int = Field(5, ge=1, le=10_000)
    error_cooldown_s: float = Field(30.0, ge=0, le=3600)
    reduce_only_hours: float = Field(2.0, ge=0, le=720)
    # event protection: no quotes this many hours before a market's end date (0 = never), and from this many
    # minutes before its game starts (Gamma gameStartTime; always once the game has started)
    halt_before_end_h: float = Field(0.5, ge=0, le=8760)
    halt_before_start_min: float = Field(10.0, ge=0, le=10_080)
    # cool-off: no quotes for cool_off_s seconds after a jump of the mid (at least jump_min_ticks ticks and
    # jump_k times its usual move per book update) or a sweep of sweep_levels levels; 0 = off
    cool_off_s: float = Field(0.0, ge=0, le=3600)
    jump_k: float = Field(6.0, gt=0, le=1000)
    jump_min_ticks: float = Field(3.0, gt=0, le=1000)
    sweep_levels: int = Field(3, ge=1, le=100)
    kelly_fraction: float = Field(0.0, ge=0, le=1)  # 0 = no Kelly cap
    kelly_horizon_hours: float = Field(72.0, gt=0, le=10_000)
    kelly_eta_time: float = Field(0.5, ge=0, le=10)  # time factor = (hours to end / horizon)^eta_time
    kelly_slippage: float = Field(0.05, ge=0, le=1)
    # signals (polymm/domain/signals.py explains each; the defaults are the measured ones). Flow: taker buys vs
    # sells over flow_window_s skew the quotes (up to flow_max_skew_ticks) and widen them (1 + flow_widen_k·|imb|)
    # once |imbalance| ≥ flow_imbalance_threshold
    flow_window_s: float = Field(60.0, gt=0, le=86_400)
    flow_imbalance_threshold: float = Field(0.0, ge=0, lt=1)
    flow_max_skew_ticks: float = Field(2.0, ge=0, le=100)
    flow_widen_k: float = Field(0.5, ge=0, le=100)
    # volatility: σ is an EWMA of squared mid changes with vol_half_life_s; the regime J is the fast over the slow
    # EWMA of |Δmid| (the regime windows), clipped per market to [j_min, j_max] (POLYMM_DEFAULT_J_MIN/_MAX)
    vol_half_life_s: float = Field(60.0, gt=0, le=86_400)
    alpha_fair: float = Field(0.2, gt=0, le=1)  # the fair value's EWMA weight per book update (1: the last microprice)
    # warm-up: a market is not quoted until its book has been seen this many seconds (its signals' windows fill)
    warmup_s: float = Field(0.0, ge=0, le=86_400)
    regime_fast_half_life_s: float = Field(10.0, gt=0, le=86_400)
    regime_slow_half_life_s: float = Field(300.0, gt=0, le=86_400)
    # toxic flow: the share of our fills marked out adversely at 10 s; from toxic_threshold on the spread widens by
    # 1 + toxic_widen_k·(toxicity − threshold)/(1 − threshold)
    toxic_threshold: float = Field(0.5, ge=0, lt=1)
    toxic_widen_k: float = Field(1.0, ge=0, le=100)
    toxic_half_life_s: float = Field(0.0, ge=0, le=86_400)  # a fill's weight halves this often (0: no fading)
    # liquidity regime (HIGH / NORMAL / LOW / CRISIS from the spread in ticks and the top levels' depth): HIGH to LOW
    # from the median of the last regime_window books (CRISIS from each book alone); the spread × regime_high_widen
    # in HIGH (≤ 1: tighter) and × regime_low_widen in LOW (1: the regime shown, not acted on)
    regime_window: int = Field(1, ge=1, le=10_000)
    regime_high_widen: float = Field(1.0, ge=0.1, le=1)
    regime_low_widen: float = Field(1.0, ge=1, le=10)
    # competitor pennying our quotes: competitor_min_events improvements within competitor_window_s flag it; then
    # "back_off" (widen each side by competitor_back_off_ticks) or "match" (join the best price), and the sizes
    # × competitor_size_factor (1: the price response only)
    competitor_window_s: float = Field(30.0, gt=0, le=86_400)
    competitor_min_events: int = Field(3, ge=1, le=1_000)
    competitor_action: Literal["back_off", "match"] = "back_off"
    competitor_back_off_ticks: int = Field(1, ge=0, le=100)
    competitor_size_factor: float = Field(1.0, ge=0.05, le=1)
    # volume spikes: the last minute's prints ≥ spike_k × the usual minute; spike_widen multiplies the spread meanwhile
    # (1: shown, not acted on). Time of day: an hour that moves more than the day's mean widens by that ratio, at most
    # hour_widen_max (1: learned and shown, not acted on). max_widen caps the signals' combined multiplier (0: none)
    spike_k: float = Field(3.0, gt=1, le=1_000)
    spike_widen: float = Field(1.0, ge=1, le=10)
    hour_widen_max: float = Field(1.0, ge=1, le=10)
    max_widen: float = Field(0.0, ge=0, le=100)

    # YES/NO parity arbitrage (domain/signals.py ParityArb, domain/pipeline.py parity_take): a gap in the book
    # (YES ask + NO ask under $1, or the bids' mirror) worth arb_min_profit_bps a pair after the taker fees
    # (arb_fee_rate · p · (1 − p) a leg; 0.07 is the highest documented rate) is shown and logged with its
    # profit and size ("alert"), also taken with two fill-and-kill orders within the risk limits ("take"),
    # or ignored ("off"); at most arb_max_size shares a take, once per arb_cooldown_s per market
    arb_mode: Literal["off", "alert", "take"] = "alert"
    arb_min_profit_bps: float = Field(10.0, ge=0, le=5_000)
    arb_fee_rate: float = Field(0.07, ge=0, le=0.25)
    arb_max_size: float = Field(50.0, gt=0, le=1_000_000)
    arb_cooldown_s: float = Field(5.0, ge=0, le=3600)
    # latency alerts (0 = off): a warning in the event log while the last minute's order round trip p99 (sending
    # a batch to the venue's answer) or the market data's delay p99 (the venue's timestamp to receipt, clock
    # offset included) is over its threshold, and a note once it is back under
    alert_order_latency_ms: float = Field(1000.0, ge=0, le=600_000)
    alert_feed_delay_ms: float = Field(5000.0, ge=0, le=600_000)
    balance_drop_alert: float = Field(0.2, gt=0, lt=1)
    balance_check_s: float = Field(30.0, gt=0, le=3600)
    feed_error_kill_s: float = Field(60.0, gt=0, le=3600)
    feed_stale_s: float = Field(10.0, gt=0, le=600)  # silent this long while REST moved = frozen
    feed_assets_per_connection: int = Field(200, ge=2, le=2000)
    feed_hash_check_s: float = Field(30.0, gt=0, le=3600)
    feed_rest_poll_s: float = Field(2.0, gt=0, le=600)
    # a dropped market-data socket reconnects after feed_reconnect_min_s, the wait doubling on each failed try up
    # to feed_reconnect_max_s (each wait jittered by ±50%)
    feed_reconnect_min_s: float = Field(0.25, gt=0, le=60)
    feed_reconnect_max_s: float = Field(10.0, gt=0, le=600)
    record_dir: str = ""  # when set, every market frame is also recorded there (as `polymm record`)
    # SQLite journal (polymm/journal.py). Empty: the programs use ~/.local/state/polymm/journal-<mode>.sqlite
    # in paper and live mode and none in demo mode (its venue is new every run); "off": no journal.
    journal_path: str = ""
    # JSONL event log (polymm/eventlog.py): one JSON object a line for every decision, fill and risk event, rotated
    # at event_log_max_mb, event_log_files old files kept. Empty: none
    event_log: str = ""
    event_log_max_mb: float = Field(50.0, gt=0, le=100_000)
    event_log_files: int = Field(5, ge=1, le=1000)
    # how long signing in, the start-up market listing and the first catch-up ride out a busy or
    # unreachable venue (425, 429, 5xx, no answer) before a clear final error
    venue_retry_s: float = Field(120.0, ge=0, le=3600)
    max_errors_10s: int = Field(20, ge=1, le=10_000)
    heartbeat_timeout_s: float = Field(15.0, gt=0, le=600)
    quote_interval_s: float = Field(1.0, gt=0, le=60)  # fallback step of a quiet market
    quote_interval_fast_s: float = Field(0.25, gt=0, le=60)  # fallback step of an active market
    # sleep mode: a market whose book has not changed for sleep_after_s seconds (0 = never) is stepped every
    # quote_interval_sleep_s only (a book change still steps it at once)
    sleep_after_s: float = Field(300.0, ge=0, le=86_400)
    quote_interval_sleep_s: float = Field(10.0, gt=0, le=3600)
    min_step_gap_s: float = Field(0.005, ge=0, le=10)  # while the strategy is busy: one step per gap per market
    # the venue's per-signer rate limits (docs/protocol.md §8; standard tier: 40 orders/s, burst 60; 80
    # cancels/s, burst 120). polymm paces itself by them (venue/ratelimit.py), ``rate_headroom`` below.
    # A higher tier (by 30-day volume) raises them; a lower setting than the venue's is always safe.
    rate_orders_per_s: float = Field(40.0, gt=0, le=100_000)
    rate_orders_burst: int = Field(60, ge=15, le=1_000_000)  # ≥ one batch of 15 orders
    rate_cancels_per_s: float = Field(80.0, gt=0, le=100_000)
    rate_cancels_burst: int = Field(120, ge=1, le=1_000_000)
    rate_headroom: float = Field(0.1, ge=0, lt=1)  # run this fraction below the venue's rates and bursts
    demo_seed: int = 7
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object a line (ts, level, logger, msg, fields)
    log_file: str = ""  # the log lines to this file too (polymm-tui: only there), rotated at 20 MB, 5 kept
    # curated markets, one a line (polymm/engine/watchlist.py); watched while running. Empty: discovery
    market_file: str = ""
    metrics_port: int = Field(0, ge=0, le=65535)  # serve metrics (polymm/metrics.py) on this port; 0 = off

    # how often Gamma's and the CLOB's listings of the traded markets are read (closed, not accepting orders,
    # or disagreeing: the market stops quoting until both allow it)
    listing_check_s: float = Field(60.0, ge=1, le=3600)

    # how often the liquidity rewards the venue says we earned today are read (live and demo mode)
    rewards_check_s: float = Field(300.0, ge=5, le=86_400)

    # capital operations (polymm/engine/capital.py; README "Merge, redeem, split"): merge YES+NO pairs back
    # to pUSD while running once a market holds at least auto_merge_min pairs; redeem resolved markets
    auto_merge: bool = False
    auto_merge_min: Decimal = Field(Decimal("5"), gt=0, le=1_000_000)  # pairs (shares of each side)
    auto_redeem: bool = False
    capital_check_s: float = Field(30.0, ge=1, le=3600)  # how often the engine looks for pairs and payouts
    # EOA wallets (signature type 0) send the transaction themselves over this Polygon JSON-RPC (gas in POL)
    rpc_url: str = "https://polygon-rpc.com"
    # proxy, Safe and deposit wallets (types 1, 2, 3) go through Polymarket's relayer with builder API keys
    relayer_url: str = "https://relayer-v2.polymarket.com"
    builder_api_key: SecretStr | None = None
    builder_secret: SecretStr | None = None
    builder_passphrase: SecretStr | None = None
    relayer_daily_limit: int = Field(100, ge=1, le=1_000_000)  # the builder tier's quota (Unverified: 100)

    @field_validator("chain_id", "signature_type", mode="before")
    @classmethod
    def _int_literal(cls, v: object) -> object:
        # environment values are strings, and an int Literal does not accept "137" on its own
        return int(v) if isinstance(v, str) and v.strip().isdigit() else v

    @field_validator(*_ABOVE)
    @classmethod
    def _above(cls, v: float | None, info: ValidationInfo) -> float | None:
        """The upper end of a range above its lower end (``_ABOVE``)."""
        name = _ABOVE[str(info.field_name)]
        lo = info.data.get(name)
        if v is not None and lo is not None and v <= lo:
            raise ValueError(f"must be above {ENV_PREFIX}{name.upper()} ({human(lo)})")
        return v

    @field_validator("feed_reconnect_max_s")
    @classmethod
    def _reconnect_range(cls, v: float, info: ValidationInfo) -> float:
        """The longest reconnect wait at least the first one."""
        lo = info.data.get("feed_reconnect_min_s")
        if lo is not None and v < lo:
            raise ValueError(f"must be at least {ENV_PREFIX}FEED_RECONNECT_MIN_S ({human(lo)})")
        return v

    @field_validator("default_model", mode="before")
    @classmethod
    def _model(cls, v: object) -> object:
        return check_model_name(v)

    @field_validator("clob_url", "gamma_url", "data_url", "rpc_url", "relayer_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, v: str) -> str:
        if not v.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return v.rstrip("/")

    @field_validator("private_key")
    @classmethod
    def _key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        raw = v.get_secret_value().removeprefix("0x")
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise ValueError("must be 64 hex characters (optionally 0x-prefixed)")
        return v

    @field_validator("funder")
    @classmethod
    def _funder(cls, v: str | None) -> str | None:
        if not v:
            return None
        if not (v.startswith("0x") and len(v) == 42):
            raise ValueError("must be a 0x-prefixed 20-byte address")
        return v

    @model_validator(mode="after")
    def _creds_together(self) -> Settings:
        parts = [self.api_key, self.api_secret, self.api_passphrase]
        if any(parts) and not all(parts):
            raise ValueError("POLYMM_API_KEY, POLYMM_API_SECRET and POLYMM_API_PASSPHRASE go together")
        builder = [self.builder_api_key, self.builder_secret, self.builder_passphrase]
        if any(builder) and not all(builder):
            raise ValueError("POLYMM_BUILDER_API_KEY, POLYMM_BUILDER_SECRET and POLYMM_BUILDER_PASSPHRASE go together")
        return self

    @property
    def builder_creds(self) -> tuple[str, str, str] | None:
        """(key, secret, passphrase) of the builder API key the relayer wants, or None."""
        if self.builder_api_key and self.builder_secret and self.builder_passphrase:
            return (self.builder_api_key.get_secret_value(), self.builder_secret.get_secret_value(),
                    self.builder_passphrase.get_secret_value())
        return None

    @property
    def market_ids(self) -> list[str]:
        return [m.strip() for m in self.markets.split(",") if m.strip()]

    @property
    def has_live_credentials(self) -> bool:
        return self.private_key is not None

    def default_params(self) -> MarketParams:
        return MarketParams(
            spread=self.default_spread,
            size=self.default_size,
            layers=self.default_layers,
            requote_threshold=self.default_requote_threshold,
            position_limit=self.default_position_limit,
            model=self.default_model,
            gamma=self.default_gamma,
            horizon_s=self.default_horizon_s,
            kappa=self.default_kappa,
            gamma_a=self.default_gamma_a,
            k_vol=self.default_k_vol,
            skew_ticks=self.default_skew_ticks,
            j_min=self.default_j_min,
            j_max=self.default_j_max,
            c_risk=self.default_c_risk,
            kappa0=self.default_kappa0,
            size_usd=self.default_size_usd,
            max_size_usd=self.default_max_size_usd,
            max_notional_side=self.default_max_notional_side,
            tolerance_ticks=self.default_tolerance_ticks,
            max_order_age_s=self.default_max_order_age_s,
            fee_ticks=self.default_fee_ticks,
            jitter_ticks=self.default_jitter_ticks,
            jitter_size=self.default_jitter_size,
            jitter_seed=self.jitter_seed,
        )

    def event_config(self) -> EventConfig:
        """The event rules of the signals: reduce-only, and the halts before the end and a game's start."""
        return EventConfig(reduce_only_hours=self.reduce_only_hours, halt_before_end_h=self.halt_before_end_h,
                           halt_before_start_min=self.halt_before_start_min, cool_off_s=self.cool_off_s,
                           jump_k=self.jump_k, jump_min_ticks=self.jump_min_ticks, sweep_levels=self.sweep_levels,
                           spike_k=self.spike_k, spike_widen=self.spike_widen)

    def signals_config(self) -> SignalsConfig:
        """Every market's signal settings (the ``POLYMM_`` signal knobs; the rest at the measured defaults)."""
        d = SignalsConfig()
        return replace(
            d, events=self.event_config(),
            flow=replace(d.flow, window=self.flow_window_s, threshold=self.flow_imbalance_threshold,
                         max_skew_ticks=self.flow_max_skew_ticks, widen_k=self.flow_widen_k),
            volatility=replace(d.volatility, var_half_life=self.vol_half_life_s,
                               fast_half_life=self.regime_fast_half_life_s,
                               slow_half_life=self.regime_slow_half_life_s),
            markouts=replace(d.markouts, threshold=self.toxic_threshold, widen_k=self.toxic_widen_k,
                             half_life_s=self.toxic_half_life_s),
            liquidity=replace(d.liquidity, window=self.regime_window, high_widen=self.regime_high_widen,
                              low_widen=self.regime_low_widen),
            competitor=replace(d.competitor, window=self.competitor_window_s, min_events=self.competitor_min_events,
                               action=self.competitor_action, back_off_ticks=self.competitor_back_off_ticks,
                               size_factor=self.competitor_size_factor),
            parity=ParityConfig(threshold_bps=self.arb_min_profit_bps, fee_rate=self.arb_fee_rate,
                                max_size=self.arb_max_size),
            hours=HourConfig(widen_max=self.hour_widen_max), max_widen=self.max_widen,
        )

    def ewma_params(self) -> EwmaParams:
        """The model state's smoothing: the fair value's weight and σ's half-life (the signals' too)."""
        return replace(EwmaParams(), alpha_fair=self.alpha_fair, vol_half_life=self.vol_half_life_s)

    def risk_limits(self) -> RiskLimits:
        return RiskLimits(
            max_order_size=self.max_order_size,
            max_total_position=self.max_total_position,
            max_market_exposure=self.max_market_exposure,
            max_total_exposure=self.max_total_exposure,
            max_group_loss=self.max_group_loss,
            max_correlated_exposure=self.max_correlated_exposure,
            daily_loss_limit=self.daily_loss_limit,
            tighten_min=self.loss_tighten_min,
            error_cooldown_errors=self.error_cooldown_errors,
            error_cooldown_s=self.error_cooldown_s,
            kelly_fraction=self.kelly_fraction,
            kelly_horizon_hours=self.kelly_horizon_hours,
            kelly_eta_time=self.kelly_eta_time,
            slippage_buffer=self.kelly_slippage,
            balance_drop_alert=self.balance_drop_alert,
            enforce=self.risk_mode == "enforce",
        )


def load_settings(**overrides: object) -> Settings:
    """Read settings (env, ``.env``, then ``overrides``); raise ConfigError with a clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # any value: validated here, a bad one raises
    except ValidationError as e:
        raise ConfigError(describe_validation_error(e, ENV_PREFIX)) from None
