"""The journal: what the engine did, in SQLite, so a restart loses nothing.

What is kept (one table each): orders placed and how they ended, fills with every status the venue
reported for them (MATCHED → MINED → CONFIRMED, or FAILED), each market's position after every fill,
daily P&L per market, per-market parameter overrides (a tweak made in the TUI survives a restart),
risk events, and the kill latch.

Writes never block the event loop: every ``record_*`` call puts one statement on a queue and returns;
a writer thread drains the queue and commits in batches (one transaction per batch). The queue is
bounded (``max_queued`` statements): should the writer fall that far behind (a disk that stalls for
minutes), further statements are dropped and counted (``dropped``, logged) rather than held in memory
without bound or waited for on the event loop. SQLite runs in
WAL mode with ``synchronous=NORMAL``: a committed batch survives the process being killed (``kill
-9``); only statements still queued at that instant are lost, and the venue fills that gap on restart
(see below). Readers (``restore``, ``read_status``, ``export_pnl``, ``polymm status``) use their own
connections and never wait for the writer.

Restart, in ``Engine.start``: ``restore`` gives back the parameter overrides, the kill latch and every
journaled fill. Fills are replayed into the portfolio (deduplicated by trade id and order id), and the
execution is told which fills it already booked, so when it then reconciles with the venue — orphan
orders cancelled, the venue's trades since the last journaled fill replayed through the same
deduplicating path — a fill the journal missed is booked once and one it has is not booked again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from .domain.market import Side
from .domain.portfolio import Fill, Position
from .domain.prices import fmt_amount

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: fills carry their token (the ledger counts shares per token)
#: Columns added since version 1, for journals created before them: (table, column, definition).
_ADDED = (("fills", "token_id", "TEXT NOT NULL DEFAULT ''"), ("fills", "no_token", "INTEGER NOT NULL DEFAULT 0"))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, condition_id TEXT NOT NULL, side TEXT NOT NULL, price INTEGER NOT NULL,
    size TEXT NOT NULL, status TEXT NOT NULL, placed_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT NOT NULL, order_id TEXT NOT NULL, condition_id TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, size TEXT NOT NULL, fee TEXT NOT NULL, ts REAL NOT NULL, status TEXT NOT NULL,
    token_id TEXT NOT NULL DEFAULT '', no_token INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (trade_id, order_id));
CREATE TABLE IF NOT EXISTS fill_status (
    trade_id TEXT NOT NULL, order_id TEXT NOT NULL, status TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (trade_id, order_id, status));
CREATE TABLE IF NOT EXISTS positions (
    condition_id TEXT PRIMARY KEY, qty TEXT NOT NULL, avg_price TEXT NOT NULL, realized TEXT NOT NULL,
    fees TEXT NOT NULL, fills INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS daily_pnl (
    date TEXT NOT NULL, condition_id TEXT NOT NULL, position TEXT NOT NULL, realized TEXT NOT NULL,
    unrealized TEXT NOT NULL, fees TEXT NOT NULL, fills INTEGER NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (date, condition_id));
CREATE TABLE IF NOT EXISTS params (condition_id TEXT PRIMARY KEY, overrides TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS latch (
    id INTEGER PRIMARY KEY CHECK (id = 1), latched INTEGER NOT NULL, reason TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS fills_by_ts ON fills (ts);
CREATE TABLE IF NOT EXISTS capital_ops (
    op_id TEXT PRIMARY KEY, kind TEXT NOT NULL, condition_id TEXT NOT NULL, question TEXT NOT NULL,
    amount TEXT NOT NULL, path TEXT NOT NULL, tx_id TEXT NOT NULL, tx_hash TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL, error TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    yes_token TEXT NOT NULL, no_token TEXT NOT NULL, yes_delta TEXT NOT NULL, no_delta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS capital_ops_by_time ON capital_ops (created_at);
CREATE TABLE IF NOT EXISTS rewards (
    date TEXT NOT NULL, condition_id TEXT NOT NULL, earned TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (date, condition_id));
CREATE TABLE IF NOT EXISTS markouts (
    trade_id TEXT NOT NULL, order_id TEXT NOT NULL, condition_id TEXT NOT NULL, horizon_s REAL NOT NULL,
    markout TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY (trade_id, order_id, horizon_s));
CREATE TABLE IF NOT EXISTS selections (
    ts REAL NOT NULL, rank INTEGER NOT NULL, condition_id TEXT NOT NULL, question TEXT NOT NULL,
    score REAL NOT NULL, filters TEXT NOT NULL, PRIMARY KEY (ts, rank));
"""

