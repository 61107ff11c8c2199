"""Market-data recorder: raw market-channel frames to rotated gzip JSON Lines, and back.

File format (one ``.jsonl.gz`` file per rotation, gzip of UTF-8 JSON Lines, one line per frame)::

    {"t":1763769599123456789,"raw":"[{\\"event_type\\":\\"book\\",...}]"}     text frame
    {"t":1763769599123456789,"b64":"AAEC..."}                                   binary frame

``t`` is the receive time in integer epoch nanoseconds (``time.time_ns()``); ``raw`` is the frame
text exactly as received, stored as a JSON string (not decoded), so a reader gives back the very same
``str``; a binary frame is stored base64 under ``b64`` and given back as the same ``bytes``.

Market definitions (what a replay needs besides the frames: tokens, tick, minimum size, neg-risk
group, rewards, end date) travel in the same stream as lines of their own::

    {"t":1763769599123456789,"markets":[{"condition_id":"0x..","yes_token":"..","tick":"0.01",...}]}

``FrameWriter.add_markets`` registers them: they are written at once into the open file (only the
new or changed ones) and repeated at the head of every file the writer opens later, so each file of a
rotated recording is replayable on its own. ``FrameReader`` iterates frames only (market lines are
neither frames nor bad lines); ``FrameReader.records()`` yields both, in order, and ``markets`` holds
the definitions read so far. Files written before market lines existed read as before (no markets).

Files are named ``{prefix}-{YYYYmmddTHHMMSSZ}-{seq:04d}.jsonl.gz`` (UTC time the file was opened,
``seq`` counting the writer's files), so sorting by name is recording order. A file is written as
``<name>.part`` and renamed when closed: a reader of a directory never sees a half-written file. After
a crash a ``.part`` file is left behind; it is ignored when reading a directory but can be passed to
``FrameReader`` explicitly (its truncated tail is skipped and counted).

``FrameWriter`` is synchronous and cheap: ``write`` encodes one line (a few µs) into an in-memory
buffer, which is compressed into the open file once it holds ``buffer_bytes`` (64 KiB ≈ 1 ms of
zlib at the default level); opening, closing and renaming files happen only at rotation. It is meant
to be called straight from an event-loop callback; there is no thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import logging
import os
import signal
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from ..domain.market import Market
from ..domain.prices import PriceError, Tick
from .market_ws import MarketSocket

log = logging.getLogger(__name__)

SUFFIX = ".jsonl.gz"
PART = ".part"

_REQUIRED = ("condition_id", "yes_token", "no_token", "tick")


def market_to_json(m: Market) -> dict[str, Any]:
    """A market definition as recorded: decimals and the tick as their exact decimal strings."""
    return {
        "condition_id": m.condition_id,
        "yes_token": m.yes_token,
        "no_token": m.no_token,
        "question": m.question,
        "tick": m.tick.text,
        "min_order_size": str(m.min_order_size),
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": m.neg_risk_market_id,
        "slug": m.slug,
        "reward_min_size": str(m.reward_min_size),
        "reward_max_spread": str(m.reward_max_spread),
        "end_date": m.end_date,
        "outcomes": list(m.outcomes),
        **({"game_start": m.game_start} if m.game_start else {}),
    }


def market_from_json(doc: object) -> Market:
    """The inverse of ``market_to_json``. Raises ``ValueError`` naming the bad field and what it allows."""
    if not isinstance(doc, dict):
        raise ValueError(f"market definition: expected a JSON object, got {type(doc).__name__}")
    missing = [k for k in _REQUIRED if not doc.get(k)]
    if missing:
        raise ValueError(f"market definition: missing {', '.join(missing)} (required: {', '.join(_REQUIRED)})")
    for k in ("condition_id", "yes_token", "no_token", "question", "neg_risk_market_id", "slug", "end_date",
              "game_start"):
        if not isinstance(doc.get(k, ""), str):
            raise ValueError(f"market definition: {k} must be a string (got {doc[k]!r})")
    try:
        tick = Tick.parse(str(doc["tick"]))
    except PriceError as e:
        raise ValueError(f"market definition: tick: {e}") from None

    def dec(key: str, default: str) -> Decimal:
        value = doc.get(key, default)
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"market definition: {key} must be a decimal number >= 0 (got {value!r})") from None
        if not d.is_finite() or d < 0:
            raise ValueError(f"market definition: {key} must be a decimal number >= 0 (got {value!r})")
        return d

    neg_risk = doc.get("neg_risk", False)
    if not isinstance(neg_risk, bool):
        raise ValueError(f"market definition: neg_risk must be true or false (got {neg_risk!r})")
    outcomes = doc.get("outcomes", ["Yes", "No"])
    if not (isinstance(outcomes, list | tuple) and len(outcomes) == 2 and all(isinstance(o, str) for o in outcomes)):
        raise ValueError(f"market definition: outcomes must be two strings (got {outcomes!r})")
    return Market(
        condition_id=doc["condition_id"],
        yes_token=doc["yes_token"],
        no_token=doc["no_token"],
        question=doc.get("question", ""),
        tick=tick,
        min_order_size=dec("min_order_size", "5"),
        neg_risk=neg_risk,
        neg_risk_market_id=doc.get("neg_risk_market_id", ""),
        slug=doc.get("slug", ""),
        reward_min_size=dec("reward_min_size", "0"),
        reward_max_spread=dec("reward_max_spread", "0"),
        end_date=doc.get("end_date", ""),
        outcomes=(outcomes[0], outcomes[1]),
        game_start=doc.get("game_start", ""),
    )


class MarketsLine(NamedTuple):
    """A market-definitions line of a recording (``FrameReader.records``)."""

    markets: tuple[Market, ...]


class FrameWriter:
    """Append frames to gzip JSON Lines files in ``directory``, rotating by size and/or age.

    ``rotate_bytes`` counts uncompressed JSONL bytes (the gzip file is typically 5-10x smaller);
    ``rotate_seconds`` is the age of the open file. Either may be None (no rotation on that axis).
    Age is checked on each ``write`` and by ``tick()`` (call it periodically when frames may stop).
    ``close()`` flushes, closes and renames the open file; the writer can be reused afterwards (the
    next ``write`` opens a new file).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str = "market",
        rotate_bytes: int | None = 64 * 1024 * 1024,
        rotate_seconds: float | None = 3600.0,
        buffer_bytes: int = 64 * 1024,
        compresslevel: int = 6,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.buffer_bytes = buffer_bytes
        self.compresslevel = compresslevel
        self.clock = clock
        self.frames = 0  # total frames written by this writer
        self.files: list[Path] = []  # closed (renamed) files, in order
        self._seq = 0
        self._gz: gzip.GzipFile | None = None
        self._raw: BinaryIO | None = None
        self._part: Path | None = None
        self._final: Path | None = None
        self._opened_at = 0.0
        self._file_bytes = 0
        self._head_bytes = 0  # the market lines a file starts with
        self._buf: list[bytes] = []
        self._buf_len = 0
        #: Market definitions, repeated at the head of every file (``add_markets``).
        self.markets: dict[str, Market] = {}

    # -- writing -------------------------------------------------------------------------------
    def add_markets(self, markets: Iterable[Market], recv_ns: int | None = None) -> None:
        """Register market definitions. The new or changed ones are written at once when a file is
        open (stamped ``recv_ns``, now if None); every file opened later starts with all of them."""
        fresh = [m for m in markets if self.markets.get(m.condition_id) != m]
        for m in fresh:
            self.markets[m.condition_id] = m
        if fresh and self._gz is not None:
            self._append(self._markets_line(fresh, time.time_ns() if recv_ns is None else recv_ns))

    @staticmethod
    def _markets_line(markets: Iterable[Market], t: int) -> bytes:
        return b'{"t":%d,"markets":%s}\n' % (t, orjson.dumps([market_to_json(m) for m in markets]))

    def _append(self, line: bytes) -> None:
        self._buf.append(line)
        self._buf_len += len(line)
        self._file_bytes += len(line)
        if self._buf_len >= self.buffer_bytes:
            self._drain()

    def write(self, raw: str | bytes, recv_ns: int | None = None) -> None:
        """Record one frame received at ``recv_ns`` (epoch ns; now if None)."""
        t = time.time_ns() if recv_ns is None else recv_ns
        if isinstance(raw, str):
            line = b'{"t":%d,"raw":%s}\n' % (t, orjson.dumps(raw))
        else:
            line = b'{"t":%d,"b64":"%s"}\n' % (t, base64.b64encode(raw))
        if self._gz is None:
            self._open(t)
        elif self._due(len(line)):
            self._rotate(t)
        self.frames += 1
        self._append(line)

    def _due(self, incoming: int) -> bool:
        if self._file_bytes <= self._head_bytes:
            return False  # never leave a file without frames behind
        if self.rotate_bytes is not None and self._file_bytes + incoming > self.rotate_bytes:
            return True
        return self.rotate_seconds is not None and self.clock() - self._opened_at >= self.rotate_seconds

    def tick(self) -> None:
        """Rotate by age even when no frame arrives (a no-op when nothing is open or due): the file is
        closed, and the next ``write`` opens the next one."""
        if self._gz is not None and self._due(0):
            self.close()  # the next write opens the next file

    def flush(self) -> None:
        """Compress the buffer into the open ``.part`` file and sync-flush zlib (crash safety)."""
        if self._gz is not None:
            self._drain()
            self._gz.flush(zlib.Z_SYNC_FLUSH)

    def close(self) -> None:
        """Flush and close the open file and rename it to its final name."""
        if self._gz is None:
            return
        self._drain()
        self._gz.close()  # GzipFile does not close a fileobj it was handed
        assert self._raw is not None and self._part is not None and self._final is not None
        self._raw.close()
        os.replace(self._part, self._final)
        self.files.append(self._final)
        self._gz = self._raw = self._part = self._final = None
        self._file_bytes = 0

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def current(self) -> Path | None:
        """The final name of the file being written, if one is open."""
        return self._final

    def _drain(self) -> None:
        if self._buf and self._gz is not None:
            self._gz.write(b"".join(self._buf))
        self._buf.clear()
        self._buf_len = 0

    def _rotate(self, t: int) -> None:
        self.close()
        self._open(t)

    def _open(self, t: int) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        while True:
            self._seq += 1
            final = self.directory / f"{self.prefix}-{stamp}-{self._seq:04d}{SUFFIX}"
            part = final.with_name(final.name + PART)
            if not final.exists() and not part.exists():
                break
        self._final, self._part = final, part
        self._raw = open(part, "xb")  # noqa: SIM115 - closed in close()
        self._gz = gzip.GzipFile(filename=final.name, mode="wb", compresslevel=self.compresslevel, fileobj=self._raw)
        self._opened_at = self.clock()
        self._file_bytes = 0
        if self.markets:
            self._append(self._markets_line(self.markets.values(), t))
        self._head_bytes = self._file_bytes


