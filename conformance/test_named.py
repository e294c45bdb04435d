"""Family: the named scenarios of the report (`<generation>/named.py`), each checked against the model."""
import pytest

from conformance import expect, generation
from conformance import named as core


@pytest.mark.parametrize("name,scenario", core.cases(generation.folder().named.NAMED))
def test_named_scenario(request, run_scenario, name, scenario):
    request.node.user_properties.append(("name", name))  # before the run: a failed or skipped row is named too
    observed = run_scenario(scenario)
    # the whole observation goes to the report; the clause's view is what is compared
    request.node.user_properties.append(("observation", observed.to_dict()))
    expect.conforms(observed, scenario, request.node.get_closest_marker("clause").args[0])
