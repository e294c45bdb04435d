"""Expected outcomes per clause and target, in the manner of web-platform-tests metadata.

Tests report their real outcome. At the end of the run the outcome of each clause is
compared with `expectations/<release>/<target>.ini`, and every unexpected one is listed
(the "unexpected results" summary); the run fails on any of them, and only on them.

- A test's outcome is PASS, FAIL, or NOT-APPLICABLE (it built a scenario the target rejects
  at construction, e.g. an argument upstream does not have).
- A clause's outcome: FAIL if any of its tests failed; else PASS if any passed; else
  NOT-APPLICABLE. A clause none of whose tests ran (`-k`, an explicit profile) is not judged.
- A file lists the clauses whose expected outcome is not PASS, each with a `reason`, and may
  name the tests that have it (`tests`, one a line: the end of a node id, e.g.
  `test_property[train-only.checkpoints_in_epochs_without_validation]`). Then those tests are
  expected to have it and every other test of the clause to PASS, test by test: a new failure
  of another test in a clause expected to FAIL is reported, not hidden by the clause. A line
  `NOT-APPLICABLE: <test>` (or `FAIL: <test>`) gives that test an outcome of its own; the lines
  are written from a run's JSON by `python -m conformance.outcomes --tests JSON CLAUSE...`.
- `expectations/versions.map` shares one release's files with others, in the format of
  `patches/versions.map` (`1.3.4 upstream = 1.3.8`); a target without a file is an error.
"""
from __future__ import annotations

import configparser
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tools.patchset.series import normalize_version, parse_aliases

ROOT = Path(__file__).parent / "expectations"
MAP = ROOT / "versions.map"
PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "NOT-APPLICABLE"
TARGETS = ("upstream", "patched")
OUTCOMES = (PASS, FAIL, NOT_APPLICABLE)


def skip_not_applicable(exc: Exception) -> None:
    """End the running test as NOT-APPLICABLE: a skip that carries the outcome as an attribute
    (`outcome`), which the suite's report hook records as a property of the test's report (no
    reason text is parsed); the reason says why for the reader."""
    import pytest  # not at module level: tools.report reads the expectations without pytest
    skip = pytest.skip.Exception(f"not applicable: {exc}")
    skip.outcome = NOT_APPLICABLE
    raise skip


class ExpectationError(Exception):
    """A missing or malformed expectation file; reported as a usage error."""


@dataclass
class ClauseResult:
    tests: Dict[str, str] = field(default_factory=dict)  # nodeid -> PASS / FAIL / NOT-APPLICABLE

    @property
    def outcome(self) -> str:
        counts = Counter(self.tests.values())
        return FAIL if counts[FAIL] else PASS if counts[PASS] else NOT_APPLICABLE


@dataclass(frozen=True)
class Unexpected:
    clause: str
    expected: str
    got: str
    tests: tuple  # (nodeid, outcome) of the tests behind it
    per_test: bool = False  # the tests are those whose own outcome is unexpected

    def lines(self) -> List[str]:
        shown = [f"    {outcome}: {nodeid}" for nodeid, outcome in self.tests if self.per_test or outcome == self.got]
        return [f"{self.clause}: expected {self.expected}, got {self.got}", *shown[:5]] + \
            ([f"    ... and {len(shown) - 5} more"] if len(shown) > 5 else [])


def path_for(release: str, target: str, root: Path = ROOT) -> Path:
    """The expectation file of (release, target), through versions.map; error if there is none."""
    version = normalize_version(release)
    mapped = root / "versions.map"
    if mapped.is_file():
        aliases, errors = parse_aliases(mapped.read_text(encoding="utf-8"), TARGETS)
        if errors:
            raise ExpectationError(f"{mapped}: {errors[0]}")
        alias = aliases.get((version, target))
        if alias:
            version = alias.target
    path = root / version / f"{target}.ini"
    if not path.is_file():
        raise ExpectationError(f"no expectation file for {target} on Lightning {release}: {path} "
                               f"(add it, or a line '{version} {target} = <release>' to {mapped})")
    return path