class FrameReader:
    """Read recorded frames back as ``(recv_ns, raw)`` in recorded order (``records()``: with the
    market-definition lines too).

    ``source`` is a directory (every ``*.jsonl.gz`` in it, ``.part`` files ignored, sorted by name),
    one file, or an iterable of files (read in the order given). A line that is not a complete,
    well-formed record is skipped and counted in ``bad_lines``; a gzip stream that is truncated or
    corrupt ends that file (frames before the damage are kept) and is counted in ``bad_files``.
    Iterating again reads the files again (counters accumulate).
    """

    def __init__(self, source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> None:
        if isinstance(source, str | os.PathLike):
            p = Path(source)
            self.files = sorted(p.glob(f"*{SUFFIX}")) if p.is_dir() else [p]
        else:
            self.files = [Path(f) for f in source]
        self.frames = 0
        self.bad_lines = 0
        self.bad_files = 0
        #: Market definitions read so far, by condition id (the latest line wins).
        self.markets: dict[str, Market] = {}

    def __iter__(self) -> Iterator[tuple[int, str | bytes]]:
        for t, item in self.records():
            if type(item) is not MarketsLine:
                yield t, item  # type: ignore[misc]  # not a MarketsLine: a frame (``type() is`` does not narrow)

    def records(self) -> Iterator[tuple[int, str | bytes | MarketsLine]]:
        """Frames and market-definition lines, in recorded order (``markets`` follows along)."""
        for path in self.files:
            yield from self._read_file(path)

    def _read_file(self, path: Path) -> Iterator[tuple[int, str | bytes | MarketsLine]]:
        try:
            with gzip.open(path, "rb") as f:
                for line in f:
                    rec = self._decode(line)
                    if rec is None:
                        self.bad_lines += 1
                        continue
                    if type(rec[1]) is MarketsLine:
                        for m in rec[1].markets:
                            self.markets[m.condition_id] = m
                    else:
                        self.frames += 1
                    yield rec
        except (EOFError, OSError, zlib.error) as e:  # truncated stream, bad gzip header/CRC, unreadable
            self.bad_files += 1
            log.warning("recording %s: stopped reading at damage: %s", path, e)

    @staticmethod
    def _decode(line: bytes) -> tuple[int, str | bytes | MarketsLine] | None:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(doc, dict):
            return None
        t = doc.get("t")
        if not isinstance(t, int) or isinstance(t, bool):
            return None
        raw = doc.get("raw")
        if isinstance(raw, str):
            return t, raw
        b64 = doc.get("b64")
        if isinstance(b64, str):
            try:
                return t, base64.b64decode(b64, validate=True)
            except ValueError:
                return None
        markets = doc.get("markets")
        if isinstance(markets, list):
            try:
                return t, MarketsLine(tuple(market_from_json(m) for m in markets))
            except ValueError as e:
                log.warning("recording: skipped a market-definitions line: %s", e)
                return None
        return None

    async def replay(self, speed: float | None = 1.0) -> AsyncIterator[tuple[int, str | bytes]]:
        """Yield frames paced by their recorded timestamps at ``speed``x real time (None: no pacing).

        Pacing is against the loop clock from the first frame, so it does not drift. Reading and
        decompressing happen on the loop (they are cheap per frame); unpaced replay yields to the
        loop every 256 frames so it never starves it.
        """
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0 or None")
        loop = asyncio.get_running_loop()
        t0: int | None = None
        start = 0.0
        for n, (t, raw) in enumerate(self):
            if speed is None:
                if n % 256 == 255:
                    await asyncio.sleep(0)
            else:
                if t0 is None:
                    t0, start = t, loop.time()
                delay = start + (t - t0) / 1e9 / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield t, raw


class Recorder:
    """Record a market channel: a ``MarketSocket`` feeding a ``FrameWriter``.

    ``run()`` connects (and reconnects) until ``stop()``, stamping each frame with ``time.time_ns()``
    at its callback (``MarketSocket`` passes a perf-counter stamp, which is not an epoch time), calls
    ``writer.tick()`` every second for age rotation, and closes the writer when it returns if
    ``close_writer`` (the default).
    """

    def __init__(
        self,
        ws_url: str,
        assets: Iterable[str],
        writer: FrameWriter,
        on_state: Callable[[str, str], None] = lambda s, r: None,
        close_writer: bool = True,
    ) -> None:
        self.writer = writer
        self.close_writer = close_writer
        self.status = "STOPPED"
        self._on_state_cb = on_state
        self.socket = MarketSocket(ws_url, self._on_frame, self._on_state, assets)

    @property
    def frames(self) -> int:
        return self.writer.frames

    def _on_frame(self, raw: bytes | str, _perf_ns: int) -> None:
        self.writer.write(raw, time.time_ns())

    def _on_state(self, status: str, reason: str) -> None:
        self.status = status
        self._on_state_cb(status, reason)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.writer.tick()

    async def run(self) -> None:
        ticker = asyncio.create_task(self._ticker())
        try:
            await self.socket.run()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if self.close_writer:
                self.writer.close()

    def stop(self) -> None:
        self.socket.stop()


async def record(
    clob_url: str,
    gamma_url: str,
    ws_url: str,
    writer: FrameWriter,
    market_ids: Iterable[str] = (),
    max_markets: int = 6,
    duration: float | None = None,
    stop_signals: bool = True,
) -> tuple[Recorder, list[str]]:
    """Discover markets (Gamma, via ``PublicClient.list_markets``) and record their tokens until
    ``duration`` seconds pass or SIGINT/SIGTERM; ``ws_url`` is the full ``.../ws/market`` URL.

    With ``market_ids`` (condition ids) those markets are looked up; otherwise the top
    ``max_markets`` by 24 h volume are taken. Their definitions go into the recording
    (``FrameWriter.add_markets``). Returns the finished recorder and the condition ids.
    """
    from .rest import PublicClient

    wanted = list(dict.fromkeys(market_ids))
    public = PublicClient(clob_url, gamma_url)
    try:
        if wanted:
            found = await public.list_markets(limit=len(wanted), condition_ids=wanted)
            markets = [m for m in found if m.condition_id in set(wanted)]
        else:
            markets = (await public.list_markets(limit=max(100, max_markets)))[:max_markets]
    finally:
        await public.aclose()
    if not markets:
        raise RuntimeError("no markets to record" + (f" (asked for {', '.join(wanted)})" if wanted else ""))
    tokens = [t for m in markets for t in (m.yes_token, m.no_token)]
    writer.add_markets(markets)  # a replay needs the definitions: every file carries them
    recorder = Recorder(ws_url, tokens, writer)
    loop = asyncio.get_running_loop()
    handles = []
    if duration is not None:
        handles.append(loop.call_later(duration, recorder.stop))
    signals = (signal.SIGINT, signal.SIGTERM) if stop_signals else ()
    for sig in signals:
        loop.add_signal_handler(sig, recorder.stop)
    try:
        await recorder.run()
    finally:
        for h in handles:
            h.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
    return recorder, [m.condition_id for m in markets]
