"""Commands meet the operating system's errors — a port in use, permission denied, a full disk, a venue
that refuses — with one line naming the cause and an exit code, never a traceback: real processes."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from polymm.cli import main
from polymm.journal import Journal

POLYMM = [sys.executable, "-m", "polymm.cli"]


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No POLYMM_* variables of the developer's; state (the instance locks) in a tmp dir."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("POLYMM_")}
    out["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    return out


def polymm(env: dict[str, str], cwd: Path, *argv: str) -> tuple[int, str, str]:
    r = subprocess.run([*POLYMM, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exchange_on_a_busy_port_says_so_in_one_line_and_exits_2(env, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = polymm(env, tmp_path, "exchange", "--port", str(port))
    assert code == 2 and out == ""
    assert one_line(err) == (f"polymm exchange: port {port} on 127.0.0.1 is already in use (another program "
                             f"listens there); choose another with --port")


def test_exchange_on_an_address_this_machine_lacks_names_host(env, tmp_path: Path) -> None:
    code, out, err = polymm(env, tmp_path, "exchange", "--host", "192.0.2.1", "--port", "0")  # TEST-NET-1
    assert code == 2 and out == ""
    assert one_line(err) == "polymm exchange: --host 192.0.2.1: not an address of this machine; use 127.0.0.1 or " \
                            "one it has"


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    return path


@pytest.mark.skipif(not Path("/sys").is_dir() or not Path("/dev/full").exists(), reason="Linux's /sys and /dev/full")
def test_export_pnl_to_a_file_it_cannot_write_names_the_option_the_path_and_the_cause(
    env, tmp_path: Path, journal: Path
) -> None:
    code, out, err = polymm(env, tmp_path, "export-pnl", "--journal", str(journal), "--out", "/sys/polymm.csv")
    assert code == 2 and out == ""
    assert one_line(err) == "polymm export-pnl: --out /sys/polymm.csv: permission denied"  # root too: sysfs refuses
    code, out, err = polymm(env, tmp_path, "export-pnl", "--journal", str(journal), "--out", "/dev/full")
    assert code == 2 and out == ""
    assert one_line(err) == "polymm export-pnl: --out /dev/full: no space left on the device (disk full)"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into a read-only directory")
def test_export_pnl_into_a_read_only_directory(env, tmp_path: Path, journal: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = polymm(env, tmp_path, "export-pnl", "--journal", str(journal), "--out", str(locked / "p.csv"))
    assert code == 2 and one_line(err) == f"polymm export-pnl: --out {locked / 'p.csv'}: permission denied"


def test_record_into_a_directory_it_cannot_make(env, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    code, out, err = polymm(env, tmp_path, "record", "--out", str(tmp_path / "file" / "rec"))
    assert code == 2 and out == ""
    assert one_line(err) == f"polymm record: --out {tmp_path / 'file' / 'rec'}: a part of the path is not a directory"


def test_an_operator_command_against_a_venue_that_refuses_names_it_and_the_cause(env, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, out, err = polymm(env, tmp_path, "cancel-all", "--demo", "--clob-url", url)
    assert code == 2 and out == ""  # an OS error (nothing listens there): 2, as a busy port or a full disk
    assert one_line(err) == (f"polymm cancel-all: {url}: connection refused (nothing listens there: is the venue "
                             f"or the stand-in running, and is the URL right?)")


def test_cancel_all_demo_without_a_url_refuses_with_the_advice(env, tmp_path: Path) -> None:
    code, out, err = polymm(env, tmp_path, "cancel-all", "--demo")
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith("polymm cancel-all: --clob-url: required with --demo")
    assert "--clob-url http://127.0.0.1:PORT" in line


# ---------------------------------------------------------------- the one place: cli.main
def test_an_os_error_no_command_handled_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    import polymm.commands.export_pnl as export_pnl

    def full(args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/var/tmp/x.csv")

    monkeypatch.setattr(export_pnl, "run", full)
    assert main(["export-pnl"]) == 2
    assert capsys.readouterr().err == "polymm export-pnl: /var/tmp/x.csv: no space left on the device (disk full)\n"


def test_anything_else_keeps_its_traceback(monkeypatch) -> None:
    import polymm.commands.export_pnl as export_pnl

    def bug(args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(export_pnl, "run", bug)
    with pytest.raises(KeyError):
        main(["export-pnl"])


@pytest.mark.parametrize(("raised", "line"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
     "http://h:1: connection refused (nothing listens there: is the venue or the stand-in running, and is the URL "
     "right?)"),
    (OSError(errno.EHOSTUNREACH, "No route to host"),
     "http://h:1: host unreachable (no route to it: check the URL and the network)"),
    (socket.gaierror(-2, "Name or service not known"),
     "http://h:1: cannot resolve the host name (Name or service not known): check the URL"),
])
def test_connection_errors_deep_in_a_chain_are_named(raised: OSError, line: str) -> None:
    from polymm.ops.errors import os_problem

    try:
        try:
            raise raised
        except OSError as e:
            raise RuntimeError("Request exception!") from e  # as the venue's SDK wraps them
    except RuntimeError as wrapped:
        assert os_problem(wrapped, url="http://h:1") == line