_STOP = object()
#: Statements waiting for the writer at most (a few hundred bytes each); the writer commits up to
#: 1000 a batch, so this is many batches behind: only a stalled disk gets there.
MAX_QUEUED = 50_000


def utc_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Restored:
    """What a restart takes back from the journal."""

    params: dict[str, dict[str, str]]  # condition id → field → value (as text; MarketParams validates)
    latched: bool
    reason: str
    fills: list[tuple[Fill, str]]  # oldest first, each with the venue's last status for its leg
    open_orders: list[str]  # orders the journal last knew as resting (the venue decides their fate)
    #: confirmed merges and splits: token counts that moved without a trade (``Ledger.restore_moves``)
    moves: list[CapitalRecord] = field(default_factory=list)

    @property
    def last_fill_ts(self) -> float | None:
        return max((f.ts for f, _ in self.fills), default=None)


@dataclass(frozen=True)
class JournalStatus:
    """``polymm status``'s view of a journal (read-only)."""

    path: str
    latched: bool
    reason: str
    positions: dict[str, Decimal] = field(default_factory=dict)  # condition id → net YES-equivalent qty
    open_orders: int = 0
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    last_event_at: float | None = None  # epoch seconds


def _connect_ro(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no journal at {p}")
    return sqlite3.connect(f"file:{p}?mode=ro", uri=True)


_FILL_COLUMNS = "trade_id, order_id, condition_id, side, price, size, fee, ts, token_id, no_token"


def _fill_from_row(row: tuple) -> Fill:
    trade_id, order_id, cid, side, price, size, fee, ts, token, no = row
    return Fill(cid, order_id, Side(side), int(price), Decimal(size), Decimal(fee), float(ts), trade_id,
                token or "", bool(no))


class Journal:
    """An open journal: ``record_*`` from the event loop (never blocks), ``restore`` at start-up,
    ``close`` at the end (waits for the queue to drain)."""

    def __init__(self, path: str | Path, clock=time.time, max_queued: int = MAX_QUEUED) -> None:
        self.path = Path(path).expanduser()
        from .statedir import private_file

        # 0600 before sqlite opens it: its -wal and -shm files are created with the database's mode
        private_file(self.path, "-wal", "-shm")
        self.clock = clock
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            for table, column, definition in _ADDED:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            conn.commit()
        finally:
            conn.close()
        self._params: dict[str, dict[str, str]] = {}
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.max_queued = max_queued
        self.errors = 0
        self.written = 0
        self.dropped = 0  # statements not queued because ``max_queued`` were waiting (never written)
        self._closed = False
        self._thread = threading.Thread(target=self._writer, name="journal-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ writer thread
    def _writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        stop = False
        while not stop:
            batch = [self._q.get()]
            while len(batch) < 1000:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            done: list[threading.Event] = []
            conn.execute("BEGIN")
            for item in batch:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    done.append(item)
                else:
                    try:
                        conn.execute(*item)
                        self.written += 1
                    except sqlite3.Error as e:  # one bad statement must not lose the batch
                        self.errors += 1
                        log.error("journal: %s in %s", e, item[0].split("(")[0].strip())
            conn.execute("COMMIT")
            for ev in done:
                ev.set()
        conn.close()

    def _put(self, sql: str, args: tuple) -> None:
        if self._closed:
            return
        if self._q.qsize() >= self.max_queued:  # the writer is that far behind: drop, never grow or wait
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("journal: the writer is %d statements behind; %d dropped so far (disk stalled?)",
                          self.max_queued, self.dropped)
            return
        self._q.put((sql, args))

    @property
    def queued(self) -> int:
        """Statements waiting for the writer now."""
        return self._q.qsize()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything recorded so far is committed (tests, shutdown)."""
        ev = threading.Event()
        self._q.put(ev)
        return ev.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._q.put(_STOP)
        self._thread.join(timeout)

    # ------------------------------------------------------------ records
    def record_orders(self, condition_id: str, orders: list[tuple[str, Side, int, Decimal]]) -> None:
        """Orders the venue accepted: (order id, side in YES terms, price in pips, size)."""
        now = self.clock()
        for oid, side, price, size in orders:
            self._put("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, 'live', ?, ?)",
                      (oid, condition_id, side.value, price, str(size), now, now))

    def record_order_status(self, order_ids: list[str], status: str) -> None:
        """An order's end: ``cancelled``, ``filled``, or ``gone`` (no longer at the venue)."""
        now = self.clock()
        for oid in order_ids:
            self._put("UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ? AND status = 'live'",
                      (status, now, oid))

    def record_fill(self, fill: Fill, position: Position | None = None, status: str | None = "MATCHED") -> None:
        """A booked fill (deduplicated by trade id and order id) and the market's position after it.
        ``status`` None: the venue's statuses follow through ``record_fill_status`` (live execution)."""
        self._put(f"INSERT OR IGNORE INTO fills ({_FILL_COLUMNS}, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (fill.trade_id, fill.order_id, fill.condition_id, fill.side.value, fill.price, str(fill.size),
                   str(fill.fee), fill.ts, fill.token, int(fill.no), status or "booked"))
        if status is not None:
            self.record_fill_status(fill.trade_id, fill.order_id, status, fill.ts)
        if position is not None:
            self._put("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (fill.condition_id, str(position.qty), str(position.avg_price), str(position.realized),
                       str(position.fees), position.fills, self.clock()))

    def record_fill_status(self, trade_id: str, order_id: str, status: str, ts: float | None = None) -> None:
        ts = self.clock() if ts is None else ts
        self._put("INSERT OR IGNORE INTO fill_status VALUES (?, ?, ?, ?)", (trade_id, order_id, status, ts))
        self._put("UPDATE fills SET status = ? WHERE trade_id = ? AND order_id = ?", (status, trade_id, order_id))

    def record_params(self, condition_id: str, changes: dict[str, object]) -> None:
        """A parameter override (merged into the market's earlier overrides)."""
        merged = {**self._params.get(condition_id, {}), **{k: _text(v) for k, v in changes.items()}}
        self._params[condition_id] = merged
        self._put("INSERT OR REPLACE INTO params VALUES (?, ?, ?)",
                  (condition_id, json.dumps(merged, sort_keys=True), self.clock()))

    def record_daily(self, rows: list[tuple[str, Position, Decimal]], ts: float | None = None) -> None:
        """Today's P&L per market: (condition id, position, unrealised at the mark)."""
        ts = self.clock() if ts is None else ts
        day = utc_date(ts)
        for cid, pos, unreal in rows:
            self._put("INSERT OR REPLACE INTO daily_pnl VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (day, cid, str(pos.qty), str(pos.realized), str(unreal), str(pos.fees), pos.fills, ts))

    def record_capital_op(self, op: CapitalRecord) -> None:
        """A capital operation as it stands now (one row per operation, replaced as its status moves)."""
        self._put("INSERT OR REPLACE INTO capital_ops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (op.op_id, op.kind, op.condition_id, op.question, str(op.amount), op.path, op.tx_id, op.tx_hash,
                   op.status, op.attempts, op.error, op.created_at, op.updated_at, op.yes_token, op.no_token,
                   str(op.yes_delta), str(op.no_delta)))

    def record_rewards(self, date: str, by_market: dict[str, Decimal], ts: float | None = None) -> None:
        """The liquidity rewards the venue says we earned on ``date`` (UTC), per market (replaces the day's
        earlier reading: the venue's figure is cumulative for the day)."""
        ts = self.clock() if ts is None else ts
        for cid, earned in by_market.items():
            self._put("INSERT OR REPLACE INTO rewards VALUES (?, ?, ?, ?)", (date, cid, str(earned), ts))

    def record_markout(self, fill: Fill, horizon_s: float, markout: Decimal, ts: float | None = None) -> None:
        """A fill's markout ``horizon_s`` after it: the mark then against its price, dollars a share in
        YES terms, + = the market moved our way (the fills tab's figure)."""
        ts = self.clock() if ts is None else ts
        self._put("INSERT OR REPLACE INTO markouts VALUES (?, ?, ?, ?, ?, ?)",
                  (fill.trade_id, fill.order_id, fill.condition_id, horizon_s, _text(markout), ts))

    def record_selection(self, picked: list[tuple[str, str, float]], filters: str, ts: float | None = None) -> None:
        """The automatic selection as it was made: (condition id, question, score) in rank order, and its
        filters as a person reads them (``describe_filters``)."""
        ts = self.clock() if ts is None else ts
        for rank, (cid, question, score) in enumerate(picked, 1):
            self._put("INSERT OR REPLACE INTO selections VALUES (?, ?, ?, ?, ?, ?)",
                      (ts, rank, cid, question, float(score), filters))

    def record_risk(self, kind: str, text: str) -> None:
        self._put("INSERT INTO risk_events (ts, kind, text) VALUES (?, ?, ?)", (self.clock(), kind, text))

    def record_latch(self, latched: bool, reason: str = "") -> None:
        self._put("INSERT OR REPLACE INTO latch VALUES (1, ?, ?, ?)", (int(latched), reason, self.clock()))
        self.record_risk("kill" if latched else "rearm", reason or "re-armed")

    # ------------------------------------------------------------ reading back
    def restore(self) -> Restored:
        """Everything a restart takes back (read on a connection of its own)."""
        conn = sqlite3.connect(self.path)
        try:
            params = {cid: json.loads(text) for cid, text in conn.execute("SELECT condition_id, overrides FROM params")}
            row = conn.execute("SELECT latched, reason FROM latch WHERE id = 1").fetchone()
            fills = [(_fill_from_row(r[:-1]), r[-1]) for r in conn.execute(
                f"SELECT {_FILL_COLUMNS}, status FROM fills ORDER BY rowid")]
            orders = [oid for (oid,) in conn.execute("SELECT order_id FROM orders WHERE status = 'live'")]
            moves = [_capital_from_row(r) for r in conn.execute(
                "SELECT * FROM capital_ops WHERE status = 'confirmed' AND kind IN ('merge', 'split') ORDER BY rowid")]
        finally:
            conn.close()
        self._params = {cid: dict(p) for cid, p in params.items()}
        return Restored(params, bool(row[0]) if row else False, row[1] if row else "", fills, orders, moves)