def load(path: Path, clauses: Dict[str, str]) -> Dict[str, tuple]:
    """clause -> (expected outcome, reason) for the clauses a file lists."""
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    unknown = sorted(set(parser.sections()) - set(clauses))
    if unknown:
        raise ExpectationError(f"{path}: unknown clauses {unknown}")
    expected = {}
    for clause in parser.sections():
        outcome = parser[clause].get("expected", "").upper()
        if outcome not in OUTCOMES:
            raise ExpectationError(f"{path}: [{clause}] needs expected = {' or '.join(OUTCOMES)}")
        reason = parser[clause].get("reason", "").strip()
        if outcome != PASS and not reason:
            raise ExpectationError(f"{path}: [{clause}] expected {outcome} needs a reason")
        tests = tuple(t.strip() for t in parser[clause].get("tests", "").splitlines() if t.strip())
        expected[clause] = (outcome, reason, tests)
    return expected


def unexpected(results: Dict[str, ClauseResult], expected: Dict[str, tuple]) -> List[Unexpected]:
    """Every clause whose outcome is not the expected one (unlisted clauses expect PASS); where the
    file names the tests of a clause, every test whose outcome is not its own expected one."""
    found = []
    for clause, result in sorted(results.items()):
        want = expected_of(expected, clause)
        named = expected.get(clause, (PASS, "", ()))[2]
        if named:
            wrong = tuple((nodeid, f"{outcome} (expected {test_expected(nodeid, want, named)})")
                          for nodeid, outcome in sorted(result.tests.items())
                          if outcome != test_expected(nodeid, want, named))
            if wrong:
                found.append(Unexpected(clause, f"{want} in the named tests, PASS in the others", result.outcome,
                                        wrong, per_test=True))
        elif result.outcome != want:
            found.append(Unexpected(clause, want, result.outcome, tuple(sorted(result.tests.items()))))
    return found


def test_expected(nodeid: str, want: str, named: tuple) -> str:
    """A test's expected outcome: where the file names it, the outcome its line starts with
    (`NOT-APPLICABLE: <test>`) or else the clause's; PASS for a test the file does not name."""
    for entry in named:
        outcome, name = split_named(entry, want)
        if nodeid.endswith(name):
            return outcome
    return PASS


def split_named(entry: str, want: str) -> Tuple[str, str]:
    """(outcome, test) of a `tests =` line: `<OUTCOME>: <test>`, or `<test>` for the clause's outcome."""
    head, sep, rest = entry.partition(": ")
    return (head, rest) if sep and head in OUTCOMES else (want, entry)


def expected_of(expected: Dict[str, tuple], clause: str) -> str:
    """The outcome a clause is expected to have: the file's, or PASS where the file does not list it."""
    return expected.get(clause, (PASS, "", ()))[0]


def reason_of(expected: Dict[str, tuple], clause: str) -> Optional[str]:
    return expected.get(clause, (PASS, None, ()))[1]


def tests_lines(clause: dict) -> List[str]:
    """The `tests =` lines that pin a clause of a run (its JSON entry) test by test: each test that did
    not pass, prefixed with its outcome where that is not the clause's."""
    return [nodeid if outcome == clause["outcome"] else f"{outcome}: {nodeid}"
            for nodeid, outcome in sorted(clause["tests"].items()) if outcome != PASS]


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    import json
    import sys

    ap = argparse.ArgumentParser(prog="python -m conformance.outcomes",
                                 description="Print the `tests =` blocks of an expectation file from a run's JSON.")
    ap.add_argument("--tests", metavar="JSON", required=True, type=Path, help="a run's --conformance-json file")
    ap.add_argument("clauses", nargs="*", help="the clauses (default: every clause that did not pass)")
    args = ap.parse_args(argv)
    try:
        clauses = json.loads(args.tests.read_text(encoding="utf-8"))["clauses"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.tests} is not a conformance JSON file: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.clauses) - set(clauses))
    if unknown:
        print(f"error: not in {args.tests}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in args.clauses or sorted(c for c, entry in clauses.items() if entry["outcome"] != PASS):
        print(f"[{name}]\ntests =\n" + "".join(f"    {line}\n" for line in tests_lines(clauses[name])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
