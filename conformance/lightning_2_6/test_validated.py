"""Family: runs with a validation loop, including the end of training."""
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conformance.expect import assert_matches, conforms
from conformance.lightning_2_6 import model, strategies
from conformance.lightning_2_6.named import named, train_end
from conformance.scenario import FORCED_CALL, NEW_HOOK

VALIDATED = strategies.scenarios(validated=True)
# 2.6.6 accepts no argument of the series: these are the scenarios both can run
VALIDATED_UPSTREAM_ARGS = strategies.scenarios(validated=True, rfc=False)
ANY_TRIGGERED = st.one_of(VALIDATED, strategies.scenarios(validated=False)).filter(
    lambda s: any(c.trigger_on_train_end for c in s.checkpoints))


@pytest.mark.clause("hook-train-only")
@given(VALIDATED_UPSTREAM_ARGS)
@example(*named("in-epoch validation before on_train_epoch_end, top-2 and last"))
def test_hook_never_fires_when_validation_runs(run_scenario, scenario):
    fired = [event for event in run_scenario(scenario).trace if event[0].endswith(NEW_HOOK)]
    assert fired == []


@pytest.mark.clause("no-forced-validation-end")
@given(VALIDATED_UPSTREAM_ARGS.filter(lambda s: s.checkpoints))
@example(*named("in-epoch validation before on_train_epoch_end, top-2 and last"))
def test_on_validation_end_only_after_validation(run_scenario, scenario):
    calls = [event for event in run_scenario(scenario).trace if event[0].endswith(FORCED_CALL)]
    assert calls == [event for event in model.predict(scenario).trace if event[0].endswith(FORCED_CALL)]


@pytest.mark.clause("unchanged")
@given(strategies.unchanged_scenarios())
@example(*named("in-epoch validation before on_train_epoch_end, top-2 and last"))
@example(*named("validated every epoch, EarlyStopping on val_m"))
@example(*named("#21244: last only with a same-step save (every_n_epochs=2)"))
@example(*named("save_last='link' to the top-k file"))
@example(*named("missing key: warns before validation ran, raises after"))
@example(*named("max_steps mid-epoch still runs on_train_epoch_end"))
@example(*named("KeyboardInterrupt -> SystemExit(1), save_on_exception"))
def test_unchanged_where_validation_runs(run_scenario, scenario):
    # clause 12: here 2.6.6 and the series agree; the model says so for both
    assert model.unchanged(scenario)
    assert_matches(run_scenario(scenario), model.predict(scenario))


@pytest.mark.clause("train-end-off-by-default")
@given(st.one_of(VALIDATED_UPSTREAM_ARGS, strategies.scenarios(validated=False, rfc=False).filter(
    lambda s: not model.gaps(s))).filter(lambda s: s.checkpoints))
@example(*named("G3: every_n_train_steps=3 over 8 steps, default"))
@example(*named("G3: val_check_interval=2 of 5 batches, default"))
@example(*named("#20960: save_last applied at train end (every_n_epochs=0)"))
def test_nothing_new_saved_at_train_end_by_default(run_scenario, scenario):
    # clause 7: without the trigger, on_train_end does what 2.6.6 does (#20960's fallback included)
    assert train_end(run_scenario(scenario)) == train_end(model.predict(scenario))


@pytest.mark.clause("train-end-trigger")
@given(ANY_TRIGGERED)
@example(*named("G3: every_n_train_steps=3 over 8 steps, trigger_on_train_end"))
@example(*named("G3: val_check_interval=2 of 5 batches, trigger_on_train_end"))
@example(*named("max_steps mid-epoch, trigger_on_train_end, monitor=None"))
@example(*named("trigger_on_train_end does not save the last step twice"))
def test_train_end_checkpoint(run_scenario, scenario):
    conforms(run_scenario, scenario)


@pytest.mark.clause("train-end-missing-key")
@given(VALIDATED.filter(lambda s: s.max_steps is not None or s.stop_at_step is not None))
@example(*named("max_steps before the first validation, monitor=val_m"))
@example(*named("max_steps before the first validation, trigger_on_train_end"))
def test_training_that_ends_early(run_scenario, scenario):
    conforms(run_scenario, scenario)