@dataclass(frozen=True, slots=True)
class CapitalRecord:
    """One capital operation (merge, split, redeem) as the journal keeps it."""

    op_id: str
    kind: str
    condition_id: str
    question: str
    amount: Decimal
    path: str  # "eoa", "relayer-safe", "relayer-proxy", "relayer-wallet", "paper"
    tx_id: str
    tx_hash: str
    status: str  # planned, submitted, retrying, confirmed, failed
    attempts: int
    error: str
    created_at: float
    updated_at: float
    yes_token: str = ""
    no_token: str = ""
    yes_delta: Decimal = Decimal(0)  # what it does to our YES and NO counts once confirmed
    no_delta: Decimal = Decimal(0)

    def as_json(self) -> dict[str, object]:
        return {"op": self.kind, "op_id": self.op_id, "condition_id": self.condition_id, "question": self.question,
                "amount": _text(self.amount), "path": self.path, "tx_id": self.tx_id, "tx_hash": self.tx_hash,
                "status": self.status, "attempts": self.attempts, "error": self.error,
                "created_at": self.created_at, "updated_at": self.updated_at}


def read_capital_ops(path: str | Path, limit: int = 100) -> list[CapitalRecord]:
    """The journal's latest capital operations, newest first (read-only)."""
    conn = _connect_ro(path)
    try:
        if not _has_table(conn, "capital_ops"):
            return []
        rows = conn.execute("SELECT * FROM capital_ops ORDER BY created_at DESC, op_id LIMIT ?", (limit,)).fetchall()
    finally:
        conn.close()
    return [_capital_from_row(r) for r in rows]


