"""Market-data recorder: writer/reader round trip, rotation, damage tolerance, replay pacing, live recording."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from polymm.domain.messages import parse_frame
from polymm.venue.recorder import FrameReader, FrameWriter, Recorder, record
from polymm_standin.server import run_exchange

ROOT = Path(__file__).resolve().parents[1]


def _frames(n: int) -> list[str | bytes]:
    """Text frames with awkward content (escapes, unicode, whitespace) and a few binary ones."""
    out: list[str | bytes] = []
    for i in range(n):
        if i % 17 == 5:
            out.append(bytes([i % 256, 0, 255, 10, 13]) + b"\n{bin}")
        else:
            out.append(f'[{{"event_type":"book","i":{i},"q":"caf\u00e9 \\"quoted\\"\\n\ttab \u2603"}}]  ')
    return out


def _write(directory: Path, frames: list[str | bytes], t0: int = 1_700_000_000_000_000_000, **kw) -> FrameWriter:
    w = FrameWriter(directory, **kw)
    for i, f in enumerate(frames):
        w.write(f, t0 + i * 1000)
    w.close()
    return w


def test_round_trip_byte_identical_across_rotations(tmp_path: Path) -> None:
    frames = _frames(300)
    w = _write(tmp_path, frames, rotate_bytes=2000, buffer_bytes=512)
    assert len(w.files) >= 10, w.files
    assert w.frames == 300
    on_disk = sorted(tmp_path.iterdir())
    assert on_disk == w.files  # names sort in writing order
    assert all(p.name.startswith("market-") and p.name.endswith(".jsonl.gz") for p in on_disk)
    r = FrameReader(tmp_path)
    got = list(r)
    assert [raw for _, raw in got] == frames
    assert [type(raw) for _, raw in got] == [type(f) for f in frames]
    assert [t for t, _ in got] == [1_700_000_000_000_000_000 + i * 1000 for i in range(300)]
    assert (r.frames, r.bad_lines, r.bad_files) == (300, 0, 0)
    # every file holds whole JSON lines with the documented keys
    with gzip.open(on_disk[0], "rb") as f:
        first = orjson.loads(f.readline())
    assert first == {"t": 1_700_000_000_000_000_000, "raw": frames[0]}


def test_rotation_by_age(tmp_path: Path) -> None:
    now = [0.0]
    w = FrameWriter(tmp_path, rotate_bytes=None, rotate_seconds=10, clock=lambda: now[0])
    w.write("a")
    now[0] = 5
    w.write("b")
    w.tick()
    assert w.files == []  # not due yet
    now[0] = 10
    w.tick()  # due with no new frame: closes the file
    assert len(w.files) == 1
    w.write("c")
    w.close()
    assert len(w.files) == 2
    assert [[raw for _, raw in FrameReader(f)] for f in w.files] == [["a", "b"], ["c"]]


def test_no_part_files_after_close_and_reader_ignores_part(tmp_path: Path) -> None:
    w = FrameWriter(tmp_path, rotate_bytes=500)
    for i in range(50):
        w.write(f'{{"i":{i}}}', i)
    open_file = w.current
    assert open_file is not None
    assert list(tmp_path.glob("*.part")) == [open_file.with_name(open_file.name + ".part")]
    done = list(FrameReader(tmp_path))  # sees only the closed files
    assert 0 < len(done) < 50
    w.close()
    assert list(tmp_path.glob("*.part")) == []
    assert len(list(FrameReader(tmp_path))) == 50
    # a leftover .part (crash) beside the finished files is not read from the directory
    stray = tmp_path / "market-29991231T235959Z-0001.jsonl.gz.part"
    with gzip.open(stray, "wb") as f:
        f.write(b'{"t":1,"raw":"stray"}\n')
    r = FrameReader(tmp_path)
    assert "stray" not in [raw for _, raw in r]
    assert r.frames == 50
    assert [raw for _, raw in FrameReader([stray])] == ["stray"]  # but can be read when named


def test_truncated_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    frames = [f'{{"i":{i}}}' for i in range(20)]
    w = _write(tmp_path, frames)
    (path,) = w.files
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-7]))  # cut the last line mid-record
    r = FrameReader(tmp_path)
    assert [raw for _, raw in r] == frames[:-1]
    assert (r.bad_lines, r.bad_files) == (1, 0)


def test_truncated_and_corrupt_files_keep_earlier_frames(tmp_path: Path) -> None:
    frames = [f'{{"i":{i},"pad":"{os.urandom(40).hex()}"}}' for i in range(400)]  # poorly compressible
    w = _write(tmp_path, frames, rotate_bytes=30_000)
    assert len(w.files) >= 2
    first = w.files[0]
    in_first = len(list(FrameReader(first)))
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 2])  # gzip stream cut in the middle
    garbage = tmp_path / "market-29991231T235959Z-0009.jsonl.gz"
    garbage.write_bytes(b"not gzip at all")
    r = FrameReader(tmp_path)
    got = [raw for _, raw in r]
    n = len(got) - (400 - in_first)
    assert 0 < n < in_first  # part of the damaged first file survived ...
    assert got[:n] == frames[:n]  # ... as an exact prefix
    assert got[n:] == frames[in_first:]  # the later files are read in full
    assert r.bad_files == 2  # the truncated one and the garbage one
    assert r.frames == len(got)


@pytest.mark.asyncio
async def test_replay_paces_by_recorded_time(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000_000_000
    w = FrameWriter(tmp_path, rotate_bytes=300)
    for i in range(51):  # span 1.0 s, 20 ms apart
        w.write(f'{{"i":{i}}}', t0 + i * 20_000_000)
    w.close()
    assert len(w.files) > 1
    start = time.perf_counter()
    got = [(t, raw) async for t, raw in FrameReader(tmp_path).replay(speed=10)]
    took = time.perf_counter() - start
    assert [raw for _, raw in got] == [f'{{"i":{i}}}' for i in range(51)]
    assert 0.05 <= took <= 0.15, took  # 1.0 s recorded / 10 = 0.1 s
    start = time.perf_counter()
    fast = [raw async for _, raw in FrameReader(tmp_path).replay(None)]
    took_fast = time.perf_counter() - start
    assert fast == [raw for _, raw in got]
    assert took_fast < 0.05, took_fast


@pytest.mark.asyncio
async def test_replay_unpaced_does_not_starve_the_loop(tmp_path: Path) -> None:
    _write(tmp_path, [f'{{"i":{i}}}' for i in range(3000)])
    ticks = [0]

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    n = 0
    async for _ in FrameReader(tmp_path).replay(None):
        n += 1
    task.cancel()
    assert n == 3000
    assert ticks[0] >= 5


@pytest.mark.asyncio
async def test_recorder_against_standin_records_parseable_frames(tmp_path: Path, wait_until) -> None:
    async with run_exchange(port=0, seed=5, flow_rate=200) as ex:
        tokens = [t for m in ex.markets for t in (m.yes_token, m.no_token)]
        writer = FrameWriter(tmp_path, rotate_bytes=64 * 1024)
        rec = Recorder(ex.ws_url, tokens, writer)
        task = asyncio.create_task(rec.run())
        try:
            await wait_until(lambda: rec.frames >= 250, timeout=20)
        finally:
            rec.stop()
            await asyncio.wait_for(task, 5)
    assert rec.status == "STOPPED"
    assert list(tmp_path.glob("*.part")) == []
    r = FrameReader(tmp_path)
    got = list(r)
    assert len(got) == rec.frames >= 250
    assert (r.bad_lines, r.bad_files) == (0, 0)
    stamps = [t for t, _ in got]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] / 1e9 - time.time()) < 60  # epoch ns, not a perf counter
    kinds: set[str] = set()
    for _, raw in got:
        events, errors = parse_frame(raw)
        assert errors == [], (raw[:200], errors)
        kinds.update(type(e).__name__ for e in events)
    assert "BookSnapshot" in kinds and "PriceChange" in kinds, kinds


@pytest.mark.asyncio
async def test_record_discovers_requested_markets(tmp_path: Path) -> None:
    async with run_exchange(port=0, seed=5, flow_rate=200) as ex:
        wanted = [ex.markets[1].condition_id]
        writer = FrameWriter(tmp_path)
        rec, ids = await record(ex.clob_url, ex.gamma_url, ex.ws_url, writer, wanted, duration=1.0,
                                stop_signals=False)
    assert ids == wanted
    assert set(rec.socket.assets) == {ex.markets[1].yes_token, ex.markets[1].no_token}
    events = [e for _, raw in FrameReader(tmp_path) for e in parse_frame(raw)[0]]
    assert events and {e.market for e in events} == set(wanted)


def test_cli_record_demo(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    p = subprocess.run(
        [sys.executable, "-m", "polymm.cli", "record", "--demo", "--duration", "3", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")},
    )
    assert p.returncode == 0, p.stderr
    files = sorted(out.glob("*.jsonl.gz"))
    assert files and not list(out.glob("*.part"))
    r = FrameReader(out)
    frames = list(r)
    assert len(frames) > 0 and r.bad_lines == r.bad_files == 0
    assert f"{len(frames)} frames" in p.stdout and str(out.resolve()) in p.stdout
    assert all(not parse_frame(raw)[1] for _, raw in frames)
