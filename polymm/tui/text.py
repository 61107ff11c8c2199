"""Numbers and names as the dashboard shows them to a person: money to the cent and coloured by sign,
share counts to 2 decimals (more only where a holding has them), prices on the market's tick, what we
hold the venue's way (``YES 12.50``, ``NO 99.03``), never an exponent or float noise; and market names
shortened so the rows of a narrow table still say which market is which.

Plain Python and Rich, no Textual."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from rich.text import Text

from ..domain.prices import Tick, fmt_amount, fmt_number, fmt_pips, fmt_price
from ..state import HoldingView

CENT = Decimal("0.01")


def money(v: Decimal) -> str:
    """Signed, to the cent, thousands separated; a figure that rounds to zero reads +0.00, never -0.00."""
    return fmt_number(v, 2, 2, sign=True, grouping=True)


def sign_style(v: Decimal | float | None) -> str:
    """Green for a gain, red for a loss, nothing for zero (to the cent) or unknown."""
    if v is None:
        return ""
    cents = Decimal(v).quantize(CENT) if isinstance(v, Decimal) else round(v, 2)
    return "green" if cents > 0 else "red" if cents < 0 else ""


def money_text(v: Decimal, suffix: str = "", bold: bool = False) -> Text:
    """``money(v)`` coloured by its sign (``suffix``: a unit, `` pUSD``)."""
    style = sign_style(v)
    return Text(money(v) + suffix, style=f"bold {style}".strip() if bold else style)


def shares_text(v: Decimal) -> str:
    """A share count for a human: 2 decimals, more only where the value has them (a holding of
    0.004 shares must not read 0.00), never an exponent (``1E+1``) or a 28-digit residue."""
    return fmt_amount(v, grouping=True)


def signed_shares_text(v: Decimal) -> str:
    """A YES-terms net for a human: signed shares (``+20.00``, ``-35.00``), ``0.00`` for none."""
    text = shares_text(abs(v))
    return text if text == "0.00" else ("-" if v < 0 else "+") + text


def reward_text(v: Decimal) -> str:
    """A small pUSD amount (a reward, a fee) for a human: to the cent, except that an amount under a cent
    shows its digits (the venue pays in micro-pUSD: 0.004211 must not read 0.00); never an exponent."""
    if abs(v) >= CENT:
        return fmt_number(v, 2, 2, grouping=True)
    return fmt_amount(v, grouping=True)


def price_text(pips: int, tick: Tick | None = None) -> str:
    """A price on its market's tick: ``0.30`` on a 0.01 tick, ``0.305`` on 0.005 (2 decimals when the
    tick is not known)."""
    return fmt_pips(pips, tick)


def decimal_price_text(price: Decimal, tick: Tick | None = None) -> str:
    """A price given as a Decimal (a fill's): on the tick, up to a pip off it."""
    return fmt_price(price, tick)


def signed_price_text(v: Decimal) -> str:
    """A price difference (a markout): signed, 2 to 4 decimals, ``+0.00`` for none."""
    return fmt_number(v, 2, 4, sign=True)


def outcome_label(outcome: str) -> str:
    """``YES`` / ``NO`` for the binary outcomes, else the token's own label (a team), cut to 12."""
    return outcome.upper() if outcome.lower() in ("yes", "no") else outcome[:12]


def held_text(holdings: Sequence[HoldingView], net: Decimal = Decimal(0)) -> str:
    """What we hold in one market, the venue's way: each token and its shares, YES first
    (``YES 20.00``, ``YES 2.50 NO 37.50``); without the ledger's tokens the YES-terms ``net`` as the
    token it is (``NO 35.00`` for −35); ``—`` for nothing."""
    if holdings:
        ordered = sorted(holdings, key=lambda h: h.outcome.lower() != "yes")
        return " ".join(f"{outcome_label(h.outcome)} {shares_text(h.shares)}" for h in ordered)
    if net:
        return f"{'YES' if net > 0 else 'NO'} {shares_text(abs(net))}"
    return "—"


def net_held(holdings: Sequence[HoldingView], fallback: Decimal) -> Decimal:
    """The YES-terms net of what we hold (YES shares − NO shares), from the ledger's tokens when they
    are labelled Yes / No, else ``fallback`` (the market's position: a market of named outcomes)."""
    if not holdings or any(h.outcome.lower() not in ("yes", "no") for h in holdings):
        return fallback
    return sum((-h.shares if h.outcome.lower() == "no" else h.shares for h in holdings), Decimal(0))


def by_market(holdings: Iterable[HoldingView] | None) -> dict[str, list[HoldingView]]:
    """The tokens held, by market (in the order they come)."""
    held: dict[str, list[HoldingView]] = {}
    for h in holdings or ():
        held.setdefault(h.condition_id, []).append(h)
    return held


def age_text(seconds: float) -> str:
    """An age for a person: ``8s``, ``4m05s``, ``2h03m``."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def short_id(order_id: str) -> str:
    """An order id short enough for a column and still telling orders apart (``0x1a2b3c4d``)."""
    return order_id[:10] if order_id.startswith("0x") else order_id[:8]


# ---------------------------------------------------------------- market names

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH_ABBREVIATIONS = frozenset(m[:3] for m in _MONTHS)
_YEAR = re.compile(r"^20\d\d(?:[-/]\d\d)?$")
_DATE_WORD = re.compile(r"^(?:20\d\d(?:[-/]\d\d)?|\d{1,2}(?:st|nd|rd|th)?|q[1-4])$")
#: words that say little once the rows are side by side (never the first word of a name)
_FILLER = frozenset({"a", "an", "the", "of", "be", "to", "in", "on", "at", "as"})
#: words a removed date leaves dangling at the end of a name
_DANGLING = frozenset({"in", "on", "by", "at", "of", "before", "after", "during", "until", "for"})


def _key(word: str) -> str:
    return word.strip(",.;:?!").lower()


def _is_date(word: str) -> bool:
    k = _key(word)
    return bool(_DATE_WORD.match(k)) or k in _MONTHS or k in _MONTH_ABBREVIATIONS


def _base(question: str) -> list[str]:
    """The question's words without its question mark, the leading ``Will`` and article, and ``win the``."""
    q = question.strip().rstrip("?").strip()
    words = q.split()
    if words and words[0].lower() == "will":
        words = words[1:]
    if len(words) > 1 and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i].lower() == "win" and i + 1 < len(words) and words[i + 1].lower() == "the":
            i += 2  # "Real Madrid win the Champions League" → "Real Madrid Champions League"
            continue
        out.append(words[i])
        i += 1
    return out or question.split()


