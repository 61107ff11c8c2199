"""Order sizes: shares rounded down to 0.01, the inventory taper, layer sizes and the per-side cap.

Sizes are ``Decimal`` shares with at most 2 decimals, always rounded down (a rounded order is never
larger than intended). The quoting models, the liquidity-reward band and the risk engine size their
quotes here.

Memo tables: every key and value is immutable and every result depends on the keys' values only
(sizes are re-quantized to exponent −2), so a hit returns exactly what the Decimal computation
would. Only keys of the documented types are memoised (an int or float equal to a Decimal would be
the same dict key but may compute differently, or raise). Each table is cleared when it reaches
``MEMO_MAX`` entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

from .quoting import Quote

_CENT = Decimal("0.01")
_ZERO = Decimal(0)

MEMO_MAX = 4096
_FLOAT_DEC: dict[float, Decimal] = {}
_INVENTORY: dict[tuple[Decimal, Decimal, Decimal], Inventory] = {}
_LAYER_SIZES: dict[tuple[Decimal, float, int], tuple[Decimal, ...]] = {}
_SIDE_PLAN: dict[tuple[Decimal, float, int, Decimal], tuple[tuple[int, Decimal], ...]] = {}


def memo(table: dict, key: object, value: object) -> None:
    """``table[key] = value``, clearing the table first when it holds ``MEMO_MAX`` entries."""
    if len(table) >= MEMO_MAX:
        table.clear()
    table[key] = value


def _float_decimal(x: float) -> Decimal:
    """``Decimal(repr(x))`` — the shortest decimal that reads back as ``x`` — memoised for floats.

    Zeros are not memoised (``0.0`` and ``-0.0`` are one dict key but two Decimals), nor are other
    types (an ``int`` equal to a float key may print differently)."""
    if type(x) is not float or not x:
        return Decimal(repr(x))
    d = _FLOAT_DEC.get(x)
    if d is None:
        d = Decimal(repr(x))
        memo(_FLOAT_DEC, x, d)
    return d


def shares(x: Decimal | float) -> Decimal:
    """Round a size down to 0.01 shares (never up: a rounded order is never larger than intended)."""
    d = x if isinstance(x, Decimal) else _float_decimal(float(x))
    return max(d, _ZERO).quantize(_CENT, rounding=ROUND_DOWN)


def q_hat(position: Decimal, limit: Decimal, bound: float = 1.0) -> float:
    """Normalised inventory ``q̂ = position / position_limit`` clipped to ``[−bound, bound]``."""
    q = float(position / limit)
    return min(max(q, -bound), bound)


class Inventory(NamedTuple):
    """What the models need from ``(position, size, limit)``, computed once per distinct triple."""

    q: float  # float(position / limit), unclipped
    bid_size: Decimal  # taper_sizes
    ask_size: Decimal
    bid_room: Decimal  # shares(limit − position): what the bids may add up to
    ask_room: Decimal  # shares(limit + position)
    notes: str  # "; long limit: no bids" / "; short limit: no asks" (both when limit ≤ 0)


def inventory(position: Decimal, size: Decimal, limit: Decimal) -> Inventory:
    """The inventory figures of ``position`` against ``limit`` for quotes of ``size``, memoised."""
    use_memo = type(position) is Decimal and type(size) is Decimal and type(limit) is Decimal
    if use_memo:
        try:
            inv = _INVENTORY.get((position, size, limit))
        except TypeError:  # a signalling NaN cannot be hashed: compute (and raise) as the Decimal code does
            use_memo = False
        else:
            if inv is not None:
                return inv
    q = float(position / limit)
    qc = min(max(q, -1.0), 1.0)
    bid_room = shares(limit - position)
    ask_room = shares(limit + position)
    bid = min(shares(size * _float_decimal(1.0 - max(qc, 0.0))), bid_room)
    ask = min(shares(size * _float_decimal(1.0 - max(-qc, 0.0))), ask_room)
    notes = ""
    if position >= limit:
        notes += "; long limit: no bids"
    if position <= -limit:
        notes += "; short limit: no asks"
    inv = Inventory(q, bid, ask, bid_room, ask_room, notes)
    if use_memo and size > 0:  # a zero size keeps its sign through the taper: do not share it between ±0
        memo(_INVENTORY, (position, size, limit), inv)
    return inv


def taper_sizes(position: Decimal, size: Decimal, limit: Decimal) -> tuple[Decimal, Decimal]:
    """Sizes ``(bid, ask)`` after the linear inventory taper.

    With ``q̂ = clip(position / limit, −1, 1)``: the side that adds to the inventory shrinks linearly,
    ``bid = size·(1 − max(q̂, 0))``, ``ask = size·(1 − max(−q̂, 0))``, and is further capped by the room
    left to the limit (``limit − position`` for bids, ``limit + position`` for asks), so at the limit the
    adding side is 0. The reducing side keeps the full size. Rounded down to 0.01."""
    inv = inventory(position, size, limit)
    return inv.bid_size, inv.ask_size


def layer_sizes(base: Decimal, size_mult: float, layers: int) -> tuple[Decimal, ...]:
    """``shares(base·size_mult^i)`` for ``i < layers`` (the sizes of ``layered``), memoised."""
    key = (base, size_mult, layers)
    use_memo = type(base) is Decimal and type(size_mult) is float and type(layers) is int
    if use_memo:
        try:
            sizes = _LAYER_SIZES.get(key)
        except TypeError:
            use_memo = False
        else:
            if sizes is not None:
                return sizes
    sizes = tuple(shares(base * _float_decimal(size_mult**i)) for i in range(layers))
    if use_memo and sizes and size_mult == size_mult and base > 0:  # NaN never finds itself; ±0 print apart
        memo(_LAYER_SIZES, key, sizes)
    return sizes


def side_plan(base: Decimal, size_mult: float, layers: int, room: Decimal) -> tuple[tuple[int, Decimal], ...]:
    """One side's ``(layer index, size)`` pairs after ``layered`` and ``cap_total`` with every layer in
    the price range: layers of size 0 skipped, sizes capped to ``room`` (already ``shares``) in
    order. Layers that fall outside the range are a suffix, so a prefix of the plan applies. Memoised."""
    key = (base, size_mult, layers, room)
    use_memo = type(base) is Decimal and type(size_mult) is float and type(layers) is int and type(room) is Decimal
    if use_memo:
        try:
            plan = _SIDE_PLAN.get(key)
        except TypeError:
            use_memo = False
        else:
            if plan is not None:
                return plan
    out: list[tuple[int, Decimal]] = []
    left = room
    for i, s in enumerate(layer_sizes(base, size_mult, layers)):
        if s > 0:
            if left <= 0:
                break
            if left < s:
                s = left
            out.append((i, s))
            left -= s
    plan = tuple(out)
    if use_memo and size_mult == size_mult:
        memo(_SIDE_PLAN, key, plan)
    return plan


def cap_total(quotes: Sequence[Quote], room: Decimal) -> tuple[Quote, ...]:
    """Keep quotes (in order) while their cumulative size fits in ``room``; the first one that does
    not fit is cut to the remaining room (dropped when that is 0) and the rest are dropped."""
    out: list[Quote] = []
    left = shares(room)
    for q in quotes:
        if left <= 0:
            break
        s = q.size
        if s <= left:  # min(q.size, left) is q.size: a Quote is immutable, keep it
            out.append(q if type(q) is Quote else Quote(q.side, q.price, s))
        else:
            s = left
            out.append(Quote(q.side, q.price, s))
        left -= s
    return tuple(out)
