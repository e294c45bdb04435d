"""Family: the named scenarios of the report, each checked against the model."""
import pytest

from conformance import named as core
from conformance.expect import assert_matches
from conformance.lightning_2_6.model import predict
from conformance.lightning_2_6.named import NAMED, VIEWS
from conformance.scenario import Observation, Scenario


def _compare(clause: str, observed: Observation, scenario: Scenario) -> None:
    if clause in VIEWS:
        view = VIEWS[clause]
        assert view(observed) == view(predict(scenario))
    else:
        assert_matches(observed, predict(scenario))


@pytest.mark.parametrize("name,scenario", core.cases(NAMED))
def test_named_scenario(request, run_scenario, name, scenario):
    core.check(request, run_scenario, name, scenario, _compare)
