"""``polymm cancel-all``, the panic button: cancel every open order of ours at the venue and confirm with
``GET /data/orders`` that none remain."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from .venue import venue_error
from .wallet import authed_client


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel_all`` did: ``confirmed`` only when ``GET /data/orders`` showed none of ours left."""

    cancelled: int
    not_cancelled: dict[str, str]
    left: list[str]  # order ids /data/orders still showed at the last look
    confirmed: bool
    errors: list[str]


async def cancel_all(settings: Settings, attempts: int = 3) -> CancelResult:
    """Cancel every open order of ours (``DELETE /cancel-all``; after a failed sweep, ``DELETE /orders``
    naming what ``/data/orders`` still shows), then read ``GET /data/orders`` until none remain — up to
    ``attempts`` rounds. Venue errors are collected, not raised (a panic button keeps trying)."""
    client = await asyncio.to_thread(authed_client, settings)
    cancelled = 0
    not_cancelled: dict[str, str] = {}
    errors: list[str] = []
    left: list[str] = []
    swept_ok = True
    for i in range(attempts):
        try:
            r = await _sweep(client, left if left and not swept_ok else None)
            swept_ok = True
            cancelled += len(r.get("canceled") or [])
            not_cancelled.update(r.get("not_canceled") or {})
        except Exception as e:
            swept_ok = False
            errors.append(f"cancel: {venue_error(e)}")
        try:
            orders = await asyncio.to_thread(client.get_open_orders)
            left = [str(o.get("id")) for o in orders if isinstance(o, dict)]
        except Exception as e:
            errors.append(f"GET /data/orders: {venue_error(e)}")
        else:
            if not left:
                return CancelResult(cancelled, not_cancelled, [], True, errors)
        await asyncio.sleep(0.2 * (i + 1))
    return CancelResult(cancelled, not_cancelled, left, False, errors)


async def _sweep(client: Any, ids: list[str] | None) -> dict[str, Any]:
    """One cancel: ``DELETE /cancel-all``, or ``DELETE /orders`` naming ``ids`` (what ``/data/orders``
    still showed after a failed sweep)."""
    if ids is None:
        return await asyncio.to_thread(client.cancel_all)
    r: dict[str, Any] = {"canceled": [], "not_canceled": {}}
    for k in range(0, len(ids), 1000):  # DELETE /orders takes at most 1000 ids
        part = await asyncio.to_thread(client.cancel_orders, ids[k : k + 1000])
        r["canceled"] += list(part.get("canceled") or [])
        r["not_canceled"].update(part.get("not_canceled") or {})
    return r
