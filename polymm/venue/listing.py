"""Whether a market may be traded as its listings say: Gamma's and the CLOB's, which can disagree.

Gamma has been seen listing finished sports matches as active and accepting orders while the CLOB had
closed them (and the other way round). A market is tradeable only when neither says otherwise: both
list it, neither marks it ``closed`` or inactive, and both accept orders. The reason names who said
what, so the screen can show it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from .rest import PublicClient, VenueError


def listing_problem(gamma: dict[str, Any] | None, clob: dict[str, Any] | None) -> str:
    """Why a market may not be traded ("" when both listings allow it). None: that side does not list it."""
    said: list[str] = []
    for who, doc, accepting in (("Gamma", gamma, "acceptingOrders"), ("the CLOB", clob, "accepting_orders")):
        if doc is None:
            said.append(f"{who} does not list it")
            continue
        if doc.get("closed") is True:
            said.append(f"{who} says closed")
        elif doc.get("active") is False:
            said.append(f"{who} says inactive")
        elif doc.get(accepting) is False:
            said.append(f"{who} says not accepting orders")
    if not said:
        return ""
    if len(said) == 1:
        other = "the CLOB" if said[0].startswith("Gamma") else "Gamma"
        return f"listings disagree: {said[0]}, {other} says open"
    return "; ".join(said)


#: The CLOB's listings (``GET /markets/{id}``, one a market) are read one at a time, at most this many a
#: second: at 300 markets all at once they were a burst of 300 requests on the event loop every minute
#: (~2 s of it busy with them, and the young collection their objects set off — the posts of those seconds
#: waited), now a trickle over 6 s
CLOB_READS_PER_S = 50.0


async def listing_problems(public: PublicClient, cids: Iterable[str],
                          per_s: float = CLOB_READS_PER_S) -> dict[str, str]:
    """condition id → why it may not be traded, for those that may not. Markets whose listings could not
    be read are left out (the feed and the reconciliation judge an unreachable venue). The CLOB's
    listings are read one at a time, ``per_s`` a second at most."""
    cids = list(cids)
    if not cids:
        return {}
    gamma: dict[str, dict[str, Any]] = {}
    for i in range(0, len(cids), 100):
        docs = await public.gamma_get("/markets", condition_ids=cids[i:i + 100], limit=100)
        for d in docs if isinstance(docs, list) else []:
            if isinstance(d, dict) and d.get("conditionId"):
                gamma[str(d["conditionId"])] = d

    async def clob(cid: str) -> tuple[str, dict[str, Any] | None, bool]:
        try:
            doc = await public.clob_market(cid)
        except VenueError as e:
            return cid, None, e.status == 404  # a 404 is an answer: not listed; anything else is not
        return cid, doc, True

    loop = asyncio.get_running_loop()
    out: dict[str, str] = {}
    due = loop.time()
    for c in cids:
        await asyncio.sleep(max(due - loop.time(), 0.0))  # the pace (not a wait for an event)
        due = loop.time() + 1.0 / per_s
        cid, doc, known = await clob(c)
        if not known:
            continue
        why = listing_problem(gamma.get(cid), doc)
        if why:
            out[cid] = why
    return out
