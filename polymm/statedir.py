"""The state directory, the private files in it, and the one-instance lock.

* ``state_dir()``: ``$XDG_STATE_HOME/polymm`` (``~/.local/state/polymm`` by default), where the
  journal (``journal.resolve_path``) and the instance locks live.
* ``private_dir`` / ``private_file``: created 0700 / 0600, and tightened when found looser. The journal
  holds every order, fill and position of a wallet; nobody else on the machine needs to read it.
* ``InstanceLock``: one polymm per (venue, wallet). Two processes trading one wallet each treat the
  other's orders as unknown and cancel them (issue 11). The lock is ``fcntl.flock`` on a file per pair,
  so the kernel drops it when the holder dies however it dies (``kill -9`` too): a stale lock never
  needs clearing by hand. The file's content names the holder, for the refusal message.
* ``exposed_key_files``: the env files holding ``POLYMM_PRIVATE_KEY`` that group or others can read
  (``polymm doctor`` fails on them and the programs warn at start, as ssh does with a readable key).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
KEY_VARIABLE = "POLYMM_PRIVATE_KEY"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/polymm``, else ``~/.local/state/polymm`` (not created here)."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "polymm"


def _tighten(path: Path, keep: int) -> None:
    """Drop the group and other bits of ``path``'s mode (``keep``: the owner bits that may stay)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        os.chmod(path, mode & keep)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents 0700 (what the XDG spec asks of a directory it creates;
    ``Path.mkdir(parents=True)`` would give the parents the umask's mode). Existing ones are left."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            d.mkdir(mode=DIR_MODE)
            os.chmod(d, DIR_MODE)  # mkdir's mode passes through the umask


def private_dir(path: str | Path) -> Path:
    """Create the directory ``path`` (and missing parents) 0700, or tighten it to owner-only if it
    exists looser. Returns the path."""
    p = Path(path).expanduser()
    _make_dirs(p)
    _tighten(p, DIR_MODE)
    return p


def private_file(path: str | Path, *companions: str) -> Path:
    """Create the file ``path`` 0600 if it does not exist (before anything writes to it: a file
    created by its writer would first exist with the umask's mode), or tighten it to owner-only.
    ``companions``: suffixes of files that go with it (SQLite's ``-wal``, ``-shm``), tightened when
    present. Its directory is created 0700 when missing; the state directory is also tightened, while
    a directory chosen elsewhere (``POLYMM_JOURNAL_PATH``) is left as the user keeps it. Returns the path."""
    p = Path(path).expanduser()
    if p.parent.resolve() == state_dir().resolve():
        private_dir(p.parent)
    else:
        _make_dirs(p.parent)
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    _tighten(p, FILE_MODE)
    for suffix in companions:
        with contextlib.suppress(FileNotFoundError):
            _tighten(p.with_name(p.name + suffix), FILE_MODE)
    return p


# ====================================================================== the one-instance lock
@dataclass(frozen=True)
class Holder:
    """Who holds an instance lock, as its lock file says."""

    pid: int
    program: str
    started: float  # epoch seconds

    def describe(self) -> str:
        """``pid 4242, polymm run, started 10:02:11`` (the date too when it is not today)."""
        when = datetime.fromtimestamp(self.started)
        fmt = "%H:%M:%S" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S"
        return f"pid {self.pid}, {self.program}, started {when.strftime(fmt)}"


class InstanceLocked(RuntimeError):
    """Another process holds the lock of this venue and wallet; the message names it."""

    def __init__(self, venue: str, wallet: str, holder: Holder | None) -> None:
        who = holder.describe() if holder is not None else "pid unknown"
        super().__init__(f"another polymm ({who}) is trading wallet {wallet} on {venue}; stop it first")
        self.venue = venue
        self.wallet = wallet
        self.holder = holder


