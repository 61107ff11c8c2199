"""The programs' logging: text or one JSON object a line, to stderr, with every secret the process
knows blanked from each line (the private key, the API credentials, the demo key)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import orjson

from ..config import Settings

HIDDEN = "<hidden>"

_RECORD_KEYS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value the process knows up front (the demo key too), for the log formatters."""
    from ..engine.execution_factory import DEMO_PRIVATE_KEY

    out = [DEMO_PRIVATE_KEY, DEMO_PRIVATE_KEY.removeprefix("0x")]
    for s in (settings.private_key, settings.api_key, settings.api_secret, settings.api_passphrase):
        if s is not None and s.get_secret_value():
            v = s.get_secret_value()
            out += [v, v.removeprefix("0x")]
    return [s for s in out if len(s) >= 8]


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = (), **kw: Any) -> None:
        super().__init__(**kw)
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, HIDDEN)
        return text

    @staticmethod
    def fields(record: logging.LogRecord) -> dict[str, Any]:
        """The ``extra=`` fields of a record."""
        return {k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS and not k.startswith("_")}


class TextFormatter(_Redacting):
    """``2026-11-03 10:00:00,123 INFO polymm: message key=value ...`` (secrets blanked)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = self.fields(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return self.redact(line)


class JsonFormatter(_Redacting):
    """One JSON object a line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``, then the record's
    fields (``extra=``) and ``exc`` for a traceback (secrets blanked)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc: dict[str, Any] = {"ts": ts, "level": record.levelname, "logger": record.name,
                               "msg": self.redact(record.getMessage())}
        for k, v in self.fields(record).items():
            doc[k] = self.redact(v) if isinstance(v, str) else v
        if record.exc_info:
            doc["exc"] = self.redact(self.formatException(record.exc_info))
        return self.redact(orjson.dumps(doc, default=str).decode())


LOG_FILE_MAX_BYTES = 20 * 2**20  # POLYMM_LOG_FILE rotates at this size
LOG_FILE_KEPT = 5  # and keeps this many old files


def setup_logging(settings: Settings, stream: Any = None, *, to_stream: bool = True) -> None:
    """The programs' logging: ``settings.log_format`` (text | json) at ``settings.log_level`` to stderr
    (unless ``to_stream`` is False: the dashboard owns the terminal) and, with ``POLYMM_LOG_FILE``, to that
    file as well, rotated at ``LOG_FILE_MAX_BYTES`` with ``LOG_FILE_KEPT`` old files. Secrets are masked
    in both."""
    secrets = settings_secrets(settings)
    handlers: list[logging.Handler] = []
    if to_stream:
        handlers.append(logging.StreamHandler(stream or sys.stderr))
    if settings.log_file:
        path = Path(settings.log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_KEPT,
                                            encoding="utf-8"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for handler in handlers:
        handler.setFormatter(JsonFormatter(secrets) if settings.log_format == "json" else TextFormatter(secrets))
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for noisy in ("httpx", "httpcore", "websockets"):  # one line per request drowns the engine's log
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # the SDK logs every non-200 answer itself (a fresh wallet's derive-api-key 400 included); we report
    # the ones that matter, with what they mean
    logging.getLogger("py_clob_client_v2").setLevel(logging.CRITICAL)
