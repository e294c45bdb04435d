"""The property tests of every generation, declared as data and run by `test_families.py`.

A generation's `families.py` holds `CHECKS` (family -> check name -> `Check`) and `VIEWS`
(clause -> what a verdict of that clause compares). A check says which clause it speaks
for, which scenarios it draws, which ones it pins (a named scenario of the generation's
`named.py`, or a `Scenario`), and its verdict. The test bodies are the core's: each check
becomes one hypothesis test, and each pinned scenario one plain test, so that the
`explicit` profile (the mutants') runs exactly the pinned ones.
"""
from dataclasses import dataclass
from typing import List, Tuple, Union

import pytest
from hypothesis import strategies as st

from conformance import expect, generation
from conformance.scenario import Scenario


@dataclass(frozen=True)
class Check:
    clause: str
    scenarios: st.SearchStrategy
    pinned: Tuple[Union[str, Scenario], ...] = ()  # each a name in the generation's NAMED, or a scenario
    verdict: expect.Verdict = expect.conforms


def _checks() -> List[Tuple[str, str, Check]]:
    return [(family, name, check) for family, checks in generation.folder().families.CHECKS.items()
            for name, check in checks.items()]


def _label(pinned: Union[str, Scenario], index: int) -> Tuple[str, Scenario]:
    """A pinned scenario's test id and scenario: a named one by its name, another by its place."""
    if isinstance(pinned, str):
        return pinned, generation.folder().named.NAMED[pinned][1]
    return f"scenario {index}", pinned


def property_cases() -> list:
    """One pytest case a check: (family, check), marked with its clause."""
    return [pytest.param(family, check, marks=pytest.mark.clause(check.clause), id=f"{family}.{name}")
            for family, name, check in _checks()]


def pinned_cases() -> list:
    """One pytest case a pinned scenario of a check: (family, check, scenario), marked with its clause."""
    cases = []
    for family, name, check in _checks():
        for index, pinned in enumerate(check.pinned):
            label, scenario = _label(pinned, index)
            cases.append(pytest.param(family, check, scenario, marks=pytest.mark.clause(check.clause),
                                      id=f"{family}.{name}: {label}"))
    return cases
