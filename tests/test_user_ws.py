"""The user-channel client over a real socket: one bad item never takes the other events of its frame
with it, and skipped input is counted by kind and logged once per kind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

import websockets

from polymm.venue.user_ws import UserSocket
from polymm.venue.wire import OrderEvent, TradeEvent, UserEvent

USER = Path(__file__).parent / "fixtures" / "user"
WS = Path(__file__).parent / "fixtures" / "ws"


async def test_bad_items_are_skipped_and_counted_while_the_rest_of_the_frame_is_delivered(wait_until, caplog) -> None:
    mixed = (USER / "mixed_frame.json").read_text()  # good trade, trade without price, order, heartbeat, 5
    frames = [
        mixed,
        "{not json",
        (USER / "trade_iso_match_time.json").read_text(),  # loose fields alone: the item path
        mixed,  # the same kinds again: counted, not logged again
        (WS / "user_trade2.json").read_text(),  # a documented frame: the fast path
    ]
    subscribed: list[dict] = []

    async def venue(ws: websockets.ServerConnection) -> None:
        subscribed.append(json.loads(await ws.recv()))
        for f in frames:
            await ws.send(f)
        await ws.wait_closed()

    got: list[UserEvent] = []
    async with websockets.serve(venue, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = UserSocket(f"ws://127.0.0.1:{port}", "key-1f3a", "secret-9c2e", "pass-77d0", got.append, markets=["0xm"])
        task = asyncio.create_task(sock.run())
        try:
            with caplog.at_level(logging.WARNING, logger="polymm.venue.user_ws"):
                await wait_until(lambda: len(got) == 6 and sock.errors == 7, timeout=5,
                                 why=lambda: (got, sock.skipped.counts))
        finally:
            await sock.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert subscribed == [{"type": "user", "auth": {"apiKey": "key-1f3a", "secret": "secret-9c2e",
                                                            "passphrase": "pass-77d0"},
                           "markets": ["0xm"]}]
    doc = json.loads(mixed)
    assert [type(e) for e in got] == [TradeEvent, OrderEvent, TradeEvent, TradeEvent, OrderEvent, TradeEvent]
    assert [e.id for e in got[:2]] == [doc[0]["id"], doc[2]["id"]]  # the good trade survived its frame
    assert isinstance(got[2], TradeEvent) and got[2].match_ts == 1725958681
    assert dict(sock.skipped.counts) == {"bad_field": 2, "unknown_event": 2, "not_object": 2, "bad_json": 1}
    warnings = [r.getMessage() for r in caplog.records if r.name == "polymm.venue.user_ws"]
    assert len(warnings) == 4  # once per kind
    assert any("bad_field" in w and "price" in w for w in warnings)
    assert all("secret-9c2e" not in w and "pass-77d0" not in w for w in warnings)
