"""``polymm doctor``: one line per check with OK / WARN / FAIL and the reason — credentials, a key file
others can read, the venue and its version, clock skew, L2 auth, balance and allowances, Gamma and the
market WebSocket. The first FAIL does not stop the others."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Literal

import orjson

from ..config import Settings
from ..domain.prices import fmt_amount
from ..venue.rest import PublicClient
from .venue import CLOCK_FAIL_S, CLOCK_OK_S, Ping, ping, venue_error
from .wallet import authed_client, wallet

CheckStatus = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    reason: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<12} {self.reason}"


def _credentials_check(settings: Settings) -> Check:
    if settings.private_key is None:
        if settings.mode == "demo":
            w = wallet(settings)
            return Check("credentials", "OK", f"demo wallet {w.address} (throwaway key, for stand-ins only)")
        level: CheckStatus = "FAIL" if settings.mode == "live" else "WARN"
        return Check("credentials", level, "POLYMM_PRIVATE_KEY not set: paper trading only (live mode needs a "
                                            "64-hex-character key)")
    w = wallet(settings)
    if settings.signature_type != 0 and settings.funder is None:
        return Check("credentials", "FAIL", f"wallet {w.address}; POLYMM_FUNDER is required with "
                                            f"POLYMM_SIGNATURE_TYPE={settings.signature_type} (the wallet that "
                                            f"holds the funds, 0x + 40 hex)")
    api = "API credentials set" if settings.api_key is not None else "API credentials derived from the key"
    funder = f", funds held by {w.funder}" if w.funder != w.address else ""
    return Check("credentials", "OK", f"wallet {w.address}{funder}; key well-formed; {api}")


def _key_file_check() -> Check | None:
    """The env files the settings read that hold ``POLYMM_PRIVATE_KEY``: FAIL when group or others can
    read one (as ssh refuses a readable key), OK when they are private; None when none holds a key."""
    from ..statedir import env_files, exposed_key_files, holds_key

    exposed = exposed_key_files()
    if exposed:
        return Check("key file", "FAIL", "; ".join(f.problem() for f in exposed))
    held = [str(p) for p in env_files() if p.is_file() and holds_key(p)]
    if held:
        return Check("key file", "OK", f"{', '.join(held)} holds POLYMM_PRIVATE_KEY, readable by its owner only")
    return None


async def _ws_check(settings: Settings, token: str | None, timeout: float) -> Check:
    import websockets

    url = f"{settings.ws_url}/ws/market"
    assets = [token] if token else []
    try:
        t0 = time.perf_counter()
        async with asyncio.timeout(timeout):
            async with websockets.connect(url, open_timeout=timeout, ping_interval=None) as ws:
                await ws.send(orjson.dumps({"type": "market", "assets_ids": assets, "initial_dump": True,
                                            "level": 2}).decode())
                raw = await ws.recv()
        ms = (time.perf_counter() - t0) * 1000
    except TimeoutError:
        return Check("market ws", "FAIL", f"{url}: no frame within {timeout:g} s of subscribing")
    except Exception as e:
        return Check("market ws", "FAIL", f"{url}: {venue_error(e)}")
    kind = "a frame"
    with contextlib.suppress(Exception):
        doc = orjson.loads(raw)
        first = doc[0] if isinstance(doc, list) and doc else doc
        if isinstance(first, dict) and first.get("event_type"):
            kind = f"a {first['event_type']} frame"
    return Check("market ws", "OK", f"{url}: subscribed, {kind} after {ms:.0f} ms")


async def doctor(settings: Settings, timeout: float = 5.0) -> list[Check]:
    """Each check of ``polymm doctor``, in order; the first FAIL does not stop the others."""
    checks = [_credentials_check(settings)]
    key_file = _key_file_check()
    if key_file is not None:
        checks.append(key_file)
    venue = await ping(settings, timeout)
    checks += _venue_checks(venue)
    has_wallet = checks[0].status == "OK"
    if venue.reachable and has_wallet:
        checks += await _account_checks(settings)
    elif has_wallet:
        checks.append(Check("auth", "FAIL", "skipped: the venue is unreachable"))
    gamma, token = await _gamma_check(settings, timeout)
    checks.append(gamma)
    checks.append(await _ws_check(settings, token, timeout))
    return checks


def _venue_checks(venue: Ping) -> list[Check]:
    """The venue answers, speaks CLOB V2, and its clock agrees with ours."""
    if not venue.reachable:
        return [Check("venue", "FAIL", f"{venue.url}: {venue.error}")]
    checks = [Check("venue", "OK", f"{venue.url} answered in {venue.latency_ms:.0f} ms")]
    if venue.version == 2:
        checks.append(Check("version", "OK", "CLOB V2"))
    else:
        checks.append(Check("version", "FAIL", f"CLOB version {venue.version}: polymm speaks V2 only"))
    skew = abs(venue.skew_s or 0.0)
    where = f"venue clock {venue.skew_s:+.1f} s from ours (/time has whole seconds)"
    checks.append(Check("clock", "OK" if skew <= CLOCK_OK_S else "WARN" if skew <= CLOCK_FAIL_S else "FAIL",
                        where if skew <= CLOCK_OK_S else f"{where}: sync the clock (NTP); L2 auth signs the "
                                                          f"time and a skewed clock is refused with 401"))
    return checks


async def _gamma_check(settings: Settings, timeout: float) -> tuple[Check, str | None]:
    """Gamma lists open markets; with the first one's YES token for the WebSocket check (None without)."""
    public = PublicClient(settings.clob_url, settings.gamma_url, timeout=timeout)
    try:
        found = await public.list_markets(limit=5)
    except Exception as e:
        return Check("gamma", "FAIL", f"{settings.gamma_url}: {venue_error(e)}"), None
    finally:
        await public.aclose()
    if not found:
        return Check("gamma", "WARN", f"{settings.gamma_url}: no open markets listed"), None
    return Check("gamma", "OK", f"{settings.gamma_url}: {len(found)} open markets in the first page"), \
        found[0].yes_token


