"""The venue's per-signer rate limits on trading (docs/protocol.md §8): two token buckets a signer.

Polymarket meters order entry and cancels per SIGNER (the address of the API credentials; an order's
signer must be that address anyway), in two buckets that do not share capacity. Each bucket refills
continuously at its tier's rate up to its burst; a full bucket can be spent at once. What a request
costs, and whether it is let in:

==============================  ============  ============================================================
request                         bucket        cost; admission
==============================  ============  ============================================================
POST ``/order``                 orders        1
POST ``/orders``                orders        the number of orders in the batch; all or nothing
DELETE ``/order``               cancels       1
DELETE ``/orders``              cancels       the number of ids sent; all or nothing
DELETE ``/cancel-market-orders``  cancels     1 to be let in, then 1 per order cancelled (may go negative)
DELETE ``/cancel-all``          cancels       1 + the number cancelled, charged afterwards; ALWAYS let in
                                              (a kill switch must work), so the bucket may go negative
==============================  ============  ============================================================

A request the bucket cannot pay is refused whole with 429 ``{"error", "retry_after_seconds"}`` and a
``Retry-After`` header (whole seconds, rounded up), as the fault injector's 429s are (``admin``). A
request that costs more than the burst can never pass: 429 without a retry time (split it), as on the
venue. Every order and cancel response carries ``Poly-RateLimit-Remaining`` (whole tokens left, negative
after a large cancel-all), ``Poly-RateLimit-Reset`` (Unix seconds when the request could pass: now for
an admitted one, later for a refused one — the venue's meaning, not "when the bucket is full") and
``Poly-RateLimit-Tier``. The ``unlimited`` tier limits nothing and sends only the tier header.

Time is the stand-in's injectable clock (epoch milliseconds), so tests advance it instead of sleeping.
``SignerLimits.refused`` counts the 429s sent, per bucket (``/_admin/stats``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from . import http


class Bucket(StrEnum):
    """Which of a signer's two buckets a request draws from."""

    ORDERS = "orders"
    CANCELS = "cancels"


@dataclass(frozen=True, slots=True)
class RateTier:
    """A tier's refill rates (tokens per second) and bursts (bucket capacities); ``enforced`` False = no
    limits at all (the ``unlimited`` tier, for tests and benches that measure something else)."""

    name: str
    orders_per_s: float
    orders_burst: int
    cancels_per_s: float
    cancels_burst: int
    enforced: bool = True

    def __post_init__(self) -> None:
        if self.enforced and not (self.orders_per_s > 0 and self.cancels_per_s > 0
                                  and self.orders_burst >= 1 and self.cancels_burst >= 1):
            raise ValueError(f"rate tier {self.name!r}: rates must be > 0 and bursts >= 1 (or enforced=False)")

    def rate(self, bucket: Bucket) -> float:
        return self.orders_per_s if bucket is Bucket.ORDERS else self.cancels_per_s

    def burst(self, bucket: Bucket) -> int:
        return self.orders_burst if bucket is Bucket.ORDERS else self.cancels_burst

    def describe(self) -> str:
        """For people: ``standard (orders 40/s, burst 60; cancels 80/s, burst 120)``."""
        if not self.enforced:
            return f"{self.name} (no limits)"
        return (f"{self.name} (orders {_num(self.orders_per_s)}/s, burst {self.orders_burst}; "
                f"cancels {_num(self.cancels_per_s)}/s, burst {self.cancels_burst})")


#: Polymarket's standard tier (docs/protocol.md §8): 40 orders/s (burst 60), 80 cancels/s (burst 120).
STANDARD_TIER = RateTier("standard", 40, 60, 80, 120)
#: No limits (``polymm exchange --rate-tier unlimited``).
UNLIMITED_TIER = RateTier("unlimited", 0, 0, 0, 0, enforced=False)
#: The tiers ``--rate-tier`` accepts, by name.
RATE_TIERS: dict[str, RateTier] = {t.name: t for t in (STANDARD_TIER, UNLIMITED_TIER)}

TOO_MANY = "Too Many Requests"


def _num(x: float) -> str:
    """A rate or a wait for people: ``40``, ``0.325`` (never an exponent, at most 3 decimals)."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _word(bucket: Bucket, cost: int) -> str:
    noun = "order" if bucket is Bucket.ORDERS else "cancel"
    return f"{cost} {noun}{'' if cost == 1 else 's'}"


class RateLimited(http.ApiError):
    """A 429 of the signer limits: ``retry_after_s`` None when waiting cannot help (cost > burst)."""

    def __init__(self, message: str, retry_after_s: float | None, headers: dict[str, str]) -> None:
        extra, retry_headers = http.retry_after(retry_after_s) if retry_after_s is not None else ({}, {})
        super().__init__(429, message, headers={**headers, **retry_headers}, extra=extra)
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Level:
    """A bucket's tokens at ``stamp_ms`` (fractional; negative after a large cancel-all)."""

    tokens: float
    stamp_ms: int


