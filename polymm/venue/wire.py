"""Typed shapes of Polymarket's user channel and REST answers (msgspec structs, lax decoding).

Only the fields polymm reads are declared; unknown fields are ignored, so additions on the venue
side never break parsing. Decimal amounts stay strings here and are converted exactly where used.
Trade statuses arrive as ``CONFIRMED`` on the WebSocket and ``TRADE_STATUS_CONFIRMED`` on REST:
``trade_status`` strips the prefix.

Real user-channel payloads are looser than the documented shapes (docs/protocol.md §12): a field may be
``null`` (``"expiration": null``), a number where strings are documented (``created_at``, sizes,
prices, ``timestamp``), and ``match_time`` comes as epoch seconds or ISO-8601. The typed decode
takes the documented shape at full speed; anything else is taken apart item by item and normalised
(``user_event_from_item``): ``null`` means "not sent" (the field's default), a number becomes its
exact decimal text, so every amount stays a ``str`` for the exact ``Decimal`` arithmetic downstream.
Times are read with ``epoch_seconds`` (``TradeEvent.match_ts``) whatever their form.

Balance-allowance replies (``balance_amount``, ``reply_allowances``) come with integer strings in
1e6 units or decimal strings in units, and with an ``allowances`` map or a single ``allowance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import msgspec

from ..domain.messages import FrameError

# ---------------------------------------------------------------- user channel (/ws/user)


class OrderEvent(msgspec.Struct, frozen=True, tag_field="event_type", tag="order"):
    """PLACEMENT / UPDATE / CANCELLATION of one of our orders.

    Amounts are decimal strings (numbers on the wire are turned into their text); ``expiration`` is
    "0" when none was sent (real events carry ``null``); ``created_at`` is epoch seconds and
    ``timestamp`` epoch milliseconds, as text (read them with ``epoch_seconds``)."""

    id: str
    market: str
    asset_id: str
    side: str
    price: str
    original_size: str
    size_matched: str = "0"
    type: str = ""
    status: str = ""
    outcome: str = ""
    owner: str = ""
    order_type: str = ""
    expiration: str = "0"
    created_at: str = ""
    timestamp: str = ""


class MakerOrder(msgspec.Struct, frozen=True):
    order_id: str
    matched_amount: str
    price: str
    asset_id: str = ""
    owner: str = ""
    maker_address: str = ""
    outcome: str = ""
    side: str = ""
    fee_rate_bps: str = "0"


class TradeEvent(msgspec.Struct, frozen=True, tag_field="event_type", tag="trade"):
    """A match that involves us, as taker or maker; re-sent on each status change.

    ``match_time`` is kept as sent (epoch seconds, or ISO-8601 in some payloads; older payloads
    call it ``matchtime``): compare it through ``match_ts``, never as text."""

    id: str
    market: str
    asset_id: str
    side: str  # the taker's side
    size: str
    price: str
    status: str
    taker_order_id: str = ""
    maker_orders: list[MakerOrder] = []
    trader_side: str = ""
    owner: str = ""
    outcome: str = ""
    fee_rate_bps: str = "0"
    match_time: str = ""
    matchtime: str = ""  # the older spelling (docs/protocol.md §6.2)
    last_update: str = ""
    transaction_hash: str = ""
    timestamp: str = ""

    @property
    def match_ts(self) -> float | None:
        """The match time in epoch seconds, whatever form it came in; ``None`` if absent or unreadable."""
        return epoch_seconds(self.match_time or self.matchtime)


UserEvent = OrderEvent | TradeEvent
_user = msgspec.json.Decoder(UserEvent | list[UserEvent], strict=False)
# The fallback keeps non-integer numbers as Decimal, so a number's text survives exactly ("0.57", not 0.56999…).
_generic = msgspec.json.Decoder(float_hook=Decimal)
_USER_TAGS = frozenset({"order", "trade"})

#: At or above this a bare epoch number is milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MS_THRESHOLD = 100_000_000_000


def epoch_seconds(value: object) -> float | None:
    """Epoch seconds from a Polymarket time field, or ``None`` when it is absent or unreadable.

    Accepts epoch seconds or milliseconds as text or number (``"1672290701"``, ``1672290701000``:
    a value of 1e11 or more is milliseconds, which is how ``timestamp`` fields come) and ISO-8601
    (``"2024-01-01T00:00:00Z"``; without an offset it is UTC). Never raises."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            secs = float(value)
        except (OverflowError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            secs = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                return None
            return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).timestamp()
    else:
        return None
    if secs != secs or secs in (float("inf"), float("-inf")):  # NaN / inf from text like "nan"
        return None
    return secs / 1000 if abs(secs) >= _MS_THRESHOLD else secs


