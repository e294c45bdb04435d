"""conformance/outcomes.py: per-test expectations (web-platform-tests style), without torch."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional, Union

import pytest

from conformance import outcomes
from conformance.scenario import Checkpoint, NotApplicable, Scenario, refuse_values_not_taken, takes

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


def test_a_named_test_may_have_an_outcome_of_its_own(tmp_path: Path) -> None:
    text = "[c]\nexpected = FAIL\nreason = gap\ntests =\n    t_a\n    NOT-APPLICABLE: t_b\n"
    expected = _expected(tmp_path, text)
    assert outcomes.unexpected(_results(t_a="FAIL", t_b="NOT-APPLICABLE", t_c="PASS"), expected) == []
    found = outcomes.unexpected(_results(t_a="FAIL", t_b="FAIL", t_c="PASS"), expected)
    assert found[0].lines()[1:] == ["    FAIL (expected NOT-APPLICABLE): conformance/test_x.py::t_b"]


def test_the_tests_lines_of_a_run_pin_it(tmp_path: Path, capsys) -> None:
    # `python -m conformance.outcomes --tests JSON` writes the lines that make this very run expected
    run = {"c": {"outcome": "FAIL", "tests": {"conformance/test_x.py::t_a": "FAIL",
                                               "conformance/test_x.py::t_b": "NOT-APPLICABLE",
                                               "conformance/test_x.py::t_c": "PASS"}},
           "d": {"outcome": "PASS", "tests": {"conformance/test_x.py::t_d": "PASS"}}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"clauses": run}))
    assert outcomes.main(["--tests", str(path)]) == 0
    block = capsys.readouterr().out
    assert block.startswith("[c]\ntests =\n") and "[d]" not in block
    expected = _expected(tmp_path, block.replace("tests =", "expected = FAIL\nreason = gap\ntests =", 1))
    results = {"c": outcomes.ClauseResult(run["c"]["tests"])}
    assert outcomes.unexpected(results, expected) == []
    results["c"].tests["conformance/test_x.py::t_c"] = "FAIL"
    assert [u.clause for u in outcomes.unexpected(results, expected)] == ["c"]
    assert outcomes.main(["--tests", str(path), "e"]) == 2


# --- what a release lacks, read from its API (conformance.scenario.takes) --------------------------

class _Release20:
    """A ModelCheckpoint as 2.0.x has it: `save_last` is a bool, no `save_on_exception`."""

    def __init__(self, dirpath: Optional[str] = None, save_last: Optional[bool] = None) -> None:
        pass


class _Release25:
    """As 2.5.x has it: `save_last` also takes "link", and `save_on_exception` exists."""

    def __init__(self, dirpath: Optional[str] = None, save_last: Optional[Union[bool, Literal["link"]]] = None,
                 save_on_exception: bool = False) -> None:
        pass


def test_a_release_takes_what_its_signature_names() -> None:
    assert takes(_Release25, "save_last", "link") and not takes(_Release20, "save_last", "link")
    assert all(takes(_Release20, "save_last", value) for value in (None, True, False))
    assert takes(_Release25, "save_on_exception") and not takes(_Release20, "save_on_exception")


def test_a_save_last_value_the_release_does_not_take_is_not_applicable() -> None:
    linked = Scenario(checkpoints=(Checkpoint(save_last=True), Checkpoint(save_last="link")))
    refuse_values_not_taken(linked, _Release25)
    with pytest.raises(NotApplicable, match="save_last='link'"):
        refuse_values_not_taken(linked, _Release20)
    refuse_values_not_taken(Scenario(checkpoints=(Checkpoint(save_last=True),)), _Release20)
