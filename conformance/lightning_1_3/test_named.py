"""Family: the named scenarios of the report, each checked against the model."""
import pytest

from conformance import named as core
from conformance.expect import assert_matches
from conformance.lightning_1_3.model import dispatched, predict
from conformance.lightning_1_3.named import NAMED
from conformance.scenario import Observation, Scenario


def _compare(clause: str, observed: Observation, scenario: Scenario) -> None:
    if clause == "unchanged":
        observed, expected = dispatched(observed), dispatched(predict(scenario))
    else:
        expected = predict(scenario)
    assert_matches(observed, expected)


@pytest.mark.parametrize("name,scenario", core.cases(NAMED))
def test_named_scenario(request, run_scenario, name, scenario):
    core.check(request, run_scenario, name, scenario, _compare)