def _wire_text(value: object) -> object:
    """A JSON number as the text a string field expects; anything else unchanged (bools stay bools:
    a bool where a string belongs is an error, not a value to guess at)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):  # from a caller's json.loads: the shortest text that reads back the same
        return repr(value)
    return value


def _normalise(item: dict) -> dict:
    """Drop ``null`` fields (so the declared default applies) and turn numbers into their text, at
    the top level and in ``maker_orders``: the forms real payloads use (docs/protocol.md §12)."""
    out = {k: _wire_text(v) for k, v in item.items() if v is not None}
    makers = out.get("maker_orders")
    if isinstance(makers, list):
        out["maker_orders"] = [
            {k: _wire_text(v) for k, v in mo.items() if v is not None} if isinstance(mo, dict) else mo
            for mo in makers
        ]
    return out


def user_event_from_item(item: object) -> UserEvent | FrameError:
    """One decoded user-channel JSON object as an ``OrderEvent`` / ``TradeEvent``, tolerating the
    forms real payloads use (``null`` fields, numbers, ISO times); a ``FrameError`` (``kind``
    ``not_object``, ``unknown_event`` or ``bad_field``) when it cannot be used. Never raises."""
    if not isinstance(item, dict):
        return FrameError("not_object", f"item is {type(item).__name__}, expected an object")
    et = item.get("event_type")
    if not isinstance(et, str) or et not in _USER_TAGS:
        return FrameError("unknown_event", f"event_type {et!r}; known: {', '.join(sorted(_USER_TAGS))}")
    try:
        return msgspec.convert(_normalise(item), UserEvent, strict=False)
    except msgspec.ValidationError as e:
        return FrameError("bad_field", f"{et}: {e}")


def trade_from_rest(doc: object) -> TradeEvent:
    """A REST ``/data/trades`` entry (no ``event_type``) as a ``TradeEvent``, with the same tolerance
    as the user channel; raises ``ValueError`` naming the field when it cannot be used."""
    if not isinstance(doc, dict):
        raise ValueError(f"trade: expected an object, got {type(doc).__name__}")
    ev = user_event_from_item({**doc, "event_type": "trade"})
    if isinstance(ev, FrameError):
        raise ValueError(ev.detail)
    assert isinstance(ev, TradeEvent)  # the tag forces a trade
    return ev


def parse_user_frame(raw: bytes | str) -> tuple[list[UserEvent], list[FrameError]]:
    """Parse one user-channel frame (object or array) into events and errors. Never raises.

    The typed decode takes documented frames in one pass; when it rejects a frame, each item is
    converted on its own (``user_event_from_item``), so one bad item never takes the other events
    of its frame with it: a dropped trade would be a lost fill."""
    try:
        doc = _user.decode(raw)
        return (doc if isinstance(doc, list) else [doc]), []
    except msgspec.ValidationError:
        pass  # a loose field or one bad item: take the frame apart below
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # not JSON at all
        return [], [FrameError("bad_json", str(e)[:160])]
    try:
        doc = _generic.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        return [], [FrameError("bad_json", str(e)[:160])]
    events: list[UserEvent] = []
    errors: list[FrameError] = []
    for item in doc if isinstance(doc, list) else (doc,):
        r = user_event_from_item(item)
        if isinstance(r, FrameError):
            errors.append(r)
        else:
            events.append(r)
    return events, errors


def trade_status(status: str) -> str:
    return status.removeprefix("TRADE_STATUS_")


# ---------------------------------------------------------------- balance-allowance replies

_MICRO = Decimal(1_000_000)


def _number(value: object, field: str) -> tuple[Decimal, bool]:
    """(the number, whether it is in 1e6 units). Integer text or a JSON integer is the documented
    1e6-unit integer; anything with a fraction or an exponent is already in units. Raises
    ``ValueError`` naming ``field``."""
    if value is None:
        raise ValueError(f"{field}: missing")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{field}: expected a number or a numeric string, got {type(value).__name__}")
    if isinstance(value, int):
        number, micro = Decimal(value), True
    else:
        text = repr(value) if isinstance(value, float) else str(value).strip()
        try:
            number = Decimal(text)  # construction is exact, whatever the length (2**256 - 1 allowances)
        except InvalidOperation:
            raise ValueError(f"{field}: not a number: {text[:40]!r}") from None
        micro = isinstance(value, str) and text.lstrip("+").isdigit()
    if not number.is_finite():
        raise ValueError(f"{field}: not a finite number: {value!r:.40}")
    if number < 0:
        raise ValueError(f"{field}: negative: {value!r:.40}")
    return number, micro


def balance_amount(reply: Mapping[str, object], field: str = "balance") -> Decimal:
    """The ``balance`` of a ``/balance-allowance`` reply, in units (pUSD, or shares for a token).

    ``"250500000"`` (an integer string: the documented 1e6 units) and ``"250.500000"`` (a decimal
    string: already in units) both give ``Decimal("250.5")``; a JSON integer counts as 1e6 units, a
    JSON number with a fraction as units. Raises ``ValueError`` naming the field when it is missing,
    negative or not a number, so a caller can show the balance as unknown rather than guess."""
    number, micro = _number(reply.get(field), field)
    return number / _MICRO if micro else number


class Allowances(msgspec.Struct, frozen=True):
    """The allowances of a ``/balance-allowance`` reply, in 1e6 units (what the contracts count).

    ``spenders``: the ``allowances`` map, keyed by lower-cased spender address. ``every``: a single
    ``allowance`` amount, which the venue sends instead of the map and which applies to every spender.
    Use ``of(address)``."""

    spenders: dict[str, int] = {}
    every: int | None = None

    def of(self, spender: str) -> int:
        """This spender's allowance: its map entry, else the single amount, else 0."""
        got = self.spenders.get(spender.lower())
        if got is not None:
            return got
        return self.every if self.every is not None else 0


