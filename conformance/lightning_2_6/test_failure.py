"""Family: runs that fail, are interrupted, resume, or train nothing."""
import pytest
from hypothesis import example, given

from conformance.expect import conforms
from conformance.lightning_2_6 import strategies
from conformance.lightning_2_6.named import named
from conformance.scenario import TRAIN_METRIC, Checkpoint, Scenario


@pytest.mark.clause("train-end-not-after-failure")
@given(strategies.failing_scenarios())
@example(*named("exception in training_step, trigger_on_train_end"))
@example(*named("KeyboardInterrupt -> SystemExit(1), save_on_exception and trigger_on_train_end"))
def test_failures_end_fit_without_a_train_end_save(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("resume")
@given(strategies.resumed_scenarios())
@example(*named("resume from the train-end last.ckpt"))
@example(*named("resume from the train-end last.ckpt with more max_steps"))
def test_resume_from_last_checkpoint(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("train-end-trigger")
@given(strategies.nothing_trained())
@example(Scenario(max_epochs=0, checkpoints=(Checkpoint(save_last=True, trigger_on_train_end=True),)))
@example(Scenario(max_steps=0, limit_val_batches=0,
                  checkpoints=(Checkpoint(monitor=TRAIN_METRIC, trigger_on_train_end=True),)))
def test_fits_that_train_nothing_save_nothing(run_scenario, scenario):
    conforms(run_scenario, scenario)
