"""tools/report.py: the clause table with a column pair per generation, without pytest or torch."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from conformance.lightning_1_3 import named as NAMED_1_3
from tools import report

MERMAID = REPO / "tools" / "mermaid"  # Mermaid's own parser, pinned by its package-lock.json

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


def test_summary_appends_the_clause_table_to_the_job_summary(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "conformance-patched-1.3.8.json").write_text(
        json.dumps(_results("patched", "1.3.8", {"hook-api": ("PASS", "PASS", None)})))
    summary = tmp_path / "step-summary.md"
    summary.write_text("an earlier step's summary\n")  # GitHub's file holds the job's other steps
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST, "--build", str(build), "--summary", str(summary)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    assert text.startswith("an earlier step's summary\n# RFC 6672 conformance report\n")
    assert "| `hook-api` |" in text and "passes (1 of 1 tests)" in text
    # the head and the clause table only: the timelines stay in build/report.md
    assert "hook timelines" not in text and "hook timelines" in (build / "report.md").read_text()

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


def _observation(trace: list, raised: str = "") -> dict:
    return {"trace": trace, "raised": raised, "files": {}, "final_epoch": 1, "final_step": 4, "warnings": []}


def _timeline_results() -> dict:
    """Upstream and patched 1.3.8 results whose first timeline differs: patched calls the new hook,
    upstream raises with a message that holds Mermaid's special characters."""
    name = NAMED_1_3.TIMELINES[0]
    clause = NAMED_1_3.NAMED[name][0]
    common = [["on_train_epoch_start", 0, 0], ["on_train_epoch_end", 0, 2]]
    observations = {
        "upstream": _observation(common + [["on_train_end", 1, 4]], raised="ValueError('a; b #1')"),
        "patched": _observation(common + [["on_train_epoch_without_validation_end", 0, 2],
                                          ["on_save_checkpoint", 0, 2], ["on_train_end", 1, 4]]),
    }
    return {("1.3.8", target): {
        "clauses": {clause: {"outcome": "PASS", "expected": "PASS", "tests": {"t::x[a row]": "PASS"},
                             "named": {name: "PASS"}, "observations": {name: observation}}},
        "scenarios": {}} for target, observation in observations.items()}


def test_timelines_are_mermaid_sequence_diagrams_with_the_differences_boxed() -> None:
    diagrams = report.diagrams(report.render(_timeline_results()))
    # one per timeline of 1.3.8; those without results say "(not run)" on both sides
    assert len(diagrams) == len(NAMED_1_3.TIMELINES) and "Note over L,R: (not run)" in diagrams[1]
    lines = diagrams[0].splitlines()
    assert lines[:3] == ["sequenceDiagram", "    participant L as upstream 1.3.8", "    participant R as patched 1.3.8"]
    # shared events span both lifelines; each run of differing events is one box, each event on its side
    assert lines[3:] == [
        "    Note over L,R: on_train_epoch_start (epoch 0, step 0)",
        "    Note over L,R: on_train_epoch_end (epoch 0, step 2)",
        f"    rect {report.DIFFERS}",
        "    Note over R: on_train_epoch_without_validation_end (epoch 0, step 2)",
        "    Note over R: on_save_checkpoint (epoch 0, step 2)",
        "    end",
        "    Note over L,R: on_train_end (epoch 1, step 4)",
        f"    rect {report.DIFFERS}",
        "    Note over L: fit raises ValueError('a#59; b #35;1')",
        "    end",
    ]


@pytest.fixture(scope="module")
def mermaid_parse():
    """Parse diagrams with Mermaid's own parser (Node + jsdom, `npm ci` in tools/mermaid when its
    install is missing or older than the lock). Skipped where node or npm is absent, unless
    MERMAID_REQUIRED=1 (the tox envs set it), where that fails."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        reason = "node and npm are needed to run Mermaid's parser (tools/mermaid)"
        if os.environ.get("MERMAID_REQUIRED") == "1":
            pytest.fail(f"{reason}; MERMAID_REQUIRED=1")
        pytest.skip(reason)
    installed = MERMAID / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (MERMAID / "package-lock.json").stat().st_mtime:
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=MERMAID, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"npm ci in tools/mermaid failed:\n{proc.stderr[-2000:]}"

    def parse(texts: list) -> list:
        proc = subprocess.run([node, "parse.mjs"], cwd=MERMAID, input=json.dumps(texts), capture_output=True,
                              text=True, timeout=300)
        parsed = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(parsed) == len(texts), proc.stderr[-2000:]
        return parsed

    return parse


def test_every_diagram_of_the_report_parses_with_mermaid(mermaid_parse) -> None:
    results = _timeline_results()
    diagrams = report.diagrams(report.render(results))
    assert diagrams
    assert mermaid_parse(diagrams) == [{"type": "sequence"}] * len(diagrams)
    # the parser does check: an unclosed box, and an event whose `;` is not escaped, are errors
    broken = [diagrams[0].replace("    end\n", "").rstrip("\n").removesuffix("    end"),
              "sequenceDiagram\n    participant L\n    Note over L: a; b ->> c"]
    assert all("error" in outcome for outcome in mermaid_parse(broken)), broken


def test_upstream_releases_of_a_generation_get_a_table_release_by_release() -> None:
    name, other = list(NAMED_1_3.NAMED)[:2]
    clause, other_clause = NAMED_1_3.NAMED[name][0], NAMED_1_3.NAMED[other][0]

    def upstream(release: str, outcome: str, expected: str) -> dict:
        entry = {"outcome": outcome, "expected": expected, "tests": {"t::a": outcome}, "named": {name: outcome}}
        return {"clauses": {clause: entry}, "scenarios": {}}

    results = {(r, "upstream"): upstream(r, o, e) for r, o, e in
               [("1.3.0", "FAIL", "FAIL"), ("1.3.4", "PASS", "FAIL"), ("1.3.8", "PASS", "PASS")]}
    lines = report.render(results).splitlines()
    assert "## Upstream Lightning 1.3.0 to 1.3.8, release by release" in lines
    assert f"| `{clause}` | **fails** | passes (UNEXPECTED) | passes | 1.3.4 |" in lines
    # a named scenario by its name in the JSON; one with no run is "not run", and never changes
    assert f"| {name} | **fails** | passes | passes | 1.3.4 |" in lines
    if other_clause != clause:
        assert f"| `{other_clause}` | no test | no test | no test | - |" in lines
    assert f"| {other} | not run | not run | not run | - |" in lines
    # the report's own releases alone make no such table
    assert "release by release" not in report.render({("1.3.8", "upstream"): results[("1.3.8", "upstream")]})
