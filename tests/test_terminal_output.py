"""A hung-up terminal must not block the dashboard before its stop signal's cancel-all has run."""

from __future__ import annotations

import threading

from textual.drivers._writer_thread import MAX_QUEUED_WRITES

from polymm.tui.app import _DroppingWriter


class HungUp:
    """A terminal that has gone: every write fails with EIO, as a pty whose other side closed does."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise OSError(5, "Input/output error")

    def flush(self) -> None:
        raise OSError(5, "Input/output error")

    def fileno(self) -> int:
        return 1


def test_writes_to_a_hung_up_terminal_are_dropped_and_never_block_the_app() -> None:
    term = HungUp()
    writer = _DroppingWriter(term)  # type: ignore[arg-type]
    writer.start()
    done = threading.Event()

    def app() -> None:  # more writes than Textual's queue holds, then the driver's close
        for i in range(4 * MAX_QUEUED_WRITES):
            writer.write(f"frame {i}")
        writer.stop()
        done.set()

    threading.Thread(target=app, daemon=True).start()
    # Textual's own writer thread dies on the first EIO and the 31st write then blocks for good
    assert done.wait(timeout=30), "the app blocked on a hung-up terminal"
    assert not writer.is_alive() and term.attempts == 4 * MAX_QUEUED_WRITES  # each tried, each dropped