def _capital_from_row(r: tuple) -> CapitalRecord:
    return CapitalRecord(r[0], r[1], r[2], r[3], Decimal(r[4]), r[5], r[6], r[7], r[8], int(r[9]), r[10],
                         float(r[11]), float(r[12]), r[13], r[14], Decimal(r[15]), Decimal(r[16]))


def count_metered_today(path: str | Path, paths: tuple[str, ...], ts: float) -> int:
    """Distinct transactions sent on ``ts``'s UTC day through ``paths`` (the relayer's daily quota)."""
    p = Path(path)
    if not p.is_file():
        return 0
    conn = _connect_ro(p)
    try:
        if not _has_table(conn, "capital_ops"):
            return 0
        day = utc_date(ts)
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        marks = ",".join("?" * len(paths))
        (n,) = conn.execute(f"SELECT count(DISTINCT tx_id) FROM capital_ops WHERE tx_id != '' AND path IN ({marks}) "
                            "AND created_at >= ? AND created_at < ?", (*paths, start, start + 86_400)).fetchone()
    finally:
        conn.close()
    return int(n)


def read_rewards(path: str | Path, date: str) -> dict[str, Decimal]:
    """condition id → rewards earned on ``date`` as last journaled (read-only)."""
    conn = _connect_ro(path)
    try:
        if not _has_table(conn, "rewards"):
            return {}
        return {cid: Decimal(e) for cid, e in conn.execute(
            "SELECT condition_id, earned FROM rewards WHERE date = ?", (date,))}
    finally:
        conn.close()


