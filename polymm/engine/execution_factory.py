"""Choose the execution venue for a mode: paper by default; the real order path for live and demo.

The demo trades through ``LiveExecution`` against the embedded stand-in with a throwaway key, so
the order path people watch in the demo is the one they would run live: signing, L1/L2 auth,
batch posts, cancels, heartbeat, user channel and reconciliation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from ..config import ConfigError, Settings
from ..domain.ledger import Ledger
from ..domain.portfolio import Fill
from ..venue.execution import Execution
from ..venue.live import LiveConfig, LiveExecution
from ..venue.paper import PaperExecution
from ..venue.ratelimit import STANDARD, Rate, VenueLimits

#: A fixed throwaway key for the demo (controls nothing anywhere: it exists only for the stand-in).
DEMO_PRIVATE_KEY = "0x" + hashlib.sha256(b"polymm demo wallet: stand-in exchange only").hexdigest()


def live_config(settings: Settings) -> LiveConfig:
    if settings.mode == "demo" and settings.private_key is None:
        key = DEMO_PRIVATE_KEY
    elif settings.private_key is not None:
        key = settings.private_key.get_secret_value()
    else:
        raise ConfigError("POLYMM_PRIVATE_KEY: required for live trading (64 hex characters)")
    creds = None
    if settings.api_key and settings.api_secret and settings.api_passphrase:
        creds = (settings.api_key.get_secret_value(), settings.api_secret.get_secret_value(),
                 settings.api_passphrase.get_secret_value())
    return LiveConfig(
        clob_url=settings.clob_url, ws_url=settings.ws_url, private_key=key, chain_id=settings.chain_id,
        signature_type=settings.signature_type, funder=settings.funder, creds=creds,
        start_budget_s=settings.venue_retry_s, events=settings.event_config(), limits=venue_limits(settings),
    )


def venue_limits(settings: Settings) -> VenueLimits:
    """The rate limits the order path paces itself by (the settings' signer tier, Cloudflare's routes)."""
    return replace(STANDARD, orders=Rate(settings.rate_orders_per_s, settings.rate_orders_burst),
                   cancels=Rate(settings.rate_cancels_per_s, settings.rate_cancels_burst),
                   headroom=settings.rate_headroom)


def build_execution(
    settings: Settings, mode: str, on_fill: Callable[[Fill], None], on_log: Callable[[str, str], None],
    ledger: Ledger | None = None,
) -> Execution:
    """The execution for the settings' mode, booking fills into ``ledger`` (the engine's)."""
    if settings.mode in ("live", "demo"):
        return LiveExecution(live_config(settings), on_fill, on_log, ledger=ledger)
    return PaperExecution(on_fill=on_fill, ledger=ledger)
