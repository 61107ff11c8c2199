"""A market channel's frames written to a recording: the sink the simulation and ``record_synthetic``
attach to the stand-in's ``MarketChannel`` (instead of a socket)."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from polymm.domain.market import Market
from polymm.venue.recorder import FrameWriter
from polymm_standin.sim import MarketChannel


class _Capture:
    """A market-channel sink whose frames go to a ``FrameWriter`` instead of a socket."""

    __slots__ = ("_stamp", "_writer")

    def __init__(self, writer: FrameWriter, stamp: Callable[[], int]) -> None:
        self._writer = writer
        self._stamp = stamp

    def send(self, frame: bytes) -> None:
        self._writer.write(frame.decode(), self._stamp())


def subscribe_all(channel: MarketChannel, writer: FrameWriter, markets: list[Market], stamp: Callable[[], int]) -> None:
    """Subscribe a capture of ``writer`` to every token of ``markets`` on ``channel`` (with the initial
    ``book`` dump): from now on the frames go to ``writer`` stamped with ``stamp()`` (epoch ns)."""
    sub = channel.attach(_Capture(writer, stamp))
    tokens = [t for m in markets for t in (m.yes_token, m.no_token)]
    channel.receive(sub, orjson.dumps({"type": "market", "assets_ids": tokens, "initial_dump": True}).decode())
