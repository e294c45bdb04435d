"""tools/report.py: the clause table with a column pair per generation, without pytest or torch."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

# the report env installs only the project: importing pytest (or Lightning) there fails
WITHOUT_PYTEST = ("import runpy, sys; sys.modules['pytest'] = None; sys.modules['torch'] = None; "
                  "sys.argv = ['report'] + sys.argv[1:]; runpy.run_module('tools.report', run_name='__main__')")


def _results(target: str, version: str, clauses: dict) -> dict:
    return {"target": target, "version": version, "generation": version[:3], "scenarios": {"named:x": 2},
            "clauses": {c: {"outcome": o, "expected": e, "reason": r, "tests": {f"t::{c}": o}, "observations": {}}
                        for c, (o, e, r) in clauses.items()}}


def test_report_has_a_column_pair_per_generation(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    for target, version, clauses in [
        ("upstream", "1.3.8", {"hook-api": ("FAIL", "FAIL", "no hook")}),
        ("patched", "1.3.8", {"hook-api": ("PASS", "PASS", None)}),
        ("upstream", "2.6.6", {"resume": ("NOT-APPLICABLE", "NOT-APPLICABLE", "no trigger"),
                               "hook-api": ("PASS", "FAIL", "no hook")}),
    ]:
        (build / f"conformance-{target}-{version}.json").write_text(json.dumps(_results(target, version, clauses)))
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST, "--build", str(build)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "no results for patched 2.6.6" in proc.stderr
    report = (build / "report.md").read_text()
    assert ("| clause | what it says | upstream 1.3.8 | patched 1.3.8 | upstream 2.6.6 | patched 2.6.6 "
            "| upstream master | patched master |") in report
    row = next(line for line in report.splitlines() if line.startswith("| `hook-api` |"))
    cells = [c.strip() for c in row.split("|")[3:-1]]
    assert cells[0] == "**fails** (1 of 1 tests): no hook" and cells[1] == "passes (1 of 1 tests)"
    assert cells[2] == "passes (1 of 1 tests) (UNEXPECTED, expected FAIL)" and cells[3] == "not run"
    assert cells[4:] == ["not run", "not run"] and "no results for upstream master" in proc.stderr
    assert "not applicable (1 tests): no trigger" in report
    assert "## Lightning 1.3.8: named scenarios" in report and "## Lightning 2.6.6: hook timelines" in report
    assert "differential family" not in report  # no differential-*.json: no such section


def test_report_lists_the_declared_changes_of_the_differential_family(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "conformance-patched-2.6.6.json").write_text(json.dumps(_results("patched", "2.6.6", {})))
    data = _results("patched", "2.6.6", {"differential": ("PASS", "PASS", None)})
    data["differential"] = {"scenarios": 750, "declared:hook": 0, "exercised:hook": 300, "alone:hook": 280,
                            "declared:never": 0}
    (build / "differential-2.6.6.json").write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST, "--build", str(build)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = (build / "report.md").read_text()
    assert "## Lightning 2.6.6: upstream against patched (differential family)" in report
    assert "750 differential scenarios, each run on both trees; outcome PASS." in report
    assert "| `hook` | 300 | 280 |" in report and "| `never` | 0 | 0 |" in report


def test_report_without_results_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST, "--build", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("report: error: no conformance results")
    assert "Traceback" not in proc.stderr
