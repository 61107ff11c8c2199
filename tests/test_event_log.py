"""``POLYMM_EVENT_LOG``: one JSON object a line for every decision, fill and risk event, rotated by size,
written off the event loop, never a secret."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D

from test_parity_arb import _crossed, _engine
from test_scale_engine import show_book

from polymm.eventlog import EventLog

KEY = "0x" + "5a" * 32


async def test_decisions_fills_and_risk_events_are_json_lines(tmp_path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    # quotes 15 cents off the mid: not at the gap's prices (a gap at our own price is ourselves, not taken)
    engine = _engine(arb_mode="take", event_log=str(path), private_key=KEY, default_spread="0.30")
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    await engine.step(m.condition_id)  # a decision: the fixed model's two quotes
    _crossed(engine, m)
    await engine.step(m.condition_id)  # a parity gap (a risk event) taken: two fills
    await asyncio.gather(*engine._step_tasks)
    await engine.kill("test kill")
    await engine.stop(cancel_orders=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [e["type"] for e in lines]
    assert kinds.count("decision") >= 1 and kinds.count("fill") == 2
    decision = next(e for e in lines if e["type"] == "decision")
    assert decision["market"] == m.condition_id and decision["model"] == "fixed"
    assert sorted(q[0] for q in decision["quotes"]) == ["BUY", "SELL"]
    assert all(isinstance(q[1], str) and D(q[1]) > 0 for q in decision["quotes"])  # exact decimals, as strings
    fills = [e for e in lines if e["type"] == "fill"]
    assert sorted((f["side"], f["price"], f["size"]) for f in fills) == [("BUY", "0.5200", "30.00"),
                                                                       ("SELL", "0.6000", "30.00")]
    risk = [(e["kind"], e["text"]) for e in lines if e["type"] == "risk"]
    assert [k for k, _ in risk] == ["parity_gap", "kill"] and risk[1][1] == "test kill"
    assert all(isinstance(e["ts"], float) for e in lines)
    text = path.read_text()
    assert KEY not in text and KEY[2:] not in text


def test_the_log_rotates_by_size_and_keeps_its_files(tmp_path) -> None:
    log = EventLog(tmp_path / "e.jsonl", max_bytes=2_000, files=2)
    for k in range(200):
        log.write("risk", kind="test", text=f"event {k:03d}")
    log.close()
    log.close()  # idempotent
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["e.jsonl", "e.jsonl.1", "e.jsonl.2"]  # two old files kept, the rest rotated away
    last = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert last[-1]["text"] == "event 199" and log.written == 200 and log.dropped == 0
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())
