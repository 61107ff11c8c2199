"""The state directory and its private files, the one-instance lock, and key files others can read."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from polymm.statedir import (
    InstanceLock,
    InstanceLocked,
    exposed_key_files,
    private_dir,
    private_file,
    state_dir,
)

VENUE = "https://clob.example.test"
WALLET = "0xAbC0000000000000000000000000000000000001"
KEY = "0x" + "3c" * 32


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def state(clean, tmp_path: Path) -> Path:
    """XDG_STATE_HOME in a tmp dir and a umask that would leave new files readable by all (022), so a
    private mode is the code's doing, not the test machine's."""
    clean.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    old = os.umask(0o022)
    yield tmp_path / "xdg" / "polymm"
    os.umask(old)


def test_the_state_dir_follows_xdg_and_is_where_the_journal_goes(state: Path) -> None:
    from polymm.journal import resolve_path

    assert state_dir() == state
    assert Path(resolve_path("", "live")).parent == state_dir()


def test_private_dir_is_created_0700_and_a_looser_one_is_tightened(state: Path, tmp_path: Path) -> None:
    private_dir(state)
    assert _mode(state) == 0o700 and _mode(state.parent) == 0o700  # missing parents too (XDG)
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    private_dir(loose)
    assert _mode(loose) == 0o700


def test_private_file_is_created_0600_and_a_looser_one_is_tightened(state: Path, tmp_path: Path) -> None:
    f = private_file(state / "x.lock")
    assert f.exists() and _mode(f) == 0o600 and _mode(state) == 0o700
    g = tmp_path / "g.sqlite"
    g.write_text("")
    wal = tmp_path / "g.sqlite-wal"
    wal.write_text("")
    os.chmod(g, 0o644)
    os.chmod(wal, 0o664)
    private_file(g, "-wal", "-shm")  # a missing companion is no error
    assert _mode(g) == 0o600 and _mode(wal) == 0o600
    os.chmod(tmp_path, 0o755)  # a directory the user chose (POLYMM_JOURNAL_PATH) is not ours to tighten
    private_file(tmp_path / "h.sqlite")
    assert _mode(tmp_path) == 0o755


def test_the_journal_and_its_wal_and_shm_are_0600_in_a_0700_state_dir(state: Path) -> None:
    from polymm.journal import Journal, resolve_path

    state.mkdir(parents=True)
    os.chmod(state, 0o755)  # an older polymm left it open: tightened
    path = Path(resolve_path("", "paper"))
    j = Journal(path)
    try:
        j.record_risk("test", "a write, so the writer's connection has its -wal and -shm")
        assert j.flush()
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(state) == 0o700
    finally:
        j.close()
    os.chmod(path, 0o644)  # a journal made before this rule: tightened when next opened
    Journal(path).close()
    assert _mode(path) == 0o600


# ---------------------------------------------------------------- the one-instance lock
_HOLD = """
import signal, sys
from polymm.statedir import InstanceLock
lock = InstanceLock(sys.argv[1], sys.argv[2], "polymm run")
lock.acquire()
print("held", flush=True)
signal.pause()  # holds the lock until the test kills it
"""


def test_a_second_holder_is_refused_naming_the_first_and_kill_9_frees_the_lock(state: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", _HOLD, VENUE, WALLET], env=dict(os.environ),
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        with pytest.raises(InstanceLocked) as info:
            InstanceLock(VENUE + "/", WALLET.lower(), "polymm-tui").acquire()  # the same venue and wallet
        msg = str(info.value)
        assert msg.startswith(f"another polymm (pid {p.pid}, polymm run, started ")
        assert msg.endswith(f") is trading wallet {WALLET.lower()} on {VENUE}; stop it first")
        assert info.value.holder is not None and info.value.holder.pid == p.pid
        locks = list(state.glob("instance-*.lock"))
        assert len(locks) == 1 and _mode(locks[0]) == 0o600 and _mode(state) == 0o700
        assert WALLET not in locks[0].name and "example" not in locks[0].name  # hashed into the name
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    lock = InstanceLock(VENUE, WALLET, "polymm run")
    lock.acquire()  # the kernel dropped the dead process's lock: nothing to clean up by hand
    assert lock.held
    lock.release()
    assert not list(state.glob("instance-*.lock"))  # released: the file goes too


def test_the_lock_is_per_venue_and_wallet(state: Path) -> None:
    with InstanceLock(VENUE, WALLET, "polymm run"):
        other_wallet = InstanceLock(VENUE, "0x" + "0" * 39 + "2", "polymm run")
        other_venue = InstanceLock("http://127.0.0.1:8080", WALLET, "polymm run")
        other_wallet.acquire()
        other_venue.acquire()
        with pytest.raises(InstanceLocked):  # flock is per open file: one process can't hold it twice
            InstanceLock(VENUE, WALLET, "polymm-tui").acquire()
        other_wallet.release()
        other_venue.release()
    with InstanceLock(VENUE, WALLET, "polymm-tui") as again:
        assert again.held


# ---------------------------------------------------------------- key files others can read
@pytest.mark.parametrize(("text", "mode", "exposed"), [
    (f"POLYMM_PRIVATE_KEY={KEY}\n", 0o644, True),
    (f"export polymm_private_key='{KEY}'\n", 0o640, True),  # any case, as the settings read it
    (f"POLYMM_PRIVATE_KEY={KEY}\n", 0o600, False),
    ("POLYMM_PRIVATE_KEY=\nPOLYMM_MODE=paper\n", 0o644, False),  # .env.example copied: no key in it
])
def test_an_env_file_holding_the_key_is_exposed_when_group_or_others_can_read_it(
    clean, tmp_path: Path, text: str, mode: int, exposed: bool
) -> None:
    env = tmp_path / ".env"
    env.write_text(text)
    os.chmod(env, mode)
    found = exposed_key_files()  # the settings' env file: .env in the working directory
    assert [f.path for f in found] == ([Path(".env")] if exposed else [])
    if exposed:
        problem = found[0].problem()
        assert problem == (f".env is readable by {'others' if mode & 0o004 else 'its group'} (mode {mode:04o}) "
                           f"and holds POLYMM_PRIVATE_KEY: chmod 600 .env")
        assert KEY[2:10] not in problem
