"""Judging what a run showed against what the active generation's model predicts.

A *verdict* takes the observation, the scenario and the clause the test checks, and raises
AssertionError if the run breaks the contract. `conforms` is the usual one: the observation
equals the model's prediction, seen through the clause's view where the generation's
`families.VIEWS` names one (a clause about `on_train_end`, say, looks only at what happened
from it on). The other verdicts here check a fact without the model.
"""
import difflib
import pprint
from typing import Any, Callable

from conformance import generation
from conformance.scenario import FORCED_CALL, NEW_HOOK, Observation, Scenario

Verdict = Callable[[Observation, Scenario, str], None]


def _plain(value: Any) -> Any:
    """An observation (or a view of one) as plain data, for comparing and printing."""
    if isinstance(value, Observation):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def assert_matches(observed: Any, expected: Any) -> None:
    """`observed == expected` (observations or views of them), with a diff of the two if not."""
    got, want = _plain(observed), _plain(expected)
    if got == want:
        return
    lines = difflib.unified_diff(
        pprint.pformat(want, width=100).splitlines(), pprint.pformat(got, width=100).splitlines(),
        fromfile="model (contract)", tofile="observed", lineterm="", n=3,
    )
    raise AssertionError("the run does not conform to the contract:\n" + "\n".join(lines))


def view(clause: str) -> Callable[[Observation], Any]:
    """What the clause looks at: the generation's view of it, or the whole observation."""
    return generation.folder().families.VIEWS.get(clause, lambda observation: observation)


def conforms(observed: Observation, scenario: Scenario, clause: str) -> None:
    """The run is what the model predicts, in the clause's view."""
    look = view(clause)
    assert_matches(look(observed), look(generation.folder().model.predict(scenario)))


def hook_never_fires(observed: Observation, scenario: Scenario, clause: str) -> None:
    """The new hook is not in the trace (no model needed: it must never fire here)."""
    assert [event for event in observed.trace if event[0].endswith(NEW_HOOK)] == []


def forced_calls_as_predicted(observed: Observation, scenario: Scenario, clause: str) -> None:
    """The direct calls of `ModelCheckpoint.on_validation_end` are the model's, nothing else compared."""
    def calls(observation: Observation) -> list:
        return [event for event in observation.trace if event[0].endswith(FORCED_CALL)]

    assert calls(observed) == calls(generation.folder().model.predict(scenario))


def unchanged(observed: Observation, scenario: Scenario, clause: str) -> None:
    """Where upstream and patched must agree (the clause's domain, `clauses.unchanged`), the run is the model's."""
    assert generation.folder().clauses.unchanged(scenario), "not a scenario where upstream must agree"
    conforms(observed, scenario, clause)
