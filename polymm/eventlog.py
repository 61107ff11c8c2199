"""The JSONL event log (``POLYMM_EVENT_LOG``): one JSON object a line for every strategy decision, fill and
risk event, for analysis after the fact (``jq``, pandas ``read_json(lines=True)``).

Written by the standard library's ``RotatingFileHandler`` (``POLYMM_EVENT_LOG_MAX_MB`` a file,
``POLYMM_EVENT_LOG_FILES`` old files kept) on a ``QueueListener`` thread: the event loop only encodes the
object (msgspec) and puts it on a bounded queue, and never waits on the disk. When the disk cannot keep up
the queue holds ``QUEUE_MAX`` lines; beyond that lines are dropped and counted (``dropped``), never the
trading. Every object has ``ts`` (epoch seconds) and ``type`` (``decision``, ``fill``, ``risk``); prices
and sizes are exact decimal strings. Nothing secret is ever in an event: the callers pass market data,
our orders and our reasons only.
"""

from __future__ import annotations

import logging
import queue
import time
from logging.handlers import QueueListener, RotatingFileHandler
from pathlib import Path
from typing import Any

import msgspec

QUEUE_MAX = 100_000  # lines waiting for the disk at most

_encode = msgspec.json.Encoder(decimal_format="string").encode


class EventLog:
    """See the module docstring. ``write(type, **fields)`` from the event loop; ``close()`` at the end."""

    def __init__(self, path: str | Path, max_bytes: int = 50 * 2**20, files: int = 5) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=files, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._queue: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_MAX)
        self._listener = QueueListener(self._queue, self._handler)
        self._listener.start()
        self.written = 0
        self.dropped = 0

    def write(self, event_type: str, /, **fields: Any) -> None:
        line = _encode({"ts": round(time.time(), 6), "type": event_type, **fields}).decode()
        record = logging.LogRecord("polymm.events", logging.INFO, __file__, 0, line, None, None)
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            return
        self.written += 1

    def close(self) -> None:
        """Write what is queued, then close the file (idempotent)."""
        if self._listener._thread is not None:
            self._listener.stop()
        self._handler.close()
