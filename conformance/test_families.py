"""The property tests of the active generation's families (`<generation>/families.py`).

Each check is one hypothesis test, `test_property[<family>.<check>]`, and each scenario it pins
one plain test, `test_pinned[<family>.<check>: <name>]`. Hypothesis gives every parametrized
case a seed of its own (from its node id), so the ci profile's derandomized runs draw
different scenarios for different checks.
"""
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from conformance import families


@pytest.mark.skipif(Phase.generate not in settings().phases, reason="the profile runs only the pinned scenarios")
@pytest.mark.parametrize("family,check", families.property_cases())
@given(data=st.data())
def test_property(run_scenario, family, check, data):
    scenario = data.draw(check.scenarios, label="scenario")
    check.verdict(run_scenario(scenario), scenario, check.clause)


@pytest.mark.parametrize("family,check,scenario", families.pinned_cases())
def test_pinned(run_scenario, family, check, scenario):
    check.verdict(run_scenario(scenario), scenario, check.clause)