def _without_common_dates(names: list[list[str]]) -> list[list[str]]:
    """Drop the date words (years, months, days) every name has, and the prepositions they leave
    dangling at the end (``… in 2027`` in every row says nothing about which row is which)."""
    if len(names) < 2:
        return names
    common = set.intersection(*({_key(w) for w in n if _is_date(w)} for n in names))
    if not common:
        return names
    out = []
    for words in names:
        kept = [w for w in words if not (_is_date(w) and _key(w) in common)]
        while len(kept) > 1 and _key(kept[-1]) in _DANGLING:
            kept.pop()
        out.append(kept or words)
    return out


def _capitalised(words: list[str]) -> str:
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def fit_name(name: str, width: int) -> str:
    """``name`` in ``width`` columns: as it is when it fits, else without filler words (``a``, ``the``,
    ``in`` …) and with months shortened (``December`` → ``Dec``), then cut at a word with ``…``."""
    if width <= 0 or len(name) <= width:
        return name
    words = name.split()
    words = words[:1] + [w for w in words[1:] if _key(w) not in _FILLER]
    words = [w[:3] + w[len(w.rstrip(",.")):] if _key(w) in _MONTHS and len(_key(w)) > 3 else w for w in words]
    text = " ".join(words)
    if len(text) <= width:
        return text
    # the dates left after short_names differ from row to row: a trailing one is kept after the cut
    tail_words: list[str] = []
    if len(words) > 2 and _YEAR.match(_key(words[-1])):
        tail_words = words[-2:] if _key(words[-2]) in _MONTH_ABBREVIATIONS else words[-1:]
    tail = " " + " ".join(tail_words) if tail_words else ""
    if len(tail) > width // 3:
        tail = ""
    room = width - len(tail) - 1
    head = text[: len(text) - len(tail)] if tail else text
    cut = head[:room]
    if " " in cut and len(cut.rsplit(" ", 1)[0]) >= room * 2 // 3:
        cut = cut.rsplit(" ", 1)[0]  # at a word, unless that loses a third of the room
    return cut.rstrip(" ,") + "…" + tail


def short_names(questions: Mapping[str, str]) -> dict[str, str]:
    """Each market's name for a table: its question without ``Will``, the question mark, ``win the`` and
    the dates every row shares, so the words that tell the rows apart come first. ``fit_name`` then
    fits one to its column."""
    ids = list(questions)
    names = _without_common_dates([_base(questions[c]) for c in ids])
    return {cid: _capitalised(words) for cid, words in zip(ids, names, strict=True)}
