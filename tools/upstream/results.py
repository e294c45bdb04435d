"""Read the JSON lines of tools.upstream.plugin into one Outcome per test id.

Test ids are pytest node ids made relative to the Lightning tree's root (the plugin's ids are
relative to pytest's rootdir, which for 2.6 may lie below the tree), so they match the paths
in the patches: `tests/tests_pytorch/trainer/test_trainer.py::test_x[1]`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PASSED, FAILED, SKIPPED, XFAILED, XPASSED = "passed", "failed", "skipped", "xfailed", "xpassed"
OUTCOMES = (PASSED, FAILED, SKIPPED, XFAILED, XPASSED)


class ResultsError(Exception):
    """A results file that is missing or malformed (one line)."""


@dataclass(frozen=True)
class Outcome:
    status: str            # one of OUTCOMES
    when: str = "call"     # setup | call | teardown | collect | ???
    exc_type: str = ""
    message: str = ""      # first line of the exception message, or the skip reason

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def passed(self) -> bool:
        return self.status in (PASSED, XFAILED)   # an expected failure is a pass of the suite

    def describe(self) -> str:
        what = ": ".join(x for x in (self.exc_type, self.message) if x)
        return f"{self.status} in {self.when}" + (f" ({what})" if what else "")


Results = dict[str, Outcome]


def read_results(path: Path, tree: Optional[Path] = None) -> Results:
    """Outcomes per test id from a plugin file. `tree`: rebase ids onto this root."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResultsError(f"cannot read test results {path}: {exc}") from None
    if not lines:
        raise ResultsError(f"{path} is empty: pytest did not start the plugin")
    header = _load(path, 1, lines[0])
    if "rootdir" not in header:
        raise ResultsError(f"{path}:1: expected the {{\"rootdir\": ...}} header")
    prefix = _prefix(Path(header["rootdir"]), tree)
    results: Results = {}
    for num, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        rec = _load(path, num, line)
        try:
            nodeid, status = rec["nodeid"], rec["outcome"]
        except KeyError as exc:
            raise ResultsError(f"{path}:{num}: no {exc.args[0]!r}") from None
        if status not in OUTCOMES:
            raise ResultsError(f"{path}:{num}: unknown outcome {status!r}")
        outcome = Outcome(status, rec.get("when", "call"), rec.get("exc_type", ""),
                          rec.get("message", ""))
        nid = prefix + nodeid if prefix and nodeid else nodeid
        prev = results.get(nid)
        if prev is None or (outcome.failed and not prev.failed):  # a failure is never overwritten
            results[nid] = outcome
    return results


def read_ids(path: Path, tree: Optional[Path] = None) -> list[str]:
    """The test ids of a plugin's --upstream-runnable file, rebased onto `tree` like results."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResultsError(f"cannot read collected tests {path}: {exc}") from None
    if not lines or "rootdir" not in _load(path, 1, lines[0]):
        raise ResultsError(f"{path}:1: expected the {{\"rootdir\": ...}} header")
    prefix = _prefix(Path(_load(path, 1, lines[0])["rootdir"]), tree)
    ids = []
    for num, line in enumerate(lines[1:], 2):
        nodeid = _load(path, num, line).get("nodeid") if line.strip() else None
        if nodeid:
            ids.append(prefix + nodeid)
    return ids


def _load(path: Path, num: int, line: str) -> dict:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{num}: not JSON: {exc}") from None
    if not isinstance(rec, dict):
        raise ResultsError(f"{path}:{num}: expected an object")
    return rec


def _prefix(rootdir: Path, tree: Optional[Path]) -> str:
    if tree is None:
        return ""
    try:
        rel = Path(os.path.relpath(rootdir.resolve(), tree.resolve()))
    except ValueError:
        return ""
    if rel == Path(".") or rel.parts[:1] == ("..",):
        return ""
    return rel.as_posix() + "/"


def passing(results: Results) -> int:
    """How many tests passed."""
    return sum(o.passed for o in results.values())


def counts(results: Results) -> str:
    """'637 passed, 12 failed, 30 skipped' (only the outcomes that occur)."""
    tally: dict[str, int] = {}
    for o in results.values():
        tally[o.status] = tally.get(o.status, 0) + 1
    return ", ".join(f"{tally[s]} {s}" for s in OUTCOMES if s in tally) or "no tests"


def file_of(nid: str) -> str:
    return nid.split("::", 1)[0]


def key_of(nid: str) -> str:
    """The test function of a node id, without its parametrisation: file::[Class::]function."""
    return nid.split("[", 1)[0]


def short_of(nid: str) -> str:
    """The name a description uses: `function[params]` (or `Class::function[params]`)."""
    return nid.split("::", 1)[1] if "::" in nid else nid
