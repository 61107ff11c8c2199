"""Start the stand-in exchange as its own process (so a bench's client and server don't share a GIL)."""

from __future__ import annotations

import re
import subprocess
import sys

_URL_LINES = (("CLOB REST", "clob"), ("market WS", "ws"), ("Gamma API", "gamma"))


def start_exchange(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """Run ``polymm exchange --port 0 ARGS``; returns the process and its URLs (``clob``, ``ws``,
    ``ws_base``, ``gamma``) read from what it prints on start."""
    p = subprocess.Popen([sys.executable, "-m", "polymm.cli", "exchange", "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    urls: dict[str, str] = {}
    while len(urls) < len(_URL_LINES):
        line = p.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("stand-in exchange did not start")
        for name, key in _URL_LINES:
            m = re.search(rf"{name}\s+(\S+)", line)
            if m:
                urls[key] = m.group(1)
    urls["ws_base"] = urls["ws"].removesuffix("/ws/market")
    return p, urls
