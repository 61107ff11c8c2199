"""The layout's promises that an import graph shows at run time (the static rules are import-linter's
contracts in pyproject.toml, run by `make test`)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "statement",
    ["import polymm.backtest", "from polymm.backtest import simulate\nfrom polymm.backtest.replay import Replay"],
)
def test_the_backtest_loads_the_simulation_not_the_server(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert "polymm_standin.sim.matching" in loaded  # it does run the stand-in's matching engine
    assert not {m for m in loaded if m.startswith("polymm_standin.server")}
    assert "aiohttp.web" not in loaded


def test_the_stand_in_package_loads_neither_part() -> None:
    loaded = _loaded_after("import polymm_standin")
    assert "polymm_standin" in loaded
    assert not {m for m in loaded if m.startswith(("polymm_standin.sim", "polymm_standin.server"))}


def test_every_type_ignore_names_its_code_and_its_reason() -> None:
    """mypy runs in `make test` with zero errors; what it is told to ignore says what and why."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"#\s*type:\s*ignore(?P<code>\[[a-z, -]+\])?(?P<rest>.*)$")
    bare = []
    for path in sorted([*root.joinpath("polymm").rglob("*.py"), *root.joinpath("polymm_standin").rglob("*.py")]):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = pattern.search(line)
            if m and (m["code"] is None or not m["rest"].strip().startswith("#")):
                bare.append(f"{path.relative_to(root)}:{n}")
    assert bare == []
