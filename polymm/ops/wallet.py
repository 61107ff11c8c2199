"""Who we are at the venue — the configured wallet, or the demo wallet in demo mode — and a signed-in
client for the operator commands. The wallet is shown by its address; the key never leaves here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, Settings


@dataclass(frozen=True)
class Wallet:
    """Who we are at the venue: the signing address (never the key), the funder, and how."""

    address: str
    funder: str
    demo: bool


def wallet(settings: Settings) -> Wallet:
    """The configured wallet, or the demo wallet in demo mode; ConfigError without a key."""
    from eth_account import Account

    from ..engine.execution_factory import live_config

    try:
        cfg = live_config(settings)
    except ConfigError:
        raise ConfigError("POLYMM_PRIVATE_KEY: required to act as a wallet at the venue (64 hex characters, "
                          "optionally 0x-prefixed; --demo uses the demo wallet)") from None
    address = Account.from_key(cfg.private_key).address
    return Wallet(address, cfg.funder or address, settings.private_key is None)


def authed_client(settings: Settings) -> Any:
    """A py-clob-client-v2 client with L2 credentials: the configured ones, else derived from the key
    (created only when the venue has none yet). Blocking: call through ``asyncio.to_thread``."""
    from py_clob_client_v2.client import ClobClient
    from py_clob_client_v2.clob_types import ApiCreds

    from ..engine.execution_factory import live_config

    cfg = live_config(settings)
    creds = ApiCreds(*cfg.creds) if cfg.creds else None
    client = ClobClient(cfg.clob_url, chain_id=cfg.chain_id, key=cfg.private_key, creds=creds,
                        signature_type=cfg.signature_type, funder=cfg.funder)
    if creds is None:
        try:
            creds = client.derive_api_key()
        except Exception:
            creds = client.create_api_key()
        client.set_api_creds(creds)
    return client