def read_markouts(path: str | Path, condition_id: str | None = None) -> list[tuple[str, str, str, float, Decimal]]:
    """(trade id, order id, condition id, horizon s, markout) of the journaled fills, oldest first (read-only)."""
    conn = _connect_ro(path)
    try:
        if not _has_table(conn, "markouts"):
            return []
        where, args = ("WHERE condition_id = ?", (condition_id,)) if condition_id else ("", ())
        rows = conn.execute(f"SELECT trade_id, order_id, condition_id, horizon_s, markout FROM markouts {where} "
                            "ORDER BY ts, trade_id", args).fetchall()
    finally:
        conn.close()
    return [(t, o, c, float(h), Decimal(m)) for t, o, c, h, m in rows]


def read_selections(path: str | Path) -> list[tuple[float, list[tuple[str, str, float]], str]]:
    """Every automatic selection journaled, oldest first: (time, [(condition id, question, score)] in rank
    order, its filters) (read-only)."""
    conn = _connect_ro(path)
    try:
        if not _has_table(conn, "selections"):
            return []
        rows = conn.execute("SELECT ts, rank, condition_id, question, score, filters FROM selections "
                            "ORDER BY ts, rank").fetchall()
    finally:
        conn.close()
    out: list[tuple[float, list[tuple[str, str, float]], str]] = []
    for ts, _rank, cid, question, score, filters in rows:
        if not out or out[-1][0] != ts:
            out.append((float(ts), [], filters))
        out[-1][1].append((cid, question, float(score)))
    return out


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def resolve_path(setting: str, mode: str) -> str:
    """The journal the programs use ("" for none): the ``journal_path`` setting; when it is empty,
    ``$XDG_STATE_HOME/polymm/journal-<mode>.sqlite`` (``~/.local/state`` by default) in paper and live
    mode and none in demo mode (its stand-in venue is new every run); ``off`` → none."""
    if setting == "off":
        return ""
    if setting:
        return str(Path(setting).expanduser())
    if mode.lower() == "demo":
        return ""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return str(base / "polymm" / f"journal-{mode.lower()}.sqlite")


def _text(v: object) -> str:
    """A value as text; a Decimal without exponent or trailing zeros (10 → "10", 2.50 → "2.5")."""
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return str(v)


def read_status(path: str | Path) -> JournalStatus:
    """A read-only look at a journal (``polymm status``); FileNotFoundError when there is none."""
    conn = _connect_ro(path)
    try:
        row = conn.execute("SELECT latched, reason FROM latch WHERE id = 1").fetchone()
        positions = {cid: Decimal(q) for cid, q in conn.execute("SELECT condition_id, qty FROM positions")}
        (orders,) = conn.execute("SELECT count(*) FROM orders WHERE status = 'live'").fetchone()
        params = {cid: json.loads(t) for cid, t in conn.execute("SELECT condition_id, overrides FROM params")}
        stamps = [r[0] for q in ("SELECT max(updated_at) FROM orders", "SELECT max(ts) FROM fills",
                                 "SELECT max(ts) FROM risk_events", "SELECT max(updated_at) FROM daily_pnl")
                  if (r := conn.execute(q).fetchone()) and r[0] is not None]
    finally:
        conn.close()
    return JournalStatus(str(path), bool(row[0]) if row else False, row[1] if row else "", positions, int(orders),
                         params, max(stamps) if stamps else None)