async def _account_checks(settings: Settings) -> list[Check]:
    """L2 auth (and closed-only mode), then the balance and the allowances from one balance reply."""
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

    try:
        client = await asyncio.to_thread(authed_client, settings)
        closed = await asyncio.to_thread(client.get_closed_only_mode)
    except Exception as e:
        return [Check("auth", "FAIL", f"L2 auth refused: {venue_error(e)} (check the API credentials and the clock)")]
    if isinstance(closed, dict) and closed.get("closed_only"):
        out = [Check("auth", "FAIL", "API key accepted, but the account is in closed-only mode (cancels only)")]
    else:
        out = [Check("auth", "OK", "L2 API key accepted")]
    try:
        r = await asyncio.to_thread(client.get_balance_allowance,
                                    BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    except Exception as e:
        return [*out, Check("balance", "FAIL", f"balance unavailable: {venue_error(e)}")]
    if not isinstance(r, dict):
        return [*out, Check("balance", "FAIL", f"balance reply unreadable: a {type(r).__name__}, not an object")]
    return [*out, _balance_check(r), _allowances_check(settings, r)]


def _balance_check(r: dict) -> Check:
    from ..venue.wire import balance_amount

    try:  # integer strings are 1e6 units, decimal strings ("250.500000") already units (docs/protocol.md §12)
        balance = balance_amount(r)
    except ValueError as e:
        return Check("balance", "FAIL", f"balance reply unreadable: {e}")
    return Check("balance", "OK" if balance > 0 else "WARN",
                 f"{fmt_amount(balance, grouping=True)} pUSD" if balance > 0 else "0.00 pUSD: no bid can be placed")


def _allowances_check(settings: Settings, r: dict) -> Check:
    """pUSD approved for both V2 exchanges and at least one neg-risk adapter."""
    from py_clob_client_v2.config import get_contract_config

    from ..venue.wire import reply_allowances

    try:  # an ``allowances`` map, or one ``allowance`` for every spender (docs/protocol.md §12)
        allowed = reply_allowances(r)
    except ValueError as e:
        return Check("allowances", "FAIL", f"balance reply unreadable: {e}")
    cfg = get_contract_config(settings.chain_id)
    exchanges = {"CTF Exchange V2": cfg.exchange_v2, "NegRisk Exchange V2": cfg.neg_risk_exchange_v2}
    # Two neg-risk adapters: the SDK's, and the one Polymarket's changelog tells V2 integrations to
    # use. Which one the CLOB's allowance check reads is unconfirmed, so one approved is enough and
    # the line says which.
    adapters = {"the SDK's neg-risk adapter": cfg.neg_risk_adapter,
                "the V2 neg-risk adapter": "0xadA2005600Dec949baf300f4C6120000bDB6eAab"}
    missing = [f"{name} ({addr})" for name, addr in exchanges.items() if allowed.of(addr) <= 0]
    approved = [f"{name} ({addr})" for name, addr in adapters.items() if allowed.of(addr) > 0]
    if not approved:
        missing.append("either neg-risk adapter (" + " or ".join(adapters.values()) + ")")
    shape = " (one allowance for every spender)" if allowed.every is not None and not allowed.spenders else ""
    if missing:
        return Check("allowances", "FAIL", "no pUSD allowance for " + ", ".join(missing) +
                     f"{shape}: approve them from the wallet before trading")
    which = (f"both neg-risk adapters ({', '.join(adapters.values())})" if len(approved) == len(adapters)
             else f"{approved[0]} only")
    return Check("allowances", "OK", f"pUSD approved for {', '.join(exchanges)} and {which}{shape}")