class SignerLimits:
    """Every signer's two buckets under the tier ``tier()`` returns (read at each use: the trading
    config can change it at run time)."""

    def __init__(self, tier: Callable[[], RateTier], clock: Callable[[], int]) -> None:
        self._tier = tier
        self._clock = clock
        self._levels: dict[tuple[str, Bucket], _Level] = {}
        #: 429s sent by these limits, per bucket name (``orders``, ``cancels``).
        self.refused: Counter[str] = Counter()

    @property
    def tier(self) -> RateTier:
        return self._tier()

    @property
    def http_429(self) -> int:
        """Every 429 these limits sent."""
        return sum(self.refused.values())

    def _level(self, address: str, bucket: Bucket, tier: RateTier, now_ms: int) -> _Level:
        """The bucket refilled up to ``now_ms`` (a new signer's starts full)."""
        key = (address.lower(), bucket)
        burst, rate = tier.burst(bucket), tier.rate(bucket)
        level = self._levels.get(key)
        if level is None:
            level = self._levels[key] = _Level(float(burst), now_ms)
            return level
        elapsed_s = max(0, now_ms - level.stamp_ms) / 1000
        level.tokens = min(float(burst), level.tokens + elapsed_s * rate)
        level.stamp_ms = now_ms
        return level

    def admit(self, address: str, bucket: Bucket, cost: int) -> None:
        """Take ``cost`` tokens, or refuse the whole request (``RateLimited``) and take nothing."""
        tier = self.tier
        if not tier.enforced or cost <= 0:
            return
        now = self._clock()
        level = self._level(address, bucket, tier, now)
        if level.tokens >= cost:
            level.tokens -= cost
            return
        self.refused[bucket.value] += 1
        burst, rate = tier.burst(bucket), tier.rate(bucket)
        if cost > burst:
            raise RateLimited(
                f"{TOO_MANY}: this request costs {_word(bucket, cost)}, more than the {bucket.value} burst of "
                f"the {tier.name} tier ({burst}); split it into smaller requests",
                None,
                self._headers(level, tier, now),
            )
        wait_s = math.ceil((cost - level.tokens) / rate * 1000) / 1000
        raise RateLimited(
            f"{TOO_MANY}: {bucket.value} rate limit of the {tier.name} tier ({_num(rate)}/s, burst {burst}): "
            f"this request costs {_word(bucket, cost)}, {max(0, math.floor(level.tokens))} left; "
            f"retry in {_num(wait_s)} s",
            wait_s,
            self._headers(level, tier, now, wait_s),
        )

    def charge(self, address: str, bucket: Bucket, cost: int) -> None:
        """Take ``cost`` tokens after the fact (what a cancel-all cancelled): never refused, may go negative."""
        tier = self.tier
        if tier.enforced and cost > 0:
            self._level(address, bucket, tier, self._clock()).tokens -= cost

    def headers(self, address: str, bucket: Bucket) -> dict[str, str]:
        """The ``Poly-RateLimit-*`` headers of a response to ``address`` on ``bucket``, as of now."""
        tier = self.tier
        if not tier.enforced:
            return {"Poly-RateLimit-Tier": tier.name}
        now = self._clock()
        return self._headers(self._level(address, bucket, tier, now), tier, now)

    @staticmethod
    def _headers(level: _Level, tier: RateTier, now_ms: int, wait_s: float = 0.0) -> dict[str, str]:
        reset_s = math.ceil((now_ms + wait_s * 1000) / 1000)
        return {
            "Poly-RateLimit-Remaining": str(math.floor(level.tokens)),
            "Poly-RateLimit-Reset": str(reset_s),
            "Poly-RateLimit-Tier": tier.name,
        }

    def stats(self) -> dict[str, object]:
        """For ``/_admin/stats``: the tier and the 429s sent."""
        tier = self.tier
        return {
            "tier": tier.name,
            "enforced": tier.enforced,
            "orders_per_s": tier.orders_per_s,
            "orders_burst": tier.orders_burst,
            "cancels_per_s": tier.cancels_per_s,
            "cancels_burst": tier.cancels_burst,
            "signers": len({address for address, _ in self._levels}),
            "http_429": self.http_429,
            "http_429_orders": self.refused[Bucket.ORDERS.value],
            "http_429_cancels": self.refused[Bucket.CANCELS.value],
        }