#: ``total`` is trading alone (realised + unrealised − fees); ``rewards`` the liquidity rewards the venue
#: said the market earned that day; ``net`` = total + rewards (trading + rewards − fees).
PNL_COLUMNS = ("date", "condition_id", "position", "realized", "unrealized", "fees", "total", "fills", "rewards", "net")


def _plain(d: Decimal) -> str:
    """A CSV amount (``prices.fmt_amount``): plain digits, never an exponent (``1E+1`` → ``10.00``,
    ``0E-7`` → ``0.00``), 2 decimals and up to 6 where the value has them (``0.000001``), rounded
    there (``-24.9799999999999996`` → ``-24.98``)."""
    return fmt_amount(d)


def export_pnl(path: str | Path, date: str) -> str:
    """CSV of one UTC day's P&L per market, with a TOTAL row. The journal keeps running (cumulative)
    snapshots per day; a day's realised P&L, fees, total and fills are its last snapshot minus the
    last snapshot of the market's previous journaled day; position and unrealised are as of the day's
    last snapshot. ``total`` is trading (realised + unrealised − fees); ``rewards`` is what the venue
    said the market earned that day (the journal's ``rewards`` table, its last reading); ``net`` =
    total + rewards; amounts are plain decimals with 2 to 6 decimals (``_plain``). A market that earned
    rewards but has no P&L snapshot that day is listed with zero trading and its position and
    unrealised left empty. ``date``: ``YYYY-MM-DD``; raises ValueError naming the field otherwise."""
    try:
        datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"--date: must be a date as YYYY-MM-DD (got {date!r})") from None
    conn = _connect_ro(path)
    try:
        rows = conn.execute(
            "SELECT condition_id, position, realized, unrealized, fees, fills FROM daily_pnl WHERE date = ? "
            "ORDER BY condition_id", (date,)).fetchall()
        before = {cid: (Decimal(r), Decimal(u), Decimal(f), int(n)) for cid, r, u, f, n in conn.execute(
            "SELECT condition_id, realized, unrealized, fees, fills FROM daily_pnl d WHERE date = "
            "(SELECT max(date) FROM daily_pnl e WHERE e.condition_id = d.condition_id AND e.date < ?)", (date,))}
        rewards = {cid: Decimal(e) for cid, e in conn.execute(
            "SELECT condition_id, earned FROM rewards WHERE date = ?", (date,))} if _has_table(conn, "rewards") else {}
    finally:
        conn.close()
    zero = Decimal(0)
    # condition id → (position, realised, unrealised, fees, total, fills); None where the day has no snapshot
    days: dict[str, tuple[Decimal | None, Decimal, Decimal | None, Decimal, Decimal, int]] = {}
    for cid, pos, real, unreal, fees, n in rows:
        r0, u0, f0, n0 = before.get(cid, (zero, zero, zero, 0))
        real_d, unreal_d, fees_d = Decimal(real) - r0, Decimal(unreal), Decimal(fees) - f0
        days[cid] = (Decimal(pos), real_d, unreal_d, fees_d, real_d + (unreal_d - u0) - fees_d, int(n) - n0)
    for cid in rewards.keys() - days.keys():
        days[cid] = (None, zero, None, zero, zero, 0)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(PNL_COLUMNS)
    sums = [zero] * 6  # realised, unrealised, fees, total, rewards, net
    fills = 0
    for cid in sorted(days):
        held, realised, unrealised, paid, total, n = days[cid]
        earned = rewards.get(cid, zero)
        w.writerow((date, cid, "" if held is None else _plain(held), _plain(realised),
                    "" if unrealised is None else _plain(unrealised), _plain(paid), _plain(total), n,
                    _plain(earned), _plain(total + earned)))
        for i, v in enumerate((realised, unrealised or zero, paid, total, earned, total + earned)):
            sums[i] += v
        fills += n
    w.writerow((date, "TOTAL", "", *(_plain(v) for v in sums[:4]), fills, *(_plain(v) for v in sums[4:])))
    return out.getvalue()


