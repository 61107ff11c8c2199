"""Order path benchmark: signing, and place / cancel round trips through LiveExecution.

1. Signing alone, no network: polymm's ``OrderSigner`` (one keccak digest + coincurve; what
   LiveExecution uses), the SDK's ``ClobClient.create_order`` with coincurve installed, and the SDK
   with eth-keys' pure-Python backend (what it gets by default) — each in its own process because
   eth-keys picks its backend at import. ``sign_ms`` is polymm's; ``sign_ms_sdk_default`` the last.
2. Round trips over loopback against the stand-in exchange running as a separate process
   (``polymm exchange``): one quote placed and cancelled at a time (latency p50 / p99), then batches
   of 15 across markets for a few seconds (sustained orders/s).

Last line: ``{"bench": "order", "sign_ms": …, "sign_ms_sdk_default": …, "place_p50_ms": …,
"place_p99_ms": …, "orders_per_s": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from standin_process import start_exchange

FAST_SNIPPET = r"""
import time, sys
from decimal import Decimal
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.config import get_contract_config
from polymm.venue.signing import OrderSigner
c = ClobClient("http://127.0.0.1:9", chain_id=137, key="0x" + "11" * 32)
cfg = get_contract_config(137)
s = OrderSigner(c, 137, {False: cfg.exchange_v2, True: cfg.neg_risk_exchange_v2})
tok = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
n = int(sys.argv[1])
for i in range(20):
    s.sign(tok, "BUY", Decimal("0.5"), Decimal(10), "0.01", False)
t = time.perf_counter()
for i in range(n):
    s.sign(tok, "BUY", Decimal(1 + i % 98) / 100, Decimal(10 + i % 7), "0.01", False)
dt = time.perf_counter() - t
print("polymm-OrderSigner+coincurve")
print(dt / n * 1000)
"""

SIGN_SNIPPET = r"""
import time, sys
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions
import eth_keys.backends as b
key = "0x" + "11" * 32
c = ClobClient("http://127.0.0.1:9", chain_id=137, key=key)
tok = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
c._ClobClient__tick_sizes[tok] = "0.01"
opts = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False, version=2)
n = int(sys.argv[1])
for i in range(20):
    c.create_order(OrderArgsV2(token_id=tok, price=0.5, size=10.0, side="BUY"), opts)
t = time.perf_counter()
for i in range(n):
    c.create_order(OrderArgsV2(token_id=tok, price=0.01 * (1 + i % 98), size=10.0 + i % 7, side="BUY"), opts)
dt = time.perf_counter() - t
from eth_keys import keys
print(type(keys.PrivateKey(b"\x11" * 32).backend).__name__)
print(dt / n * 1000)
"""


def sign_ms(n: int, native: bool, fast: bool = False) -> tuple[float, str]:
    env = dict(os.environ)
    if native:
        env["ECC_BACKEND_CLASS"] = "eth_keys.backends.NativeECCBackend"
    snippet = FAST_SNIPPET if fast else SIGN_SNIPPET
    r = subprocess.run(
        [sys.executable, "-c", snippet, str(n)], env=env, capture_output=True, text=True, check=True
    )
    backend, ms = r.stdout.split()[-2:]
    return float(ms), backend


async def round_trips(urls: dict[str, str], singles: int, seconds: float) -> dict[str, float]:
    from polymm.domain.market import Side
    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
    from polymm.venue.execution import OrderRequest
    from polymm.venue.live import LiveConfig, LiveExecution
    from polymm.venue.rest import PublicClient

    public = PublicClient(urls["clob"], urls["gamma"])
    markets = await public.list_markets()
    books = {m.condition_id: await public.get_book(m.yes_token) for m in markets}
    await public.aclose()
    exe = LiveExecution(LiveConfig(urls["clob"], urls["ws_base"], DEMO_PRIVATE_KEY, reconcile_s=3600, workers=8))
    await exe.start(markets)

    def far_bid(m, k: int) -> OrderRequest:
        from polymm.domain.prices import price_to_pips

        best = price_to_pips(books[m.condition_id].bids[-1].price)
        return OrderRequest(Side.BUY, max(best - (5 + k % 10) * m.tick.pips, m.tick.pips), Decimal(5))

    # 1) latency: one quote at a time, placed then cancelled
    lat = []
    m0 = markets[0]
    for i in range(singles):
        t = time.perf_counter()
        ids = await exe.place_many(m0, None, [far_bid(m0, i)])
        lat.append((time.perf_counter() - t) * 1000)
        await exe.cancel(ids)
    # 2) sustained: batches of 15 per market, all markets concurrently, then cancelled in batches
    placed = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        results = await asyncio.gather(
            *(exe.place_many(m, None, [far_bid(m, k) for k in range(15)]) for m in markets[:4])
        )
        placed += sum(len(r) for r in results)
        await asyncio.gather(*(exe.cancel(r) for r in results))
    elapsed = time.perf_counter() - t0
    await exe.cancel_all()
    await exe.close()
    lat.sort()
    return {
        "place_p50_ms": statistics.median(lat),
        "place_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "orders_per_s": placed / elapsed,
        "rejects": exe.rejects,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sign", type=int, default=2000, help="orders to sign per backend")
    ap.add_argument("--singles", type=int, default=300, help="single place+cancel round trips")
    ap.add_argument("--seconds", type=float, default=5.0, help="sustained batch phase")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    fast, fast_backend = sign_ms(args.sign * 4, native=False, fast=True)
    sdk_cc, sdk_cc_backend = sign_ms(args.sign, native=False)
    slow, slow_backend = sign_ms(max(args.sign // 4, 100), native=True)
    proc, urls = start_exchange("--seed", str(args.seed), "--flow-rate", "2")
    try:
        rt = asyncio.run(round_trips(urls, args.singles, args.seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"python {sys.version.split()[0]}; stand-in in its own process on {urls['clob']}")
    print(f"signing   polymm {fast:7.3f} ms/order ({fast_backend})")
    print(f"          sdk create_order {sdk_cc:7.3f} ms/order ({sdk_cc_backend})")
    print(f"          sdk default      {slow:7.3f} ms/order ({slow_backend})   ratio {slow / fast:.1f}x")
    print(f"place     p50 {rt['place_p50_ms']:.2f} ms   p99 {rt['place_p99_ms']:.2f} ms"
          f"   ({args.singles} single quotes)")
    print(f"sustained {rt['orders_per_s']:.0f} orders/s placed and cancelled in batches of 15 "
          f"(rejects: {rt['rejects']})")
    print(json.dumps({
        "bench": "order",
        "sign_ms": round(fast, 4),
        "sign_ms_sdk_default": round(slow, 4),
        "sign_ms_sdk_coincurve": round(sdk_cc, 4),
        "sign_ratio": round(slow / fast, 2),
        "place_p50_ms": round(rt["place_p50_ms"], 3),
        "place_p99_ms": round(rt["place_p99_ms"], 3),
        "orders_per_s": round(rt["orders_per_s"], 1),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
