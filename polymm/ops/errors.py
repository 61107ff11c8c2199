"""The operating system's errors as one line naming the cause: a port already in use, permission denied,
a full disk, a host that refuses or cannot be reached (``os_problem``). Every command reports them this
way (``cli.main`` for whatever a command did not, ``commands.operator`` and ``ops.venue.venue_error``
for the venue's), never as a traceback.

The OSError may be the exception itself or lie in its chain: the venue's SDK wraps httpx's
``ConnectError``, which wraps httpcore's, which wraps the ``ConnectionRefusedError`` (``os_cause``).
"""

from __future__ import annotations

import errno
import socket

import httpx

# errno → what it means, for a file (``{path}: ...``) or a connection (``{url}: ...``)
_FILE = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EEXIST: "already exists",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
    errno.ENAMETOOLONG: "file name too long",
}
_CONNECT = {
    errno.ECONNREFUSED: "connection refused (nothing listens there: is the venue or the stand-in running, "
                        "and is the URL right?)",
    errno.EHOSTUNREACH: "host unreachable (no route to it: check the URL and the network)",
    errno.ENETUNREACH: "network unreachable (check the URL and the network)",
    errno.ETIMEDOUT: "connection timed out (the host did not answer: check the URL and the network)",
    errno.ECONNRESET: "connection reset by the other side",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the other side",
}


def os_cause(e: BaseException) -> OSError | None:
    """The OSError behind ``e``: ``e`` itself or the first in its chain (``__cause__``, ``__context__``,
    an exception group's members) that carries an errno; else the first OSError without one; else None."""
    first: OSError | None = None
    seen: set[int] = set()
    todo: list[BaseException] = [e]
    while todo:
        x = todo.pop(0)
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, OSError):
            if x.errno is not None:
                return x
            first = first or x
        todo += [c for c in (x.__cause__, x.__context__) if c is not None]
        todo += list(getattr(x, "exceptions", ()) or ())
    return first


def timed_out(e: BaseException) -> bool:
    """Whether ``e`` (or its chain) is a connection that got no answer in time."""
    x: BaseException | None = e
    for _ in range(10):
        if x is None:
            return False
        if isinstance(x, (httpx.TimeoutException, TimeoutError)):
            return True
        x = x.__cause__ or x.__context__
    return False


def os_problem(
    e: BaseException, *, url: str | None = None, listen: tuple[str, int] | None = None, option: str | None = None,
    path: str | None = None,
) -> str | None:
    """One line naming the cause of the OS error behind ``e`` (None when there is none):

    * ``listen`` (host, port) for a server that could not start: ``port 8080 on 127.0.0.1 is already in
      use (another program listens there); choose another with --port``;
    * ``url`` for a connection: ``http://127.0.0.1:1: connection refused (nothing listens there: …)``;
    * else the file it names (``path`` when it names none: a write that found the disk full), with
      ``option`` in front when given: ``--out /sys/x: permission denied``.
    """
    err = os_cause(e)
    if err is None:
        if url is not None and timed_out(e):
            return f"{url}: no answer in time (check the URL and the network)"
        return None
    code = err.errno
    if isinstance(err, TimeoutError) and code is None:
        code = errno.ETIMEDOUT
    if isinstance(err, socket.gaierror):
        what = f"cannot resolve the host name ({err.strerror or err})"
        if listen is not None:
            return f"--host {listen[0]}: {what}; use 127.0.0.1 or an address of this machine"
        return f"{url}: {what}: check the URL" if url else what
    if listen is not None:
        host, port = listen
        if code == errno.EADDRINUSE:
            return (f"port {port} on {host} is already in use (another program listens there); "
                    f"choose another with {option or '--port'}")
        if code in (errno.EACCES, errno.EPERM):
            return (f"port {port} on {host}: permission denied (ports below 1024 need root); "
                    f"choose another with {option or '--port'}")
        if code == errno.EADDRNOTAVAIL:
            return f"--host {host}: not an address of this machine; use 127.0.0.1 or one it has"
    if url is not None and code in _CONNECT:
        return f"{url}: {_CONNECT[code]}"
    if code == errno.EADDRINUSE:
        return "address already in use (another program listens there)"
    if code in _CONNECT:
        return _CONNECT[code]
    what = _FILE.get(code or -1) or (err.strerror or str(err)).lower() or type(err).__name__
    name = err.filename if err.filename is not None else path
    where = f"{option} {name}" if option and name is not None else option or (str(name) if name is not None else "")
    return f"{where}: {what}" if where else what


def is_connection(err: OSError) -> bool:
    """Whether ``err`` is about reaching another host (refused, unreachable, unknown name, reset), not
    about this machine's files or ports."""
    return isinstance(err, socket.gaierror) or err.errno in _CONNECT


def failed_url(e: BaseException) -> str | None:
    """The scheme, host and port of the request that failed behind ``e`` (httpx's), when it says."""
    x: BaseException | None = e
    for _ in range(10):
        if x is None:
            return None
        if isinstance(x, httpx.RequestError):
            try:
                url = x.request.url
            except RuntimeError:  # raised without a request
                return None
            return f"{url.scheme}://{url.netloc.decode()}"
        x = x.__cause__ or x.__context__
    return None