# ------------------------------------------------------------ rebuild-positions (``ops.rebuild.rebuild_positions``)
@dataclass(frozen=True)
class JournalFills:
    """Every fill row of a journal as ``polymm rebuild-positions`` reads it (read-only)."""

    path: str
    fills: list[tuple[Fill, str]]  # oldest first (journal order), each with its last status
    history: dict[tuple[str, str], list[tuple[str, float]]]  # (trade id, order id) → fill_status rows, oldest first
    fingerprint: tuple[int, int]  # (rows, max rowid) of ``fills``: a rewrite checks nothing was added since


class JournalChanged(RuntimeError):
    """The journal's fills changed between reading and rewriting them (another writer)."""


def read_fills(path: str | Path) -> JournalFills:
    """The journal's fills with their statuses, read-only (journals made before fills carried their
    token read as token ""). FileNotFoundError when there is none; sqlite3.Error when the file is
    not a journal."""
    conn = _connect_ro(path)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(fills)")}
        if not columns:
            raise sqlite3.DatabaseError("no fills table")
        select = _FILL_COLUMNS
        for column, default in (("token_id", "''"), ("no_token", "0")):
            if column not in columns:
                select = select.replace(column, f"{default} AS {column}")
        fills = [(_fill_from_row(r[:-1]), r[-1]) for r in conn.execute(
            f"SELECT {select}, status FROM fills ORDER BY rowid")]
        history: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for trade_id, order_id, status, ts in conn.execute(
                "SELECT trade_id, order_id, status, ts FROM fill_status ORDER BY ts, rowid"):
            history.setdefault((trade_id, order_id), []).append((status, float(ts)))
        (rows, top) = conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM fills").fetchone()
    finally:
        conn.close()
    return JournalFills(str(path), fills, history, (int(rows), int(top)))


def rewrite_fills(
    path: str | Path,
    fills: list[tuple[Fill, str]],
    history: dict[tuple[str, str], list[tuple[str, float]]],
    positions: dict[str, Position],
    *,
    expect: tuple[int, int],
    note: str = "",
    clock=time.time,
) -> None:
    """Replace the journal's ``fills``, ``fill_status`` and ``positions`` in one transaction: ``fills``
    in booking order (the order a restore replays them in) with each row's status, ``history`` the
    fill_status rows of each leg, ``positions`` each market's position after them. Orders, daily P&L,
    parameters and the kill latch are left as they are; a ``rebuild`` risk event records ``note``.

    ``expect`` is the ``fingerprint`` the caller read: if the fills changed since (another process
    wrote to the journal), nothing is written and ``JournalChanged`` is raised. The journal is opened
    as the engine opens it first (private mode, schema brought up to date)."""
    Journal(path).close()  # 0600, WAL, and the columns a journal of an older schema lacks
    now = clock()
    conn = sqlite3.connect(Path(path).expanduser(), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            (rows, top) = conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM fills").fetchone()
            if (int(rows), int(top)) != tuple(expect):
                raise JournalChanged(f"{path}: its fills changed while rebuilding ({expect[0]} rows then, {rows} "
                                     f"now): is a polymm writing to it?")
            conn.execute("DELETE FROM fills")
            conn.execute("DELETE FROM fill_status")
            conn.execute("DELETE FROM positions")
            conn.executemany(
                f"INSERT OR IGNORE INTO fills ({_FILL_COLUMNS}, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.trade_id, f.order_id, f.condition_id, f.side.value, f.price, str(f.size), str(f.fee), f.ts,
                  f.token, int(f.no), status) for f, status in fills])
            conn.executemany("INSERT OR IGNORE INTO fill_status VALUES (?, ?, ?, ?)",
                             [(tid, oid, status, ts) for (tid, oid), seen in history.items() for status, ts in seen])
            conn.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(cid, str(p.qty), str(p.avg_price), str(p.realized), str(p.fees), p.fills, now)
                              for cid, p in positions.items()])
            conn.execute("INSERT INTO risk_events (ts, kind, text) VALUES (?, 'rebuild', ?)",
                         (now, note or "fills and positions rebuilt from the venue's trades"))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
