"""Argument types shared by the command-line parsers (``polymm.commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def number(cast: type[int] | type[float], ok: Callable[[Any], bool], allowed: str) -> Callable[[str], Any]:
    """An argparse ``type``: a ``cast`` number for which ``ok(x)`` holds; the error names what is allowed."""

    def parse(text: str) -> Any:
        try:
            x = cast(text)
        except ValueError:
            x = None
        if x is None or not ok(x):
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text!r})")
        return x

    return parse
