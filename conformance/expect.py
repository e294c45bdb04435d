"""Comparing what a run showed with what the active generation's model predicts."""
import difflib
import pprint

from conformance import generation
from conformance.scenario import Observation, Scenario


def assert_matches(observed: Observation, expected: Observation) -> None:
    got, want = observed.to_dict(), expected.to_dict()
    if got == want:
        return
    lines = difflib.unified_diff(
        pprint.pformat(want, width=100).splitlines(), pprint.pformat(got, width=100).splitlines(),
        fromfile="model (contract)", tofile="observed", lineterm="", n=3,
    )
    raise AssertionError("the run does not conform to the contract:\n" + "\n".join(lines))


def conforms(run_scenario, scenario: Scenario) -> None:
    """Run `scenario` with the suite's `run_scenario` fixture and compare it with the model."""
    assert_matches(run_scenario(scenario), generation.module("model").predict(scenario))
