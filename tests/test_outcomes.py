"""conformance/outcomes.py: per-test expectations (web-platform-tests style), without torch."""
from __future__ import annotations

from pathlib import Path

from conformance import outcomes

CLAUSES = {"c": "a clause", "d": "another"}


def _expected(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "upstream.ini"
    path.write_text(text)
    return outcomes.load(path, CLAUSES)


def _results(**tests: str) -> dict:
    return {"c": outcomes.ClauseResult({f"conformance/test_x.py::{name}": o for name, o in tests.items()})}


def test_a_named_expected_failure_is_expected(tmp_path: Path) -> None:
    expected = _expected(tmp_path, "[c]\nexpected = FAIL\nreason = gap\ntests =\n    t_a\n")
    assert outcomes.unexpected(_results(t_a="FAIL", t_b="PASS"), expected) == []


def test_a_new_failure_beside_an_expected_one_is_reported(tmp_path: Path) -> None:
    expected = _expected(tmp_path, "[c]\nexpected = FAIL\nreason = gap\ntests =\n    t_a\n")
    found = outcomes.unexpected(_results(t_a="FAIL", t_b="FAIL"), expected)
    assert [u.clause for u in found] == ["c"]
    assert found[0].lines()[1:] == ["    FAIL (expected PASS): conformance/test_x.py::t_b"]
    # without `tests`, the clause's FAIL hides the new failure (the old, per-clause behaviour)
    clause_level = _expected(tmp_path, "[c]\nexpected = FAIL\nreason = gap\n")
    assert outcomes.unexpected(_results(t_a="FAIL", t_b="FAIL"), clause_level) == []


def test_a_named_test_that_passes_is_reported(tmp_path: Path) -> None:
    expected = _expected(tmp_path, "[c]\nexpected = FAIL\nreason = gap\ntests =\n    t_a\n")
    found = outcomes.unexpected(_results(t_a="PASS", t_b="PASS"), expected)
    assert found and "PASS (expected FAIL): conformance/test_x.py::t_a" in found[0].lines()[1]
