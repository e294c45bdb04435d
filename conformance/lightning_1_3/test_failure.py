"""Family: runs that fail, are interrupted, stop early, or resume."""
import pytest
from hypothesis import example, given

from conformance.lightning_1_3 import strategies
from conformance.expect import conforms
from conformance.lightning_1_3.named import named


@pytest.mark.clause("train-end-not-after-failure")
@given(strategies.failing_scenarios())
@example(*named("exception in training_step, trigger_on_train_end"))
@example(*named("KeyboardInterrupt in training_step, trigger_on_train_end"))
def test_failures_end_fit_without_a_train_end_save(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("resume")
@given(strategies.resumed_scenarios())
@example(*named("resume from the train-end last.ckpt"))
def test_resume_from_last_checkpoint(run_scenario, scenario):
    conforms(run_scenario, scenario)
