"""Family: runs with a validation loop, including the end of training."""
import pytest
from hypothesis import example, given

from conformance.lightning_1_3 import strategies
from conformance.expect import assert_matches, conforms
from conformance.lightning_1_3.model import dispatched, predict
from conformance.lightning_1_3.named import named
from conformance.scenario import FORCED_CALL, NEW_HOOK

VALIDATED = strategies.scenarios(validated=True)
# upstream Lightning accepts no RFC argument: these are the scenarios both can run
VALIDATED_UPSTREAM_ARGS = strategies.scenarios(validated=True, rfc=False)


@pytest.mark.clause("hook-not-validated")
@given(VALIDATED_UPSTREAM_ARGS)
@example(*named("validated every epoch, top-2 and last"))
def test_hook_never_fires_when_validation_runs(run_scenario, scenario):
    fired = [event for event in run_scenario(scenario).trace if event[0].endswith(NEW_HOOK)]
    assert fired == []


@pytest.mark.clause("no-forced-validation-end")
@given(VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints))
@example(*named("validated every epoch, top-2 and last"))
def test_on_validation_end_only_after_validation(run_scenario, scenario):
    calls = [event for event in run_scenario(scenario).trace if event[0].endswith(FORCED_CALL)]
    assert calls == [event for event in predict(scenario).trace if event[0].endswith(FORCED_CALL)]


@pytest.mark.clause("unchanged")
@given(strategies.unchanged_scenarios())
@example(*named("validated every epoch, top-2 and last"))
@example(*named("validated every epoch, EarlyStopping on val_m"))
def test_unchanged_where_validation_runs_every_epoch(run_scenario, scenario):
    # clause 7: here upstream and patched agree; the model says so for both
    assert_matches(dispatched(run_scenario(scenario)), dispatched(predict(scenario)))


@pytest.mark.clause("train-end-off-by-default")
@given(VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints))
@example(*named("train end after a misaligned val_check_interval, default"))
def test_nothing_saved_at_train_end_by_default(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("train-end-trigger")
@given(VALIDATED.filter(lambda s: any(c.trigger_on_train_end for c in s.checkpoints)))
@example(*named("train end after a misaligned val_check_interval, trigger_on_train_end"))
@example(*named("max_steps mid-epoch, trigger_on_train_end, monitor=None"))
@example(*named("trigger_on_train_end does not save the last step twice"))
def test_train_end_checkpoint(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("train-end-missing-key")
@given(VALIDATED.filter(lambda s: s.max_steps is not None or s.stop_at_step is not None))
@example(*named("max_steps before the first validation, monitor=val_m"))
@example(*named("max_steps before the first validation, trigger_on_train_end"))
@example(*named("should_stop in an epoch without validation eligibility, trigger_on_train_end"))
def test_training_that_ends_early(run_scenario, scenario):
    conforms(run_scenario, scenario)
