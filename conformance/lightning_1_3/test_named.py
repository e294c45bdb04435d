"""Family: the named scenarios of the report, each checked against the model."""
import pytest

from conformance.expect import assert_matches
from conformance.lightning_1_3.model import dispatched, predict
from conformance.lightning_1_3.named import NAMED

CASES = [pytest.param(name, scenario, marks=pytest.mark.clause(clause), id=name)
         for name, (clause, scenario) in NAMED.items()]


@pytest.mark.parametrize("name,scenario", CASES)
def test_named_scenario(request, run_scenario, name, scenario):
    observed = run_scenario(scenario)
    request.node.user_properties += [("name", name), ("observation", observed.to_dict())]
    clause = request.node.get_closest_marker("clause").args[0]
    if clause == "unchanged":
        observed, expected = dispatched(observed), dispatched(predict(scenario))
    else:
        expected = predict(scenario)
    assert_matches(observed, expected)
