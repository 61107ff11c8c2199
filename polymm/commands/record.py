"""``polymm record``: raw market-channel frames to rotated .jsonl.gz files (``venue.recorder``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..ops.errors import failed_url, is_connection, os_cause, os_problem
from ..ops.venue import venue_error
from .options import venue_args
from .startup import load, venue


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record raw market-channel frames to rotated .jsonl.gz files")
    p.add_argument("--demo", action="store_true", help="record from the embedded stand-in exchange")
    venue_args(p)
    p.add_argument("--markets", help="comma-separated condition ids (default: top markets by 24 h volume)")
    p.add_argument("--max-markets", type=int, default=None, help="markets to discover (POLYMM_MAX_MARKETS)")
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    p.add_argument("--out", default="recordings", help="output directory (default: recordings)")
    p.add_argument("--rotate-mb", type=float, default=64.0, help="start a new file after M MB (uncompressed)")
    p.add_argument("--rotate-minutes", type=float, default=60.0, help="start a new file after K minutes")
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds (default: until Ctrl-C)")
    p.set_defaults(live=False, func=run)


def run(args: argparse.Namespace) -> int:
    """2 for bad input (an --out that cannot be written included), 1 when there was nothing to record or
    the venue could not be reached, else 0 (the files are listed)."""
    from ..venue.recorder import FrameWriter, record

    settings = load(args, "polymm record", program=False)  # recording needs no credentials
    if settings is None:
        return 2
    try:
        writer = FrameWriter(args.out, rotate_bytes=int(args.rotate_mb * 1024 * 1024) or None,
                             rotate_seconds=args.rotate_minutes * 60 or None)
    except OSError as e:  # the directory cannot be made
        print(f"polymm record: {os_problem(e, option='--out', path=args.out)}", file=sys.stderr)
        return 2
    with venue(settings, args) as (settings, _mode):
        try:
            recorder, ids = asyncio.run(record(
                settings.clob_url, settings.gamma_url, f"{settings.ws_url}/ws/market", writer,
                settings.market_ids, args.max_markets or settings.max_markets, args.duration))
        except Exception as e:  # discovery failed / nothing to record: say so, no traceback
            writer.close()
            err = os_cause(e)
            if err is not None and err.errno is not None and not is_connection(err):  # --out: this machine's disk
                print(f"polymm record: {os_problem(e, option='--out', path=args.out)}", file=sys.stderr)
                return 2
            why = f"{failed_url(e) or settings.clob_url}: {venue_error(e)}" if err is not None else \
                f"{type(e).__name__}: {e}"
            print(f"polymm record: {why}", file=sys.stderr)
            return 1
    print(f"polymm record: {recorder.frames} frames from {len(ids)} markets ({settings.ws_url}) "
          f"in {len(writer.files)} files under {writer.directory.resolve()}")
    for f in writer.files:
        print(f"  {f}")
    return 0