def _allowance_units(value: object, field: str) -> int:
    # allowances are the contracts' integers (often 2**256 - 1): kept exact, never divided and scaled back
    number, micro = _number(value, field)
    return int(number) if micro else int(number * _MICRO)


def reply_allowances(reply: Mapping[str, object]) -> Allowances:
    """Read both shapes of a reply's allowances: ``"allowances": {spender: "<int>"}`` and a single
    ``"allowance": "<int>"`` (seen in real replies, docs/protocol.md §12). Amounts follow
    ``balance_amount``'s rule and come back in 1e6 units. Raises ``ValueError`` naming the field
    when neither is present or an amount is unreadable."""
    raw_map = reply.get("allowances")
    single = reply.get("allowance")
    if raw_map is None and single is None:
        raise ValueError("allowances: the reply has neither 'allowances' nor 'allowance'")
    spenders: dict[str, int] = {}
    if raw_map is not None:
        if not isinstance(raw_map, Mapping):
            raise ValueError(f"allowances: expected an object, got {type(raw_map).__name__}")
        for spender, amount in raw_map.items():
            spenders[str(spender).lower()] = _allowance_units(amount, f"allowances[{spender}]")
    every = _allowance_units(single, "allowance") if single is not None else None
    return Allowances(spenders, every)


# ---------------------------------------------------------------- CLOB REST


class ClobToken(msgspec.Struct, frozen=True):
    token_id: str
    outcome: str
    price: float = 0.0
    winner: bool = False


class ClobMarket(msgspec.Struct, frozen=True):
    """One entry of CLOB ``/markets`` (and ``/markets/{condition_id}``)."""

    condition_id: str
    tokens: list[ClobToken]
    question: str = ""
    market_slug: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    enable_order_book: bool = True
    minimum_order_size: float = 5.0
    minimum_tick_size: float = 0.01
    neg_risk: bool = False
    end_date_iso: str | None = None


class ClobMarketsPage(msgspec.Struct, frozen=True):
    data: list[ClobMarket]
    next_cursor: str = "LTE="
    limit: int = 0
    count: int = 0


# ---------------------------------------------------------------- Gamma and Data API


class GammaEvent(msgspec.Struct, frozen=True):
    """A Gamma event; its ``markets`` stay raw and go through ``rest.market_from_gamma``."""

    id: str
    slug: str = ""
    title: str = ""
    active: bool = True
    closed: bool = False
    markets: list[dict] = []


class DataTrade(msgspec.Struct, frozen=True):
    """A Data API trade (numbers, camelCase)."""

    side: str
    asset: str
    conditionId: str
    size: float
    price: float
    timestamp: int
    outcome: str = ""
    transactionHash: str = ""


def decode(raw: bytes | str, shape: type) -> object:
    """Decode ``raw`` into ``shape`` leniently (numeric strings accepted as numbers)."""
    return msgspec.json.decode(raw, type=shape, strict=False)
