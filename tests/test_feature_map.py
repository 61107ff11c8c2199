"""docs/feature-map.md stays true: every feature row of the four earlier bots names a status, each
gap says why, every test it cites exists, and the summary counts the rows as they are."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("done", "partial", "missing", "replaced")


def _sections() -> dict[str, list[list[str]]]:
    """Each bot's section (its heading) → its table rows, split into cells."""
    out: dict[str, list[list[str]]] = {}
    current = None
    for line in (ROOT / "docs" / "feature-map.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].split(" (")[0].strip()
            out[current] = []
        elif current and line.startswith("| ") and not line.startswith(("| Feature", "| Earlier bot", "|---")):
            out[current].append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return out


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_row_has_a_status_each_gap_a_reason_and_its_tests_exist() -> None:
    sections = _sections()
    bots = {k: v for k, v in sections.items() if k != "Summary"}
    assert len(bots) == 4 and all(bots.values())
    cache: dict[Path, set[str]] = {}
    for bot, rows in bots.items():
        for feature, _polymm, test, status in rows:
            kind = status.split(" ")[0]
            assert kind in STATUSES, (bot, feature, status)
            if kind != "done":  # partial, missing and replaced each say why
                assert re.match(rf"{kind} — \S", status), (bot, feature, status)
            for ref in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", test):
                path = ROOT / ref[0]
                assert path.exists(), (feature, ref)
                names = cache.setdefault(path, _test_functions(path))
                assert ref[1] in names, (feature, ref)
            if kind == "done":
                assert "tests/" in test, (bot, feature)  # a done row is shown by a test


def test_the_summary_counts_the_rows() -> None:
    sections = _sections()
    summary = {row[0].strip("*"): row[1:] for row in sections["Summary"]}
    total = Counter()
    for bot, rows in sections.items():
        if bot == "Summary":
            continue
        counts = Counter(status.split(" ")[0] for *_, status in rows)
        total += counts
        key = next(k for k in summary if k.split('"')[0].strip() in bot or bot in k)
        assert summary[key] == [*(str(counts[s]) for s in STATUSES), str(len(rows))], bot
    assert summary["Total"] == [*(str(total[s]) for s in STATUSES), str(sum(total.values()))]
