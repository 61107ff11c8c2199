"""``polymm merge``, ``polymm redeem`` and ``polymm split``: capital operations by hand.

What we hold comes from the venue (the Data API's ``/positions`` of the wallet that holds the funds),
less the shares our resting sells offer (``GET /data/orders``: merging those would leave the orders
unbacked). A market's definition (tokens, neg-risk) and its outcome come from the CLOB's
``/markets/{condition_id}``. The operations go out through the wallet type's path
(``venue/capital.py``) and are journaled like the engine's (``engine/capital.py``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from ..config import Settings
from ..domain.ctf import CapitalKind
from ..domain.prices import fmt_amount
from ..engine.capital import (
    CapitalManager,
    CapitalOp,
    Holding,
    Quota,
    path_from_settings,
    plan_merges,
    plan_redeems,
    plan_split,
    used_today,
)
from ..journal import Journal, resolve_path
from ..venue.capital import CapitalPath, RelayerPath, Web3Path
from ..venue.live import market_from_clob
from .wallet import authed_client

ZERO = Decimal(0)


@dataclass(frozen=True)
class CapitalRun:
    """What one command did: the wallet acted for, the path, the operations with their final status."""

    wallet: str
    path: str
    ops: list[CapitalOp]
    notes: list[str]


def funds_wallet(path: CapitalPath, settings: Settings, signer: str) -> str:
    """The address that holds the shares: the Safe, proxy or deposit wallet the relayer acts for, else
    the funder (paper) or the signer (EOA)."""
    if isinstance(path, RelayerPath):
        return path.wallet
    if isinstance(path, Web3Path):
        return path.address
    return settings.funder or signer


async def _positions(settings: Settings, user: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        r = await http.get(f"{settings.data_url}/positions", params={"user": user, "sizeThreshold": 0})
        if r.status_code != 200:
            raise RuntimeError(f"Data API /positions answered {r.status_code}: {r.text[:200]}")
        docs = r.json()
    return [d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []


def _resting_sells(orders: list[Any]) -> dict[str, Decimal]:
    """token → shares our resting SELL orders offer."""
    out: dict[str, Decimal] = {}
    for o in orders:
        if isinstance(o, dict) and o.get("side") == "SELL":
            left = Decimal(str(o.get("original_size") or 0)) - Decimal(str(o.get("size_matched") or 0))
            token = str(o.get("asset_id", ""))
            out[token] = out.get(token, ZERO) + left
    return out


def _winner(doc: Any) -> str | None:
    if not isinstance(doc, dict) or not doc.get("closed"):
        return None
    for i, t in enumerate(doc.get("tokens") or []):
        if isinstance(t, dict) and t.get("winner") is True:
            return "YES" if i == 0 else "NO"
    return None


async def venue_holdings(settings: Settings, client: Any, user: str, only: str | None) -> list[Holding]:
    """Every market ``user`` holds shares of (or just ``only``), as the venue says, less resting sells."""
    docs = await _positions(settings, user)
    orders = await asyncio.to_thread(client.get_open_orders)
    selling = _resting_sells(orders if isinstance(orders, list) else [])
    shares: dict[str, dict[str, Decimal]] = {}
    for d in docs:
        cid, asset = str(d.get("conditionId", "")), str(d.get("asset", ""))
        if not cid or (only and cid != only):
            continue
        shares.setdefault(cid, {})[asset] = Decimal(str(d.get("size") or 0))
    if only and only not in shares:
        shares[only] = {}
    out = []
    for cid, by_token in sorted(shares.items()):
        doc = await asyncio.to_thread(client.get_market, cid)
        market = market_from_clob(doc)
        yes = by_token.get(market.yes_token, ZERO) - selling.get(market.yes_token, ZERO)
        no = by_token.get(market.no_token, ZERO) - selling.get(market.no_token, ZERO)
        out.append(Holding(market, yes, no, _winner(doc)))
    return out


async def run_capital(settings: Settings, kind: CapitalKind, *, market: str | None = None,
                      amount: Decimal | None = None, dry_run: bool = False) -> CapitalRun:
    """Plan and (unless ``dry_run``) carry out merges, redeems or one split; raises ValueError for bad
    input naming the option, and the venue's errors as they come."""
    from eth_account import Account

    from ..engine.execution_factory import live_config

    cfg = live_config(settings)
    signer = Account.from_key(cfg.private_key).address
    path = path_from_settings(settings, settings.mode)
    user = funds_wallet(path, settings, signer)
    client = await asyncio.to_thread(authed_client, settings)
    notes: list[str] = []
    if kind is CapitalKind.SPLIT:
        if not market:
            raise ValueError("--market: required for split (a condition id, 0x + 64 hex digits)")
        if amount is None:
            raise ValueError("--amount: required for split (pUSD to turn into YES+NO pairs, e.g. 25)")
        doc = await asyncio.to_thread(client.get_market, market)
        if _winner(doc) is not None or (isinstance(doc, dict) and doc.get("closed")):
            raise ValueError(f"--market: {market} is closed; only an open market can be split into")
        ops = [plan_split(market_from_clob(doc), amount, path.name)]
    else:
        holdings = await venue_holdings(settings, client, user, market)
        if kind is CapitalKind.MERGE:
            ops = plan_merges(holdings, Decimal("0.000001"), path.name)
            offered = [h for h in holdings if h.winner is None and h.pairs <= 0 and (h.yes > 0 or h.no > 0)]
            if market and not ops:
                notes.append(_nothing_to_merge(market, holdings))
            elif offered and not market:
                notes.append(f"{len(offered)} markets hold only one side: nothing to merge there")
        else:
            ops = plan_redeems(holdings, path.name)
            if market and not ops:
                h = next((h for h in holdings if h.market.condition_id == market), None)
                notes.append(f"{market}: " + ("not resolved yet" if h is None or h.winner is None
                                              else "no shares left to redeem"))
    if dry_run or not ops:
        for op in ops:
            op.status = "dry-run" if dry_run else op.status
        return CapitalRun(user, path.name, ops, notes)
    jpath = resolve_path(settings.journal_path, settings.mode)
    journal = Journal(jpath) if jpath else None
    try:
        manager = CapitalManager(path, journal=journal, quota=Quota(settings.relayer_daily_limit,
                                                                    used_today(journal, path)),
                                 on_log=lambda text, level: notes.append(text) if level != "info" else None)
        await manager.execute(ops)
    finally:
        if journal is not None:
            await asyncio.to_thread(journal.close)
    if journal is not None:
        notes.append(f"journaled in {jpath}")
    return CapitalRun(user, path.name, ops, notes)


def _nothing_to_merge(cid: str, holdings: list[Holding]) -> str:
    h = next((h for h in holdings if h.market.condition_id == cid), None)
    if h is None or (h.yes <= 0 and h.no <= 0):
        return f"{cid}: no shares held"
    if h.winner is not None:
        return f"{cid}: resolved ({h.winner} won): redeem instead"
    return f"{cid}: holds {fmt_amount(h.yes)} YES and {fmt_amount(h.no)} NO free of resting sells: no pair to merge"