class InstanceLock:
    """One process per (venue URL, wallet address): ``acquire`` raises ``InstanceLocked`` naming the
    holder when another process has it; ``release`` (or the process ending, however) frees it.

    The file is ``<directory>/instance-<hash of venue and wallet>.lock`` (0600, in the 0700 state
    directory by default). It is unlinked on release while still locked, so a process that opened it
    just before must notice: ``acquire`` re-checks, once locked, that the path still names the file it
    locked (else it starts over), which keeps two holders of "the same" lock impossible."""

    def __init__(self, venue: str, wallet: str, program: str, directory: str | Path | None = None) -> None:
        self.venue = venue.rstrip("/")
        self.wallet = wallet
        self.program = program
        self.directory = Path(directory).expanduser() if directory is not None else state_dir()
        digest = hashlib.sha256(f"{self.venue.lower()}\n{wallet.lower()}".encode()).hexdigest()[:24]
        self.path = self.directory / f"instance-{digest}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock and write who holds it; ``InstanceLocked`` when another process has it."""
        if self._fd is not None:
            return
        private_dir(self.directory)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                os.fchmod(fd, mode & FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                busy = e.errno in (errno.EWOULDBLOCK, errno.EACCES)
                held_by = _read_holder(fd) if busy else None
                os.close(fd)
                if not busy:
                    raise
                raise InstanceLocked(self.venue, self.wallet, held_by) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # a holder released (unlinked) it between our open and our lock: take the new one
        doc = {"pid": os.getpid(), "program": self.program, "started": time.time(), "venue": self.venue,
               "wallet": self.wallet}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(doc).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Free the lock (idempotent). The file goes first, while still locked (see the class doc)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if _same_file(fd, self.path):
                self.path.unlink()
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd: int, wait_s: float = 1.0) -> Holder | None:
    """The holder named in the lock file. A holder writes right after it locks, so an empty file is
    read again for a moment before giving up."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            doc = json.loads(os.pread(fd, 4096, 0) or b"null")
            if isinstance(doc, dict):
                return Holder(int(doc["pid"]), str(doc["program"]), float(doc["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


# ====================================================================== readable key files
@dataclass(frozen=True)
class ExposedKeyFile:
    """A file holding ``POLYMM_PRIVATE_KEY`` that group or others can read."""

    path: Path
    mode: int

    def problem(self) -> str:
        """``.env is readable by others (mode 0644) and holds POLYMM_PRIVATE_KEY: chmod 600 .env``."""
        who = "others" if self.mode & 0o004 else "its group"
        return (f"{self.path} is readable by {who} (mode {self.mode:04o}) and holds {KEY_VARIABLE}: "
                f"chmod 600 {self.path}")


def env_files() -> list[Path]:
    """The env files the settings read (``Settings.model_config["env_file"]``: ``.env`` in the
    working directory), as pydantic-settings resolves them."""
    from .config import Settings

    files = Settings.model_config.get("env_file")
    if files is None:
        return []
    if isinstance(files, str | os.PathLike):
        files = [files]
    return [Path(f).expanduser() for f in files]


def holds_key(path: Path) -> bool:
    """Whether the env file ``path`` sets ``POLYMM_PRIVATE_KEY`` to something (any case, as the
    settings read names). False when it cannot be read."""
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError):
        return False
    return any(k.upper() == KEY_VARIABLE and v and v.strip() for k, v in values.items())


def exposed_key_files(paths: Iterable[str | Path] | None = None) -> list[ExposedKeyFile]:
    """Of ``paths`` (default: ``env_files()``), those holding ``POLYMM_PRIVATE_KEY`` that group or
    others can read. The key itself is never returned or shown."""
    out = []
    for p in (Path(x) for x in paths) if paths is not None else env_files():
        try:
            mode = stat.S_IMODE(os.stat(p).st_mode)
        except OSError:
            continue
        if mode & 0o044 and p.is_file() and holds_key(p):
            out.append(ExposedKeyFile(p, mode))
    return out
