"""The wheel ships app.tcss and the stand-in; a non-editable install finds and parses the stylesheet."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: hatchling comes from the dev extras, so this works offline and fast
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (whl,) = out.glob("polymm-*.whl")
    return whl


def test_wheel_contains_the_stylesheet(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "polymm/app.tcss" in names
        assert z.read("polymm/app.tcss") == (ROOT / "app.tcss").read_bytes()
        assert "polymm/tui/app.py" in names
        # the stand-in ships in the same wheel (`polymm exchange`, the demo)
        assert {"polymm_standin/server/standin.py", "polymm_standin/sim/matching.py"} <= set(names)


def test_installed_app_finds_and_parses_its_stylesheet(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )
    probe = (
        "import polymm, polymm.tui.app as a\n"
        "from textual.css.stylesheet import Stylesheet\n"
        "p = a.stylesheet_path()\n"
        "s = Stylesheet(variables=a.PolymmApp.__mro__[1]().get_css_variables()); s.read(p); s.parse()\n"
        "print(polymm.__file__); print(p); print(len(s.rules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    # run outside the repository so the source tree cannot be picked up by accident
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    module_file, css, rules = r.stdout.split()
    assert Path(module_file).is_relative_to(site), "imported the source tree, not the installed wheel"
    assert Path(css).is_relative_to(site) and Path(css).name == "app.tcss"
    assert int(rules) > 5
